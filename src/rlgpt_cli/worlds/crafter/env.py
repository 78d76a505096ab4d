"""``CrafterWorld``: crafter's game as a fast gymnasium environment, and vector envs.

:func:`make_vector_env` wraps CrafterWorlds in gymnasium's Sync/AsyncVectorEnv;
:class:`CrafterVectorEnv` is the faster in-process batch for training.

The dynamics are crafter's (``crafter.Env.step`` step for step, checked by
``tests/test_crafter_env.py``); the speed comes from :mod:`.engine` (integer
code paths, a buffered random stream), :mod:`.worldgen` (compiled world
generation) and from not drawing pixels unless they are asked for.

Seeds. ``CrafterWorld(seed=S)`` plays the same episodes as ``crafter.Env(seed=S)``:
episode ``k`` (counting resets from 1) is generated from world seed
``hash((S, k)) % (2**31 - 1)``, crafter's own scheme. ``reset(seed=S)`` starts
that sequence again from episode 1, so ``reset(seed=S)`` always gives the same
first world; ``reset()`` moves on to the next episode.

Pixels and the random stream. Crafter's renderer draws its night-time noise
from the world's random generator, so crafter's dynamics depend on rendering.
Without pixels, this environment skips exactly the draws the renderer would
have made, keeping the dynamics identical in both observation modes.

Privileged access. :attr:`CrafterWorld.crafter` returns the live crafter world
and player. It is for trusted internal code only (evaluation, recording, the
equivalence tests); policies and code skills only ever get observations and the
``info`` dict, never this.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any, NamedTuple

import gymnasium
import numpy as np
from crafter import constants

from rlgpt_cli.errors import UsageError, WorldError
from rlgpt_cli.worlds.crafter import engine, observation, worldgen

ACTIONS: tuple[str, ...] = tuple(constants.actions)
ACHIEVEMENTS: tuple[str, ...] = tuple(constants.achievements)
AREA = (64, 64)
VIEW_DISTANCE = 9  # crafter's view (9, 9); objects within twice that (Manhattan) update
IMAGE_SIZE = (64, 64)
_UNIT = IMAGE_SIZE[0] // 9  # pixels per cell in crafter's 64x64 image
_LOCAL_GRID = observation.VIEW  # crafter's local view grid: 9x7 cells
_NOISE_DRAWS = (_LOCAL_GRID[0] * _UNIT) * (_LOCAL_GRID[1] * _UNIT)  # renderer's night noise
_OBS_MODES = ("symbolic", "pixels")
_MAT_STRIDE = 16  # > crafter's largest material id, to count (chunk, material) pairs


class CrafterState(NamedTuple):
    """The live crafter objects behind a :class:`CrafterWorld` (trusted code only)."""

    world: Any  # engine.World (a crafter.engine.World)
    player: Any  # engine.Player (a crafter.objects.Player)
    step: int
    episode: int


def check_seed(seed) -> int | None:
    """``seed`` as an int >= 0 (or None); anything else is a :class:`UsageError`."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"invalid seed {seed!r}: expected an integer >= 0")
    return int(seed)


@functools.lru_cache(maxsize=None)
def _daylight(step: int) -> float:
    # crafter's Env._update_time, with numpy as crafter computes it (bit-identical).
    progress = (step / 300) % 1 + 0.3
    return 1 - np.abs(np.cos(np.pi * progress)) ** 3


@functools.lru_cache(maxsize=1)
def _textures():
    from crafter import engine as crafter_engine

    return crafter_engine.Textures(constants.root / "assets")


