"""The ``rlgpt`` command line: global options, command registration, exit codes.

Every command module under ``rlgpt_cli.commands`` exposes ``register(app)``; plugins add
theirs through the ``register_commands`` hook. Nothing heavy is imported here so that
``rlgpt --help`` answers fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Optional

import typer

from rlgpt_cli import __version__
from rlgpt_cli.errors import ExitCode, RlgptError
from rlgpt_cli.output import AppState
from rlgpt_cli.settings import Settings

# Built-in command modules, in the order `rlgpt --help` lists them.
COMMAND_MODULES = ["iterate", "plan", "code", "learn", "run", "envs", "tasks", "skills", "prompts", "logs", "plugins", "doctor"]

app = typer.Typer(
    name="rlgpt",
    help="RL-GPT: LLM agents code what can be coded and learn the rest with PPO.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# This invocation's global options, for `main` to read after the command ends (run id,
# whether the --json document was printed).
_state: AppState | None = None


def _version(value: bool) -> None:
    if value:
        print(f"rlgpt {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    json_: bool = typer.Option(False, "--json", help="Print exactly one JSON document on stdout."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="More detail; tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or diagnostics on stderr."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="litellm model name (env RLGPT_MODEL; default rlgpt/offline, the built-in offline planner)."),
    world: Optional[str] = typer.Option(None, "--world", "-w", "--env", "-e", help="World (env RLGPT_WORLD; default crafter; --env is an alias)."),
    library: Optional[str] = typer.Option(None, "--library", help="Skill library directory (env RLGPT_LIBRARY; default RLGPT_HOME/library)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (env RLGPT_SEED; default 0)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """RL-GPT: a slow agent plans, a fast agent writes code or RL configurations, a critic
    feeds back, and every code skill or trained policy lands in a reusable skill library."""
    global _state
    ctx.obj = _state = AppState(
        settings=Settings.resolve(model=model, world=world, library=library, seed=seed),
        json=json_,
        verbose=verbose,
        quiet=quiet,
    )


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"rlgpt_cli.commands.{name}").register(app)


_register_commands()

# Global options that take a value: skipped when looking for the subcommand's name.
VALUE_OPTIONS = ("--model", "-m", "--world", "-w", "--env", "-e", "--library", "--seed")
_plugin_commands_added = False


def _command_word(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names, or None (``rlgpt``, ``rlgpt --help``)."""
    args = iter(argv)
    for arg in args:
        if arg == "--":
            return next(args, None)
        if arg in VALUE_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def add_plugin_commands(argv: list[str]) -> None:
    """Let plugins attach their commands (the ``register_commands`` hook), once per process.

    Only when ``argv`` names a command that is not built in, or the shell is completing:
    loading plugins imports ``importlib.metadata`` and scans every installed distribution's
    entry points, about 30 ms, which would push ``rlgpt --help`` and the fast built-in
    commands past their 0.3 s goal. So ``rlgpt --help`` lists built-in commands only;
    ``rlgpt plugins`` shows what plugins add.
    """
    from typer.main import get_command_name

    global _plugin_commands_added
    word = _command_word(argv)
    builtin = {c.name or get_command_name(c.callback.__name__) for c in app.registered_commands} | \
        {g.name for g in app.registered_groups}
    completing = "_RLGPT_COMPLETE" in os.environ  # Typer's completion mode (words come from the env)
    if _plugin_commands_added or not (completing or (word is not None and word not in builtin)):
        return
    _plugin_commands_added = True
    from rlgpt_cli import plugins

    plugins.register_commands(app)


# Global flags that may also be written after the subcommand (`rlgpt tasks list --json`).
HOISTED_FLAGS = ("--json", "-v", "--verbose", "-q", "--quiet")


def hoist_global_flags(argv: list[str]) -> list[str]:
    """Move global boolean flags in front of the subcommand, up to a `--` separator."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in HOISTED_FLAGS]
    rest = [a for a in argv[:end] if a not in HOISTED_FLAGS]
    return flags + rest + argv[end:]


def _terminate(signum, frame) -> None:
    # SIGTERM ends a command as Ctrl-C does: it saves what it has and says how to resume.
    raise KeyboardInterrupt


def _error_line(message: str) -> None:
    sys.stderr.write(f"Error: {message}\n")


def _run_app(argv: list[str], verbose: bool) -> tuple[int, str | None, dict | None]:
    """Run the command; its exit code, error message (None on success) and failure details."""
    from typer.exceptions import Abort, TyperException

    try:
        add_plugin_commands(argv)
        rv = app(args=argv, prog_name="rlgpt", standalone_mode=False)
    except RlgptError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        _error_line(exc.message)
        return int(exc.exit_code), exc.message, exc.details
    except TyperException as exc:  # Click's usage errors, as Typer vendors Click
        code = int(ExitCode.USAGE if exc.exit_code in (0, 2) else exc.exit_code)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if hasattr(exc, "show"):
            exc.show()  # usage, hint and "Error: ..." on stderr
        else:
            _error_line(message)
        return code, message, None
    except (Abort, KeyboardInterrupt):
        _error_line("interrupted")
        return int(ExitCode.INTERRUPTED), "interrupted", None
    except BrokenPipeError:
        return int(ExitCode.OK), None, None
    except Exception as exc:  # a bug: one line unless -v, never a silent success
        if verbose:
            raise
        message = f"internal error: {type(exc).__name__}: {exc} (rerun with -v for the traceback)"
        _error_line(message)
        return int(ExitCode.TASK_FAILED), message, None
    code = int(rv) if isinstance(rv, int) else int(ExitCode.OK)
    if code == ExitCode.INTERRUPTED:  # Typer's answer to a KeyboardInterrupt no command handled
        _error_line("interrupted")
        return code, "interrupted", None
    return code, None, None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: maps every failure to one line and an exit code; with
    --json, every failure also prints the one JSON document (``exit_code``, ``error``)."""
    import signal
    import threading

    from rlgpt_cli.output import document, dumps

    global _state
    _state = None
    argv = hoist_global_flags(list(argv if argv is not None else sys.argv[1:]))
    end = argv.index("--") if "--" in argv else len(argv)
    json_mode = "--json" in argv[:end]
    verbose = any(a in ("-v", "--verbose") for a in argv[:end])
    in_main = threading.current_thread() is threading.main_thread()  # signal handlers live there only
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        code, message, details = _run_app(argv, verbose)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    if json_mode and code != ExitCode.OK and not (_state is not None and _state.emitted):
        run_id = _state.run_id if _state is not None else None
        sys.stdout.write(dumps(document(details, code, message, run_id)) + "\n")
    sys.exit(code)
