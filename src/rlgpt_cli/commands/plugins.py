"""`rlgpt plugins`: every loaded plugin and the hooks it implements."""

from __future__ import annotations

import typer

from rlgpt_cli.commands import state
from rlgpt_cli.output import emit, table


def plugins(ctx: typer.Context) -> None:
    """List loaded plugins (packages, built-ins, plugin files, library skills) and their hooks."""
    from rlgpt_cli import plugins as host
    from rlgpt_cli.library import Library

    st = state(ctx)
    rows = host.list_plugins()
    # The library's stored skills come through the same hook call as the plugins' skills.
    stored: list = []
    Library(st.settings.library_path).register_skills(register=stored.append)
    rows.append({"name": "library", "hooks": ["register_skills"], "path": str(st.settings.library_path),
                 "skills": sorted({s.name for s in stored})})
    emit(st, rows, lambda rs: table(None, ["name", "hooks", "package"],
                                    [[p["name"], ", ".join(p["hooks"]),
                                      f"{p['package']} {p['version']}" if "package" in p else ""] for p in rs]))


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins)