class CrafterWorld(gymnasium.Env):
    """Crafter with crafter's dynamics, symbolic or pixel observations, gymnasium API.

    Args:
        seed: episode seed (see the module docstring); None draws one at random.
        obs: ``"symbolic"`` (the Dict of :mod:`.observation`) or ``"pixels"``
            (64x64x3 uint8, exactly crafter's image).
        length: steps before an episode is truncated (None or 0: never).
        reward: False makes every reward 0.0 (achievements are still counted).

    ``step`` returns ``terminated`` when the player dies and ``truncated`` when
    ``length`` steps are reached alive. ``info`` holds ``achievements`` (name ->
    cumulative count), ``inventory`` (name -> count) and ``unlocked`` (the
    achievements first reached by this step, in crafter's order).
    """

    metadata = {"render_modes": ["rgb_array"]}
    render_mode = "rgb_array"
    action_names = list(ACTIONS)

    def __init__(self, seed: int | None = None, obs: str = "symbolic", length: int | None = 10000,
                 reward: bool = True):
        if obs not in _OBS_MODES:
            raise UsageError(f"unknown observation mode {obs!r}: expected one of {', '.join(_OBS_MODES)}")
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 0):
            raise UsageError(f"invalid episode length {length!r}: expected an integer >= 0")
        seed = check_seed(seed)
        self._seed = secrets.randbelow(2**31 - 1) if seed is None else seed
        self._obs_mode = obs
        self._length = length
        self._reward = reward
        self._episode = 0
        self._step = 0
        self._world = engine.World(AREA)
        self._player = None
        self._last_health = 0
        self._unlocked: set[str] = set()
        self._achieved = 0  # sum of achievement counts at the last step
        self._chunk_index = _chunk_index(AREA, (12, 12))
        self.action_space = gymnasium.spaces.Discrete(len(ACTIONS))
        if obs == "pixels":
            from crafter import engine as crafter_engine

            try:
                textures = _textures()
            except OSError as error:
                raise WorldError(f"crafter's textures could not be loaded: {error}") from error
            item_rows = -(-len(constants.items) // 9)
            self._local_view = crafter_engine.LocalView(self._world, textures, [9, 9 - item_rows])
            self._item_view = crafter_engine.ItemView(textures, [9, item_rows])
            self.observation_space = gymnasium.spaces.Box(0, 255, (*IMAGE_SIZE, 3), np.uint8)
        else:
            self.observation_space = observation.observation_space()
        self._last_frame = None

    # -- gymnasium API ---------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._seed = check_seed(seed)
            self._episode = 0
            super().reset(seed=seed)
        self._episode += 1
        self._step = 0
        world = self._world
        world.reset(seed=hash((self._seed, self._episode)) % (2**31 - 1))
        world.daylight = _daylight(0)
        player = self._player = engine.Player(world, (AREA[0] // 2, AREA[1] // 2))
        self._last_health = player.health
        world.add(player)
        self._unlocked = set()
        self._achieved = 0
        worldgen.generate(world, player)
        self._rendered()
        return self._observe(), self._info(())

    def step(self, action):
        reward, terminated, truncated, unlocked = self._advance(action)
        return self._observe(), reward, terminated, truncated, self._info(unlocked)

    def _advance(self, action) -> tuple[float, bool, bool, tuple[str, ...]]:
        """crafter's ``Env.step`` up to the observation: reward, terminated, truncated, unlocked."""
        if not 0 <= action < len(ACTIONS):
            raise UsageError(f"invalid action {action!r}: expected 0..{len(ACTIONS) - 1}")
        if self._player is None:
            raise UsageError("step() called before reset()")
        self._step += 1
        world = self._world
        player = self._player
        world.daylight = _daylight(self._step)
        player.action = ACTIONS[action]
        # crafter updates the objects that exist at the start of the step, in
        # insertion order, when within twice the view distance of the player. The
        # player is always the first object (added first at reset), so everything
        # after it is checked against its new position; objects only ever move in
        # their own update, so their positions now are the ones crafter checks.
        existing = len(world._objects)
        player.update()
        px, py = player.pos
        objs = world._objects
        for index in engine.nearby_objects(world._obj_map, px, py, 2 * VIEW_DISTANCE, existing).tolist():
            obj = objs[index]
            if obj is not player:
                obj.update()
        if self._step % 10 == 0:
            self._balance()
        self._rendered()
        health = player.health
        reward = (health - self._last_health) / 10
        self._last_health = health
        unlocked = ()
        achieved = sum(player.achievements.values())
        if achieved != self._achieved:
            self._achieved = achieved
            unlocked = tuple(name for name, count in player.achievements.items()
                             if count > 0 and name not in self._unlocked)
            if unlocked:
                self._unlocked.update(unlocked)
                reward += 1.0
        dead = health <= 0
        over = bool(self._length) and self._step >= self._length
        if not self._reward:
            reward = 0.0
        return reward, dead, over and not dead, unlocked

    def render(self, size: int | None = None):
        """crafter's 64x64 image of the current state (the observation itself with pixels),
        or crafter's drawing at ``size`` x ``size`` pixels (recordings: at 512 the inventory
        strip, vitals included, is readable).

        Without pixel observations the image is drawn with a scratch random
        generator for the night noise, so rendering never changes the dynamics.
        """
        if self._obs_mode == "pixels" and size is None:
            return self._last_frame
        from crafter import engine as crafter_engine

        textures = _textures()
        unit = np.array([_UNIT, _UNIT]) if size is None else np.array([size // 9, size // 9])
        real = self._world.random
        self._world.random = engine.Random(self._step)
        try:
            local = crafter_engine.LocalView(self._world, textures, [9, 7])
            items = crafter_engine.ItemView(textures, [9, 2])
            return _compose(local(self._player, unit), items(self._player.inventory, unit),
                            IMAGE_SIZE if size is None else (size, size))
        finally:
            self._world.random = real

    @property
    def crafter(self) -> CrafterState:
        """The live crafter world and player. Trusted internal code only (see module doc)."""
        return CrafterState(self._world, self._player, self._step, self._episode)

    @property
    def seed(self) -> int:
        """The episode seed in use (the one given, or the one drawn)."""
        return self._seed

    # -- internals ---------------------------------------------------------------------

    def _rendered(self) -> None:
        """What crafter's per-step rendering does to the world: draw the image, or
        (without pixels) skip the random draws its night noise would have taken."""
        if self._obs_mode == "pixels":
            unit = np.array([_UNIT, _UNIT])
            self._last_frame = _compose(self._local_view(self._player, unit),
                                        self._item_view(self._player.inventory, unit))
        elif self._world.daylight < 0.5:
            self._world.random.skip_doubles(_NOISE_DRAWS)

    def _observe(self):
        if self._obs_mode == "pixels":
            return self._last_frame
        return observation.observe(self._world, self._player)

    def _info(self, unlocked) -> dict:
        player = self._player
        return {"achievements": dict(player.achievements), "inventory": dict(player.inventory),
                "unlocked": unlocked}

    def _balance(self) -> None:
        """crafter's ``Env._balance_chunk`` for every chunk: spawn and despawn creatures.

        Same draws in the same order as crafter; the material areas of all chunks
        come from one ``bincount`` and each chunk's creatures are counted once
        (a spawn or despawn of one kind never changes another kind's count).
        """
        world = self._world
        if len(world._objects) > 256 and 2 * world._objects.count(None) > len(world._objects):
            world.compact()
        light = world.daylight
        random = world.random
        cells, index = self._chunk_index
        area = np.bincount((cells + world._mat_map).ravel(), minlength=len(index) * _MAT_STRIDE).tolist()
        zombie_max = int(3.5 - 3 * light)
        cow_max = int(1.5 + light)
        for chunk, objs in list(world._chunks.items()):
            zombies = skeletons = cows = 0
            for obj in objs:
                kind = type(obj)
                if kind is engine.Zombie:
                    zombies += 1
                elif kind is engine.Skeleton:
                    skeletons += 1
                elif kind is engine.Cow:
                    cows += 1
            base = index[chunk] * _MAT_STRIDE
            grass, path = area[base + 2], area[base + 4]
            if zombies < (0 if grass < 50 else zombie_max) and random.uniform() < 0.3:
                self._spawn(chunk, 2, 6, engine.Zombie, True)
            elif zombies > zombie_max and random.uniform() < 0.4:
                self._despawn(objs, engine.Zombie, 0)
            if skeletons < (0 if path < 6 else 1) and random.uniform() < 0.1:
                self._spawn(chunk, 4, 7, engine.Skeleton, True)
            elif skeletons > 2 and random.uniform() < 0.1:
                self._despawn(objs, engine.Skeleton, 7)
            if cows < (0 if grass < 30 else 1) and random.uniform() < 0.01:
                self._spawn(chunk, 2, 5, engine.Cow, False)
            elif cows > cow_max and random.uniform() < 0.1:
                self._despawn(objs, engine.Cow, 5)

    def _spawn(self, chunk, material: int, span_dist: int, cls, hunts: bool) -> None:
        # crafter's Env._balance_object, spawn branch: a random cell of the material.
        world = self._world
        xmin, xmax, ymin, ymax = chunk
        xs, ys = (world._mat_map[xmin:xmax, ymin:ymax] == material).nonzero()
        i = world.random.randint(0, len(xs))
        pos = (xmin + int(xs[i]), ymin + int(ys[i]))
        if world[pos][1] is None and self._player.distance(pos) >= span_dist:
            world.add(cls(world, pos, self._player) if hunts else cls(world, pos))

    def _despawn(self, objs, cls, despan_dist: int) -> None:
        # crafter's Env._balance_object, despawn branch: a random creature of the chunk.
        creatures = [obj for obj in objs if isinstance(obj, cls)]
        obj = creatures[self._world.random.randint(0, len(creatures))]
        if self._player.distance(obj.pos) >= despan_dist:
            self._world.remove(obj)


def _chunk_index(area, chunk_size):
    """Per cell, its chunk's number times ``_MAT_STRIDE``; and each chunk key's number."""
    xs = range(0, area[0], chunk_size[0])
    ys = range(0, area[1], chunk_size[1])
    index, cells = {}, np.zeros(area, np.int64)
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            key = (x, min(x + chunk_size[0], area[0]), y, min(y + chunk_size[1], area[1]))
            index[key] = len(index)
            cells[key[0]:key[1], key[2]:key[3]] = index[key] * _MAT_STRIDE
    return cells, index


def _compose(local_view: np.ndarray, item_view: np.ndarray, image_size=IMAGE_SIZE) -> np.ndarray:
    # crafter's Env.render for a 9x9 view (64x64 by default).
    size = np.array(image_size)
    view = np.array([9, 9])
    canvas = np.zeros((*image_size, 3), np.uint8)
    image = np.concatenate([local_view, item_view], 1)
    border = (size - (size // view) * view) // 2
    (x, y), (w, h) = border, image.shape[:2]
    canvas[x: x + w, y: y + h] = image
    return canvas.transpose((1, 0, 2))


def make_vector_env(num_envs: int, seed: int | None = None, obs: str = "symbolic",
                    asynchronous: bool = False, autoreset_mode: str = "same_step", **kwargs):
    """``num_envs`` CrafterWorlds in gymnasium's ``SyncVectorEnv`` or ``AsyncVectorEnv``.

    Env ``i`` gets seed ``seed + i`` (all random when ``seed`` is None).
    ``autoreset_mode`` is gymnasium's: ``"same_step"`` (default: the step that
    ends an episode already returns the next episode's first observation; the
    last observation and info are in ``info["final_obs"]`` / ``info["final_info"]``)
    or ``"next_step"`` (gymnasium 1.x's default: the step after the end resets and
    ignores its action). Other keyword arguments go to :class:`CrafterWorld`.
    """
    from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise UsageError(f"invalid number of environments {num_envs!r}: expected an integer >= 1")
    seed = check_seed(seed)
    modes = {"same_step": AutoresetMode.SAME_STEP, "next_step": AutoresetMode.NEXT_STEP}
    if autoreset_mode not in modes:
        raise UsageError(f"unknown autoreset mode {autoreset_mode!r}: expected same_step or next_step")
    fns = [functools.partial(CrafterWorld, seed=None if seed is None else seed + i, obs=obs, **kwargs)
           for i in range(num_envs)]
    vector = AsyncVectorEnv if asynchronous else SyncVectorEnv
    return vector(fns, autoreset_mode=modes[autoreset_mode])


class CrafterVectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` CrafterWorlds stepped in this process, writing straight into batches.

    The fast path for training: no per-env observation dicts to stack and no
    nested ``info`` merging (gymnasium's ``SyncVectorEnv`` spends more time on
    those than on Crafter itself). Autoreset is gymnasium's ``SAME_STEP`` mode:
    the step that ends an episode returns the next episode's first observation,
    and ``info["final_obs"]`` (rows marked by ``info["_final_obs"]``) holds the
    last one. ``info`` always has ``achievements`` (int32, ``(num_envs, 22)``,
    cumulative counts of the episode that took the step, in ``ACHIEVEMENTS``
    order) and ``unlocked`` (bool, same shape: first reached by this step); when
    episodes end, ``info["episode"] = {"r": return, "l": length}`` with mask
    ``info["_episode"]``, as gymnasium's ``RecordEpisodeStatistics`` reports them.
    Env ``i`` is seeded ``seed + i``.
    """

    metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int, seed: int | None = None, obs: str = "symbolic", **kwargs):
        from gymnasium.vector.utils import batch_space

        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise UsageError(f"invalid number of environments {num_envs!r}: expected an integer >= 1")
        seed = check_seed(seed)
        self.envs = [CrafterWorld(seed=None if seed is None else seed + i, obs=obs, **kwargs)
                     for i in range(num_envs)]
        self.num_envs = num_envs
        self._pixels = obs == "pixels"
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.action_names = list(ACTIONS)
        self._returns = np.zeros(num_envs, np.float64)
        self._lengths = np.zeros(num_envs, np.int64)

    def _empty(self):
        if self._pixels:
            return np.empty((self.num_envs, *IMAGE_SIZE, 3), np.uint8)
        return observation.empty(self.num_envs)

    def _fill(self, out, i: int) -> None:
        env = self.envs[i]
        if self._pixels:
            out[i] = env._last_frame
        else:
            observation.fill(out, i, env._world, env._player)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        seeds = seed if isinstance(seed, (list, tuple)) else [
            None if seed is None else check_seed(seed) + i for i in range(self.num_envs)]
        out = self._empty()
        for i, (env, env_seed) in enumerate(zip(self.envs, seeds)):
            env.reset(seed=env_seed)
            self._fill(out, i)
        self._returns[:] = 0
        self._lengths[:] = 0
        return out, {}

    def step(self, actions):
        n = self.num_envs
        out = self._empty()
        rewards = np.zeros(n, np.float64)
        terminated = np.zeros(n, np.bool_)
        truncated = np.zeros(n, np.bool_)
        achievements = np.zeros((n, len(ACHIEVEMENTS)), np.int32)
        unlocked = np.zeros((n, len(ACHIEVEMENTS)), np.bool_)
        final_obs = ended = None
        for i, (env, action) in enumerate(zip(self.envs, np.asarray(actions).tolist())):
            reward, term, trunc, new = env._advance(action)
            rewards[i], terminated[i], truncated[i] = reward, term, trunc
            achievements[i] = list(env._player.achievements.values())
            for name in new:
                unlocked[i, ACHIEVEMENTS.index(name)] = True
            self._returns[i] += reward
            self._lengths[i] += 1
            if term or trunc:
                if final_obs is None:
                    final_obs, ended = self._empty(), np.zeros(n, np.bool_)
                self._fill(final_obs, i)
                ended[i] = True
                env.reset()
            self._fill(out, i)
        info = {"achievements": achievements, "unlocked": unlocked}
        if ended is not None:
            info["final_obs"], info["_final_obs"] = final_obs, ended
            info["episode"] = {"r": np.where(ended, self._returns, 0.0),
                               "l": np.where(ended, self._lengths, 0)}
            info["_episode"] = ended
            self._returns[ended] = 0
            self._lengths[ended] = 0
        return out, rewards, terminated, truncated, info

    def close_extras(self, **kwargs) -> None:
        for env in self.envs:
            env.close()
