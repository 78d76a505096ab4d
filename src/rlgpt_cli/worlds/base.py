"""The world registry and the interface every world offers.

A world is a gymnasium-style environment factory registered under a name.
Built-in worlds are registered here lazily (their factories import crafter,
numpy, gymnasium only when called); plugins add theirs with
:func:`register_world`. Importing this module imports none of those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

from rlgpt_cli.errors import NotFound, UsageError, WorldError, nearest


@runtime_checkable
class World(Protocol):
    """What rlgpt needs from a world: the gymnasium ``Env`` API plus action names.

    ``step`` returns gymnasium's 5-tuple ``(obs, reward, terminated, truncated,
    info)``; ``info`` carries ``achievements``, ``inventory`` and ``unlocked``
    where the world has them (see ``docs/CONTRACTS.md``).
    """

    observation_space: Any
    action_space: Any
    action_names: list[str]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]: ...

    def step(self, action) -> tuple[Any, float, bool, bool, dict]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WorldEntry:
    """A registered world: its factory, a one-line description and an availability check."""

    name: str
    factory: Callable[..., World]
    description: str
    available: Callable[[], tuple[bool, str]]

    def status(self) -> tuple[bool, str]:
        """``(True, "")`` when the world can start here, else ``(False, reason)``."""
        try:
            return self.available()
        except Exception as error:  # a broken check must not break listing
            return False, f"availability check failed: {error}"


_REGISTRY: dict[str, WorldEntry] = {}


def _always() -> tuple[bool, str]:
    return True, ""


def register_world(name: str, factory: Callable[..., World], description: str = "",
                   available: Callable[[], tuple[bool, str]] | None = None) -> None:
    """Register (or replace) the world ``name``; ``factory(**kwargs)`` builds one."""
    if not name or not isinstance(name, str):
        raise UsageError(f"invalid world name {name!r}")
    _REGISTRY[name] = WorldEntry(name, factory, description, available or _always)


_plugin_worlds_loaded = False


def _load_plugin_worlds() -> None:
    """Add the worlds of plugins (the ``register_worlds`` hook), once, at the first lookup:
    loading plugins when this module is imported would make every import pay for the
    entry-point scan."""
    global _plugin_worlds_loaded
    if not _plugin_worlds_loaded:
        _plugin_worlds_loaded = True
        from rlgpt_cli import plugins

        plugins.call_hook("register_worlds", register_world)


def list_worlds() -> list[WorldEntry]:
    """Every registered world, sorted by name."""
    _load_plugin_worlds()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_entry(name: str) -> WorldEntry:
    """The registry entry of ``name``; unknown names raise :class:`NotFound`."""
    _load_plugin_worlds()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NotFound(f"unknown world {name!r}{nearest(name, _REGISTRY)}") from None


def get_world(name: str, **kwargs) -> World:
    """Build the world ``name`` with ``kwargs``; a world that cannot start raises :class:`WorldError`."""
    entry = get_entry(name)
    ok, reason = entry.status()
    if not ok:
        raise WorldError(f"world {name!r} is not available: {reason}")
    return entry.factory(**kwargs)


def _crafter(**kwargs) -> World:
    try:
        from rlgpt_cli.worlds.crafter.env import CrafterWorld
    except ImportError as error:
        raise WorldError(f"crafter could not be loaded: {error}") from error
    return CrafterWorld(**kwargs)


def _crafter_available() -> tuple[bool, str]:
    import importlib.util

    missing = [m for m in ("crafter", "gymnasium", "numpy") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"missing packages: {', '.join(missing)}"
    if importlib.util.find_spec("numba") is None:
        return True, "numba missing: world generation runs in plain Python (slow)"
    return True, ""


register_world(
    "crafter", _crafter,
    "Crafter (Hafner 2021): 2-D Minecraft-like survival world, 17 actions, 22 achievements",
    _crafter_available)


def _minedojo(task_id: str = "harvest_log", **kwargs) -> World:
    from rlgpt_cli.worlds.minedojo import MineDojoWorld

    return MineDojoWorld(task_id, **kwargs)


def _minedojo_available() -> tuple[bool, str]:
    from rlgpt_cli.worlds.minedojo import availability

    return availability()


register_world(
    "minedojo", _minedojo,
    "MineDojo (real Minecraft): needs the minedojo extra, JDK 8 and Python <=3.9; adapter tested against a stand-in only",
    _minedojo_available)

# The worlds registered above, which the built-in worlds plugin
# (rlgpt_cli.default_plugins.worlds) hands to the register_worlds hook.
BUILTIN_WORLDS = (_REGISTRY["crafter"], _REGISTRY["minedojo"])
