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
    # Stored skills only: the built-in pack arrives through its own default plugin.
    Library(st.settings.library_path).register_plugins(host.pm)
    rows = host.list_plugins()
    emit(st, rows, lambda rs: table(None, ["name", "hooks", "package"],
                                    [[p["name"], ", ".join(p["hooks"]),
                                      f"{p['package']} {p['version']}" if "package" in p else ""] for p in rs]))


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins)
