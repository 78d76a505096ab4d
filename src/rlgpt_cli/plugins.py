"""The plugin host, in simonw/llm's style.

Plugins come from four places, in this order:

1. third-party packages declaring an entry point in the ``rlgpt`` group (all of them, or
   only the distributions named in ``RLGPT_LOAD_PLUGINS``, a comma list; an empty value
   loads none);
2. ``DEFAULT_PLUGINS``, the built-in modules (built-ins are plugins too);
3. loose ``.py`` files in ``RLGPT_HOME/plugins`` (datasette style): trusted code the user put
   there, imported as modules;
4. the skill library: its skill files are untrusted LLM-written code, so they are never
   imported; the ``Library`` object implements ``register_skills`` for its stored skills,
   and :func:`provided_skills` calls it together with every plugin's.

Importing this module is cheap (pluggy only): nothing is scanned until ``load_plugins``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pluggy

from rlgpt_cli import hookspecs
from rlgpt_cli.errors import UsageError

ENTRY_POINT_GROUP = "rlgpt"

# Built-in plugin modules, registered like any other plugin. Append module paths here.
DEFAULT_PLUGINS: list[str] = [
    "rlgpt_cli.default_plugins.worlds",
    "rlgpt_cli.default_plugins.minedojo_tasks",
    "rlgpt_cli.default_plugins.builtin_skills",
    "rlgpt_cli.default_plugins.offline_model",
]

pm = pluggy.PluginManager("rlgpt")
pm.add_hookspecs(hookspecs)

_loaded = False


def default_plugins_dir() -> Path:
    """Where plugin files live: ``RLGPT_HOME/plugins``."""
    from rlgpt_cli.settings import Settings

    return Settings.resolve().home / "plugins"


def load_plugins(plugins_dir: Path | None = None) -> None:
    """Load every plugin once per process (later calls do nothing); plugin files come from
    ``plugins_dir``, by default ``default_plugins_dir()``.

    Whichever caller loads first (a command, the world registry, the task catalogue) must
    get the same plugins, hence the default rather than a directory passed by the CLI.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    _load_entry_points()
    for module_path in DEFAULT_PLUGINS:
        if pm.get_plugin(module_path) is None:
            pm.register(importlib.import_module(module_path), name=module_path)
    load_plugin_files(plugins_dir or default_plugins_dir())


def _load_entry_points() -> None:
    only = os.environ.get("RLGPT_LOAD_PLUGINS")
    if only is None:
        if any_declares_entry_points(ENTRY_POINT_GROUP):
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        return
    from importlib import metadata

    for package in (name.strip() for name in only.split(",")):
        if not package:
            continue
        try:
            distribution = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            print(f"rlgpt: plugin package {package!r} is not installed", file=sys.stderr)
            continue
        for entry_point in distribution.entry_points:
            if entry_point.group == ENTRY_POINT_GROUP and pm.get_plugin(entry_point.name) is None:
                pm.register(entry_point.load(), name=entry_point.name)
                # So list_plugins() can name the distribution, as load_setuptools_entrypoints does.
                pm._plugin_distinfo.append((pm.get_plugin(entry_point.name), distribution))


def any_declares_entry_points(group: str, paths: list[str] | None = None) -> bool:
    """Whether any distribution on ``paths`` (``sys.path``) may declare an entry point in ``group``.

    A cheap look at the ``entry_points.txt`` files of ``*.dist-info`` / ``*.egg-info`` folders,
    so that a machine without plugins never imports ``importlib.metadata`` (about 60 ms, most
    of a fast command's start). The loading itself stays with pluggy and importlib.metadata;
    a path this look cannot read (a zip archive) answers True so they decide.
    """
    header = f"[{group}]"
    for entry in sys.path if paths is None else paths:
        try:
            folders = os.scandir(entry or ".")
        except NotADirectoryError:
            return True  # a zip archive on the path: only importlib.metadata reads it
        except OSError:
            continue
        with folders:
            for folder in folders:
                if not folder.name.endswith((".dist-info", ".egg-info")):
                    continue
                try:
                    with open(os.path.join(folder.path, "entry_points.txt"), encoding="utf-8") as fh:
                        if any(line.strip() == header for line in fh):
                            return True
                except OSError:
                    continue
    return False


def load_plugin_files(directory: Path) -> list[str]:
    """Import each ``*.py`` file in ``directory`` as a plugin module; returns their names.

    These are trusted files the user installed, not library skills.
    """
    directory = Path(directory)
    names = []
    if not directory.is_dir():
        return names
    for path in sorted(directory.glob("*.py")):
        name = f"rlgpt_plugin_file.{path.stem}"
        if pm.get_plugin(name) is not None:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise UsageError(f"plugin file {path} failed to load: {type(exc).__name__}: {exc}") from exc
        pm.register(module, name=name)
        names.append(name)
    return names


def list_plugins() -> list[dict]:
    """Each registered plugin: its name, the hooks it implements and, for packages, the
    distribution and version (what ``rlgpt plugins --json`` prints)."""
    load_plugins()
    distributions = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    plugins = []
    for plugin in pm.get_plugins():
        info = {
            "name": pm.get_name(plugin),
            "hooks": sorted(caller.name for caller in pm.get_hookcallers(plugin) or []),
        }
        dist = distributions.get(id(plugin))
        if dist is not None:
            info["package"] = dist.metadata["Name"]
            info["version"] = dist.version
        plugins.append(info)
    return sorted(plugins, key=lambda p: p["name"])


def get_skills() -> list:
    """Skills registered through ``register_skills``."""
    load_plugins()
    skills: list = []
    pm.hook.register_skills(register=skills.append)
    return skills


def _skill_rank(plugin_name: str) -> int:
    # Where two plugins register one name: a plugin file beats an installed package, which
    # beats a built-in (the user's latest, most specific choice wins).
    if plugin_name.startswith("rlgpt_plugin_file."):
        return 2
    return 0 if plugin_name in DEFAULT_PLUGINS else 1


def provided_skills(library=None) -> tuple[dict, dict]:
    """``(provided, stored)``: the skills plugins register through ``register_skills``, one
    per name (see ``_skill_rank``), and, when ``library`` is given, the versions it registers
    through its own ``register_skills`` (name -> list of versions).

    A plugin skill without provenance gets ``{"source": "plugin", "plugin": NAME}``.
    """
    load_plugins()
    chosen: dict[str, tuple[int, object]] = {}
    for impl in pm.hook.register_skills.get_hookimpls():
        rank = _skill_rank(impl.plugin_name)
        found: list = []
        impl.function(register=found.append)
        for skill in found:
            if not skill.provenance:
                skill.provenance = {"source": "plugin", "plugin": impl.plugin_name}
            if skill.name not in chosen or rank >= chosen[skill.name][0]:
                chosen[skill.name] = (rank, skill)
    stored: dict[str, list] = {}
    if library is not None:
        library.register_skills(register=lambda skill: stored.setdefault(skill.name, []).append(skill))
    return {name: skill for name, (_, skill) in chosen.items()}, stored


def call_hook(name: str, register) -> None:
    """Load plugins, then call the ``register_*`` hook ``name`` with ``register``; e.g.
    ``call_hook("register_worlds", worlds.base.register_world)``."""
    load_plugins()
    getattr(pm.hook, name)(register=register)


def register_commands(app) -> None:
    """Let every plugin attach its commands to the Typer ``app``."""
    load_plugins()
    pm.hook.register_commands(app=app)
