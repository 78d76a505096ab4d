"""`rlgpt models`: the offline model, configured providers, aliases and the stored default."""

from __future__ import annotations

import os
from typing import Optional

import typer

from rlgpt_cli.commands import state
from rlgpt_cli.errors import NotFound, UsageError, nearest
from rlgpt_cli.output import columns, console, emit
from rlgpt_cli.settings import (
    MODELS_FILE,
    OFFLINE_MODEL,
    PROVIDERS,
    check_alias_name,
    check_model_name,
    read_models,
    write_models,
)

models_app = typer.Typer(
    help="Models: the offline model, providers with keys set, aliases, the default.", no_args_is_help=True
)

SOURCES = {"flag": "--model", "models default": "rlgpt models default", "default": "built-in default"}


def _current(st) -> dict:
    """The model this invocation uses, and where that choice comes from."""
    source = st.settings.sources.get("model", "default")
    return {"model": st.settings.model, "source": SOURCES.get(source, source)}


@models_app.command("list")
def list_(ctx: typer.Context) -> None:
    """The offline model, each provider and whether its key is set (names only), aliases, the default."""
    from rlgpt_cli import plugins

    st = state(ctx)
    stored = read_models(st.settings.home)
    data = {
        "offline": {"model": OFFLINE_MODEL,
                    "description": "built-in offline planner (not an LLM): deterministic, free, no network"},
        "providers": [{"provider": provider, "variable": var, "configured": bool(os.environ.get(var)),
                       "example": example} for provider, var, example in PROVIDERS],
        # Plugins that add providers; naming their prefixes would mean importing litellm (seconds).
        "model_plugins": [p["name"] for p in plugins.list_plugins() if "register_models" in p["hooks"]],
        "aliases": stored["aliases"],
        "default": stored["default"],
        "current": _current(st),
    }

    def human(d):
        c = console()
        c.print("[bold]offline[/bold]")
        c.print(f"  {d['offline']['model']}  {d['offline']['description']}", markup=False)
        c.print("[bold]providers[/bold] (whether the variable is set; values are never shown)")
        columns(["provider", "variable", "set", "example"],
                [[p["provider"], p["variable"], "yes" if p["configured"] else "no", p["example"]]
                 for p in d["providers"]], indent=2)
        if d["model_plugins"]:
            c.print("[bold]plugins adding providers[/bold]  " + ", ".join(d["model_plugins"]))
        c.print("[bold]aliases[/bold]" + ("" if d["aliases"] else "  none (rlgpt models alias NAME MODEL)"))
        for name, model in d["aliases"].items():
            c.print(f"  {name} -> {model}", markup=False)
        c.print(f"[bold]default[/bold]  {d['default'] or 'none stored (rlgpt models default NAME)'}")
        c.print(f"[bold]current[/bold]  {d['current']['model']} (from {d['current']['source']})")

    emit(st, data, human)


@models_app.command("default")
def default(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="A model (provider/model) or an alias; omit to show."),
    clear: bool = typer.Option(False, "--clear", help="Forget the stored default (back to rlgpt/offline)."),
) -> None:
    """Show or set the default model, used when neither --model nor RLGPT_MODEL is given."""
    st = state(ctx)
    home = st.settings.home
    stored = read_models(home)
    if clear and name:
        raise UsageError("give NAME or --clear, not both")
    if clear or name:
        if name and name not in stored["aliases"]:
            if "/" not in name:
                raise NotFound(f"no alias {name!r}{nearest(name, stored['aliases'])}; "
                               "give provider/model or an alias from `rlgpt models list`")
            check_model_name(name)
        stored["default"] = None if clear else name
        write_models(home, stored)
    model = stored["aliases"].get(stored["default"], stored["default"])
    data = {"default": stored["default"], "model": model or OFFLINE_MODEL, "path": str(home / MODELS_FILE)}

    def human(d):
        if d["default"] is None:
            console().print(f"no stored default: {OFFLINE_MODEL} unless --model or RLGPT_MODEL", markup=False)
        else:
            alias = f" (alias of {d['model']})" if d["model"] != d["default"] else ""
            console().print(f"default model: {d['default']}{alias}", markup=False)

    emit(st, data, human)


@models_app.command("alias")
def alias(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="The alias (one word, no '/'); omit to list."),
    model: Optional[str] = typer.Argument(None, metavar="[MODEL]", help="The model it stands for (provider/model)."),
    remove: bool = typer.Option(False, "--remove", help="Remove alias NAME."),
) -> None:
    """Name a model: `rlgpt models alias fast openai/gpt-4o-mini`, then `rlgpt plan TASK -m fast`."""
    st = state(ctx)
    home = st.settings.home
    stored = read_models(home)
    aliases = stored["aliases"]
    if remove:
        if name is None or model is not None:
            raise UsageError("usage: rlgpt models alias --remove NAME")
        if name not in aliases:
            raise NotFound(f"no alias {name!r}{nearest(name, aliases)}")
        del aliases[name]
        if stored["default"] == name:  # a default naming a removed alias would name nothing
            stored["default"] = None
        write_models(home, stored)
    elif name is not None:
        check_alias_name(name)
        if model is None:
            if name not in aliases:
                raise NotFound(f"no alias {name!r}{nearest(name, aliases)}")
        else:
            if model in aliases:
                raise UsageError(f"{model!r} is an alias; an alias names a model (provider/model), not another alias")
            aliases[name] = check_model_name(model)
            write_models(home, stored)
        aliases = {name: aliases[name]} if name in aliases else {}

    def human(d):
        c = console()
        if remove:
            c.print(f"removed alias {d['removed']}", markup=False)
            return
        if not d["aliases"]:
            c.print("no aliases (rlgpt models alias NAME MODEL)")
        for n, m in d["aliases"].items():
            c.print(f"{n} -> {m}", markup=False)

    # Aliases under their own key: the --json document's exit_code and error are never names.
    emit(st, {"removed": name} if remove else {"aliases": aliases}, human)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
