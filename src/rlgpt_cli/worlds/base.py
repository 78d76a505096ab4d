"""The world registry and the interfaces every world offers: the one seam between rlgpt and a world.

A world is registered under a name with a factory for its gymnasium environment
(:class:`World`) and a kit (:class:`WorldKit`): everything the agents, the skill runner
and the learner need to know about it: its actions, its observation space, the primitive
API that code skills call, the knowledge the slow agent reads for a task, its
achievements and the API documentation prompts show. Nothing outside ``rlgpt_cli.worlds``
imports a particular world; everything goes through :func:`get_kit` with the task's world
name. Built-in worlds are registered here lazily (their factories import crafter, numpy,
gymnasium only when called); plugins add theirs through the ``register_worlds`` hook.
Importing this module imports none of those.
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


@runtime_checkable
class WorldKit(Protocol):
    """What the agents, the skill runner and the learner need from a world, besides its env.

    ``name``: the world's registered name. ``action_names``: the native actions, in the
    env's action order. The primitive API that :meth:`new_api` returns is what code skills
    receive as ``api``: the runner calls ``api.observe(obs, info)`` after every step, and
    reads ``api.last_obs`` (the latest observation), ``api.step`` (steps observed),
    ``api.inventory`` and ``api.achievements`` (name -> count) and ``api.seen(target)``
    (non-empty when a station or material has been seen: macro-action masks use it).
    Sandboxed code reaches only the attributes the API class lists in ``__sandbox_attrs__``.
    """

    name: str
    action_names: list[str]

    def make_env(self, task: str | None = None, **options) -> World:
        """A new environment for ``task`` (a world whose env depends on the task, as MineDojo's
        does, builds that task's); ``length``: episode step limit, or None for none; ``seed``."""

    def new_api(self) -> Any:
        """A fresh primitive API with an empty memory, for one episode."""

    def observation_space(self) -> Any:
        """The gymnasium space of the env's (symbolic) observation."""

    def observation_docs(self) -> dict:
        """The observation's layout for reward code: its keys and the order of list-like parts."""

    def api_docs(self) -> list[dict]:
        """The primitive API as prompts show it: ``{"name": signature, "doc": docstring}`` items."""

    def knowledge(self, task) -> dict:
        """What the slow agent reads about ``task``: ``steps`` (dicts with ``kind``, ``target``,
        ``count``, ``preconditions``, ``nearby``, ``effects``, ``placed``, ``achievement``) in
        the order that reaches the goal, and ``facts`` (one line each)."""

    def achievements(self) -> list[str]:
        """Every achievement the env counts in ``info["achievements"]`` (may be empty)."""

    def scores(self, rates: dict[str, float]) -> dict[str, float]:
        """The world's benchmark scores from achievement success rates (e.g. the Crafter score)."""

    def reference_scores(self) -> dict[str, float]:
        """Published scores to print beside ours (may be empty)."""


@dataclass(frozen=True)
class WorldEntry:
    """A registered world: its env factory, kit factory, a one-line description and an
    availability check."""

    name: str
    factory: Callable[..., World]
    description: str
    available: Callable[[], tuple[bool, str]]
    kit: Callable[[], WorldKit] | None = None

    def status(self) -> tuple[bool, str]:
        """``(True, "")`` when the world can start here, else ``(False, reason)``."""
        try:
            return self.available()
        except Exception as error:  # a broken check must not break listing
            return False, f"availability check failed: {error}"


_REGISTRY: dict[str, WorldEntry] = {}
_KITS: dict[str, WorldKit] = {}


def _always() -> tuple[bool, str]:
    return True, ""


def register_world(name: str, factory: Callable[..., World], description: str = "",
                   available: Callable[[], tuple[bool, str]] | None = None,
                   kit: Callable[[], WorldKit] | None = None) -> None:
    """Register (or replace) the world ``name``; ``factory(**kwargs)`` builds its env and
    ``kit()`` its :class:`WorldKit` (called once, on first use)."""
    if not name or not isinstance(name, str):
        raise UsageError(f"invalid world name {name!r}")
    _REGISTRY[name] = WorldEntry(name, factory, description, available or _always, kit)
    _KITS.pop(name, None)


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


def get_kit(name: str) -> WorldKit:
    """The kit of world ``name`` (built once per process); unknown names raise
    :class:`NotFound`, a world registered without a kit raises :class:`WorldError`."""
    if name not in _KITS:
        entry = get_entry(name)
        if entry.kit is None:
            raise WorldError(f"world {name!r} was registered without a kit: rlgpt's agents cannot plan, "
                             "code or learn in it")
        _KITS[name] = entry.kit()
    return _KITS[name]


def _crafter(**kwargs) -> World:
    try:
        from rlgpt_cli.worlds.crafter.env import CrafterWorld
    except ImportError as error:
        raise WorldError(f"crafter could not be loaded: {error}") from error
    return CrafterWorld(**kwargs)


def warm_up() -> None:
    """Load the built-in Crafter world's code and compile its kernels (one short episode),
    without loading plugins: the worker processes' fork server calls it, so that every
    worker it forks starts warm. Does nothing where Crafter is not installed."""
    if not _crafter_available()[0]:
        return
    world = _crafter(length=2)
    world.reset(seed=0)
    world.step(0)
    world.close()


def _crafter_available() -> tuple[bool, str]:
    import importlib.util

    missing = [m for m in ("crafter", "gymnasium", "numpy") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"missing packages: {', '.join(missing)}"
    if importlib.util.find_spec("numba") is None:
        return True, "numba missing: world generation runs in plain Python (slow)"
    return True, ""


def _crafter_kit() -> WorldKit:
    from rlgpt_cli.worlds.crafter.kit import CrafterKit

    return CrafterKit()


register_world(
    "crafter", _crafter,
    "Crafter (Hafner 2021): 2-D Minecraft-like survival world, 17 actions, 22 achievements",
    _crafter_available, _crafter_kit)


def _minedojo(task_id: str = "harvest_log", **kwargs) -> World:
    from rlgpt_cli.worlds.minedojo import MineDojoWorld

    return MineDojoWorld(task_id, **kwargs)


def _minedojo_available() -> tuple[bool, str]:
    from rlgpt_cli.worlds.minedojo import availability

    return availability()


def _minedojo_kit() -> WorldKit:
    from rlgpt_cli.worlds.minedojo_kit import MineDojoKit

    return MineDojoKit()


register_world(
    "minedojo", _minedojo,
    "MineDojo (real Minecraft): needs the minedojo extra, JDK 8 and Python <=3.9; adapter tested against a stand-in only",
    _minedojo_available, _minedojo_kit)

# The worlds registered above, which the built-in worlds plugin
# (rlgpt_cli.default_plugins.worlds) hands to the register_worlds hook.
BUILTIN_WORLDS = (_REGISTRY["crafter"], _REGISTRY["minedojo"])
