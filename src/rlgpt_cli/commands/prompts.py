"""`rlgpt prompts`: the prompt templates the agents send (built-in, or overridden in
RLGPT_HOME/prompts/)."""

from __future__ import annotations

import typer

from rlgpt_cli.commands import state
from rlgpt_cli.output import console, emit, table

prompts_app = typer.Typer(help="The agents' prompt templates.", no_args_is_help=True)


@prompts_app.command("list")
def list_(ctx: typer.Context) -> None:
    """List prompt templates: name, answer schema, built-in or user override."""
    from rlgpt_cli.models.prompts import list_prompts

    st = state(ctx)
    prompts = [
        {k: v for k, v in p.to_dict().items() if k not in ("system", "user")}
        for p in list_prompts(st.settings.home)
    ]

    def human(rows):
        table(None, ["name", "schema", "source", "description"],
              [[r["name"], r["schema"] or "text", r["source"], r["description"]] for r in rows])

    emit(st, prompts, human)


@prompts_app.command("show")
def show(ctx: typer.Context, name: str = typer.Argument(..., help="Template name from `rlgpt prompts list`.")) -> None:
    """Show one template: its header and the system and user sections."""
    from rlgpt_cli.models.prompts import load_prompt

    st = state(ctx)
    prompt = load_prompt(name, st.settings.home).to_dict()

    def human(p):
        c = console()
        c.print(f"[bold]{p['name']}[/bold]  schema={p['schema'] or 'text'}  {p['source']}: {p['path']}")
        c.print(p["description"])
        c.print(f"context: {', '.join(p['context']) or '(none)'}")
        c.rule("system")
        c.print(p["system"], markup=False)
        c.rule("user")
        c.print(p["user"], markup=False)

    emit(st, prompt, human)


def register(app: typer.Typer) -> None:
    app.add_typer(prompts_app, name="prompts")
