"""The ``rlgpt`` command line: global options, command registration, exit codes.

Every command module under ``rlgpt_cli.commands`` exposes ``register(app)``; plugins add
theirs through the ``register_commands`` hook. Nothing heavy is imported here so that
``rlgpt --help`` answers fast.
"""

from __future__ import annotations

import enum
import importlib
import os
import sys
from typing import Optional

import typer
from typer.core import TyperArgument, TyperGroup

from rlgpt_cli import __version__
from rlgpt_cli.errors import ExitCode, RlgptError, write_failure
from rlgpt_cli.output import AppState
from rlgpt_cli.settings import LIMITS, OLLAMA_PREFIXES, Settings

# Built-in command modules, in the order `rlgpt --help` lists them.
COMMAND_MODULES = ["iterate", "plan", "code", "learn", "run", "envs", "tasks", "skills", "models", "prompts", "logs", "plugins", "doctor"]

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
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A litellm model (provider/model) or an alias (env RLGPT_MODEL; default: `rlgpt models default`, else rlgpt/offline, the built-in offline planner)."),
    world: Optional[str] = typer.Option(None, "--world", "-w", "--env", "-e", help="World (env RLGPT_WORLD; default crafter; --env is an alias)."),
    library: Optional[str] = typer.Option(None, "--library", metavar="DIR", help="Skill library directory (env RLGPT_LIBRARY; default RLGPT_HOME/library)."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="N", help="Random seed (env RLGPT_SEED; default 0)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", metavar="SECONDS", min=LIMITS["timeout"][0], max=LIMITS["timeout"][1], help="Seconds to wait for each model request (env RLGPT_TIMEOUT; default 60)."),
    retries: Optional[int] = typer.Option(None, "--retries", metavar="N", min=LIMITS["retries"][0], max=LIMITS["retries"][1], help="Retries after a rate limit, server fault or timeout (env RLGPT_RETRIES; default 3)."),
    num_ctx: Optional[int] = typer.Option(None, "--num-ctx", metavar="N", min=LIMITS["num_ctx"][0], max=LIMITS["num_ctx"][1], help="Context size in tokens for ollama/ and ollama_chat/ models (env RLGPT_NUM_CTX; default: the server's)."),
    executor: Optional[str] = typer.Option(None, "--executor", metavar="local|ray", help="Where worker processes run LLM-written code and episodes: local processes or Ray actors (env RLGPT_EXECUTOR; default local)."),
    workers: Optional[int] = typer.Option(None, "--workers", metavar="N", min=LIMITS["workers"][0], max=LIMITS["workers"][1], help="Worker processes (env RLGPT_WORKERS; default: the number of cores)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", metavar="ADDRESS", help="An existing Ray cluster for --executor ray (env RLGPT_RAY_ADDRESS; default: start a local Ray)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """RL-GPT: a slow agent plans, a fast agent writes code or RL configurations, a critic
    feeds back, and every code skill or trained policy lands in a reusable skill library."""
    global _state
    settings = Settings.resolve(model=model, world=world, library=library, seed=seed, timeout=timeout,
                                retries=retries, num_ctx=num_ctx, executor=executor, workers=workers,
                                ray_address=ray_address)
    from rlgpt_cli import workers as worker_processes

    worker_processes.configure(worker_processes.Executor(settings.executor, settings.workers, settings.ray_address))
    if settings.num_ctx and not settings.model.startswith(OLLAMA_PREFIXES) and not quiet:
        sys.stderr.write(f"note: --num-ctx applies to ollama/ and ollama_chat/ models only; "
                         f"ignored for {settings.model}\n")
    ctx.obj = _state = AppState(settings=settings, json=json_, verbose=verbose, quiet=quiet)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"rlgpt_cli.commands.{name}").register(app)


_register_commands()

# Global options that stay in front of the subcommand: they act at once (eager) or only
# make sense for the whole program.
NOT_HOISTED = ("--help", "-h", "--version", "--install-completion", "--show-completion")
_plugin_commands_added = False


def _options(command) -> dict[str, bool]:
    """A command's option names, each mapped to whether it takes a value."""
    return {name: not (getattr(p, "is_flag", False) or getattr(p, "count", False))
            for p in command.params if p.param_type_name == "option"
            for name in (*p.opts, *p.secondary_opts)}


def _split(arg: str) -> tuple[str, bool]:
    """An option's name and whether its value is attached (``--model=x``)."""
    if arg.startswith("--") and "=" in arg:
        return arg.split("=", 1)[0], True
    return arg, False


def _command_word(argv: list[str], command=None) -> str | None:
    """The subcommand ``argv`` names, or None (``rlgpt``, ``rlgpt --help``)."""
    options = _options(command if command is not None else build_command())
    args = iter(argv)
    for arg in args:
        if arg == "--":
            return next(args, None)
        name, attached = _split(arg)
        if options.get(name) and not attached:
            next(args, None)  # --world's value is never the command's name
        elif not arg.startswith("-"):
            return arg
    return None


def _value(args) -> list[str]:
    """The next argument (an option's value), if there is one."""
    return [value] if (value := next(args, None)) is not None else []


def hoist_global_options(command, argv: list[str]) -> list[str]:
    """Move global options written after the subcommand (``plan X --model M``) to the front.

    A subcommand's own option of the same name stays its own (``learn --seed``,
    ``tasks list --world``, ``skills show --version``); the values of the subcommand's
    options are skipped, so a task's words are never taken for options or their values;
    nothing after ``--`` moves.
    """
    root = _options(command)
    hoisted: list[str] = []
    kept: list[str] = []
    current, args = command, iter(argv)
    for arg in args:
        if arg == "--":
            kept += [arg, *args]
            break
        name, attached = _split(arg)
        own = _options(current)
        if current is not command and name in root and name not in own and name not in NOT_HOISTED:
            hoisted += [arg, *_value(args)] if root[name] and not attached else [arg]
            continue
        kept.append(arg)
        if own.get(name) and not attached:
            kept += _value(args)
        elif not arg.startswith("-") and isinstance(current, TyperGroup):
            if arg not in current.commands:  # an unknown command: click reports it as it is
                kept += list(args)
                break
            current = current.commands[arg]
    return hoisted + kept


class _Coercion:
    """Typer's coercion of one parameter's value, built only when a value needs it.

    Typer 0.29 builds a pydantic TypeAdapter for every parameter it parses, missing values
    and defaults included, and importing pydantic is about a third of a fast command's start.
    A missing value, a default already of the declared type, or text for a text parameter
    passes as it is (what the adapter would return); anything else goes to Typer's own.
    """

    def __init__(self, param):
        self.param = param
        self.typer = None

    def _as_is(self, value):
        desc = self.param.type_descriptor
        kind, info = desc.annotation, desc.parameter_info
        if kind is str:
            return value if isinstance(value, str) else None
        if kind in (int, float) and type(value) is kind and not getattr(info, "clamp", False):
            inside = (info.min is None or value >= info.min) and (info.max is None or value <= info.max)
            return value if inside else None
        if isinstance(kind, type) and issubclass(kind, enum.Enum) and isinstance(value, kind):
            return value
        if desc.is_list and getattr(kind, "__args__", None) == (str,) and isinstance(value, (list, tuple)) \
                and all(isinstance(v, str) for v in value):
            return list(value)
        return None

    def coerce(self, value, param, ctx):
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        same = self._as_is(value)
        if same is not None:
            return same
        if self.typer is None:
            from typer._coercion import build_runtime_param

            self.typer = build_runtime_param(param.type_descriptor)
        return self.typer.coerce(value, param=param, ctx=ctx)


def _json_flag(ctx, param, value: bool) -> None:
    if value:
        ctx.find_root().obj.json = True


class _Argument(TyperArgument):
    """An argument shown as ``TASK...`` or ``[NAME]``, without Typer's ``<list[str]>``."""

    def display_type_rich(self, ctx):  # the help text says what it is
        return None

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self._rich_display_name()
        return name if self.required else f"[{name}]"


def _prepare(command, root) -> None:
    """Finish ``command`` and its subcommands: plain readable help, lazy coercion, ``--json``.

    Plain: Typer's rich help imports rich's markdown and traceback modules (~0.25 s at every
    ``--help``). Readable: ``TASK...`` rather than ``{words}... <list[str]>``, ``--limit
    LIMIT`` rather than ``--limit <int range>`` (ranges are still stated after the help).
    Every leaf command lists and parses the global ``--json`` and names the other global
    options in its help.
    """
    import copy

    command.rich_markup_mode = None

    def help_option(ctx, made=command.get_help_option):  # made on first use; coerced like the rest
        option = made(ctx)
        if option is not None and not isinstance(option._runtime_param, _Coercion):
            option._runtime_param = _Coercion(option)
        return option

    command.get_help_option = help_option
    for param in command.params:
        if hasattr(param, "type_descriptor"):
            param._runtime_param = _Coercion(param)
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or param.name.upper()
            param.__class__ = _Argument
        elif param.param_type_name == "option" and not param.is_flag and param.metavar is None \
                and not getattr(param.type_descriptor, "is_choice", False):
            param.metavar = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _prepare(sub, root)
        return
    own = _options(command)
    if "--json" not in own:  # the global flag, also listed (and parsed) here
        flag = copy.copy(next(p for p in root.params if "--json" in p.opts))
        flag.expose_value, flag.callback = False, _json_flag
        command.params.append(flag)
    others = []
    for param in root.params:
        names = [*param.opts, *param.secondary_opts]
        if param.param_type_name != "option" or set(names) & {*own, *NOT_HOISTED, "--json"}:
            continue
        short = [n for n in names if not n.startswith("--")]
        others.append("/".join(short[:1] + [n for n in names if n.startswith("--")][:1]))
    if command.epilog is None and others:
        command.epilog = f"Global options work here too: {', '.join(others)} (see rlgpt --help)."


def _entry_name(entry) -> str | None:
    """The name a registered command or sub-app is called by (None when Typer would derive it)."""
    name = getattr(entry, "name", None)
    return getattr(name, "value", name)  # Typer wraps unset defaults in a DefaultPlaceholder


def build_command(only: str | None = None):
    """The click command for ``app`` as it stands (plugins may add commands to ``app``).

    With ``only``, the root with just that built-in command (or none for ``""``): building
    every command's parameters from its signature is most of a fast command's start, and a
    command runs the same whichever others exist.
    """
    from typer.main import get_command

    commands, groups = app.registered_commands, app.registered_groups
    if only is not None:
        app.registered_commands = [c for c in commands if _entry_name(c) == only]
        app.registered_groups = [g for g in groups if _entry_name(g) == only]
    try:
        command = get_command(app)
    finally:
        app.registered_commands, app.registered_groups = commands, groups
    _prepare(command, command)
    return command


def _builtin(word: str | None) -> bool:
    return word is not None and any(_entry_name(e) == word for e in (*app.registered_commands, *app.registered_groups))


def add_plugin_commands(argv: list[str], command) -> bool:
    """Let plugins attach their commands (the ``register_commands`` hook), once per process.

    Only when ``argv`` names a command that is not built in, or the shell is completing:
    loading plugins may import ``importlib.metadata`` and scan every installed distribution's
    entry points, which would push ``rlgpt --help`` past its 0.3 s goal. So ``rlgpt --help`` lists built-in commands only;
    ``rlgpt plugins`` shows what plugins add. True when commands were added.
    """
    global _plugin_commands_added
    word = _command_word(argv, command)
    completing = "_RLGPT_COMPLETE" in os.environ  # Typer's completion mode (words come from the env)
    if _plugin_commands_added or not (completing or (word is not None and word not in command.commands)):
        return False
    _plugin_commands_added = True
    from rlgpt_cli import plugins

    plugins.register_commands(app)
    return True


def _terminate(signum, frame) -> None:
    # SIGTERM ends a command as Ctrl-C does: it saves what it has and says how to resume.
    raise KeyboardInterrupt


def _error_line(message: str) -> None:
    sys.stderr.write(f"Error: {message}\n")


def _run_app(argv: list[str], verbose: bool) -> tuple[int, str | None, dict | None]:
    """Run the command; its exit code, error message (None on success) and failure details."""
    from typer.exceptions import Abort, TyperException

    try:
        word = _command_word(argv, build_command(only=""))
        if _builtin(word) and "_RLGPT_COMPLETE" not in os.environ:
            command = build_command(only=word)
        else:  # help, completion, a typo to suggest for, or a plugin's command
            command = build_command()
            if add_plugin_commands(argv, command):
                command = build_command()
        argv = hoist_global_options(command, argv)
        rv = command.main(args=argv, prog_name="rlgpt", standalone_mode=False)
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
        failed = write_failure(exc)  # a full or read-only disk anywhere is the user's to fix, not a bug
        if failed is not None:
            _error_line(failed.message)
            return int(failed.exit_code), failed.message, None
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
    argv = list(argv if argv is not None else sys.argv[1:])
    # Global flags count wherever they are written, up to a `--` (see hoist_global_options).
    end = argv.index("--") if "--" in argv else len(argv)
    json_mode = "--json" in argv[:end]
    verbose = any(a in ("-v", "--verbose") for a in argv[:end])
    in_main = threading.current_thread() is threading.main_thread()  # signal handlers live there only
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        code, message, details = _run_app(argv, verbose)
    finally:
        from rlgpt_cli import workers

        workers.configure(None)  # the next invocation in this process chooses its own
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    if json_mode and code != ExitCode.OK and not (_state is not None and _state.emitted):
        run_id = _state.run_id if _state is not None else None
        sys.stdout.write(dumps(document(details, code, message, run_id)) + "\n")
    sys.exit(code)
