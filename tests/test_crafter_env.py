"""CrafterWorld against crafter itself: same worlds, same dynamics, honest observations.

The reference is ``crafter.Env`` with one change: its chunks hold creatures in
insertion-ordered sets instead of ``set``s. Crafter picks the creature to despawn
by its position in a ``set`` of objects, which follows memory addresses, so
unpatched crafter does not even replay itself; CrafterWorld uses insertion order
(see ``rlgpt_cli.worlds.crafter.engine``).
"""

from __future__ import annotations

import collections
import subprocess
import sys

import numpy as np
import pytest

crafter = pytest.importorskip("crafter")

from rlgpt_cli.errors import NotFound, UsageError  # noqa: E402
from rlgpt_cli.worlds import base  # noqa: E402
from rlgpt_cli.worlds.crafter import engine, observation, worldgen  # noqa: E402
from rlgpt_cli.worlds.crafter.env import ACHIEVEMENTS, CrafterVectorEnv, CrafterWorld, make_vector_env  # noqa: E402

CRAFTER_CLASSES = (crafter.objects.Player, crafter.objects.Cow, crafter.objects.Zombie,
                   crafter.objects.Skeleton, crafter.objects.Arrow, crafter.objects.Plant,
                   crafter.objects.Fence)


class _InsertionOrderedSet(dict):
    def add(self, item):
        self[item] = None

    def remove(self, item):
        del self[item]


def reference_env(seed: int) -> crafter.Env:
    """``crafter.Env(seed)`` whose chunk sets iterate in insertion order."""
    env = crafter.Env(seed=seed)
    world = env._world
    reset = world.reset

    def ordered_reset(seed=None):
        reset(seed=seed)
        world._chunks = collections.defaultdict(_InsertionOrderedSet)

    world.reset = ordered_reset
    return env


def crafter_kind(obj) -> str:
    return next(cls.__name__ for cls in CRAFTER_CLASSES if isinstance(obj, cls))


def world_state(world) -> tuple:
    objs = [(crafter_kind(o), int(o.pos[0]), int(o.pos[1]), o.health) for o in world.objects]
    return world._mat_map.copy(), objs


def assert_same_state(ref: crafter.Env, ours: CrafterWorld, where) -> None:
    state = ours.crafter
    ref_map, ref_objs = world_state(ref._world)
    our_map, our_objs = world_state(state.world)
    assert np.array_equal(ref_map, our_map), f"material maps differ at {where}"
    assert ref_objs == our_objs, f"objects differ at {where}"
    assert tuple(ref._player.facing) == tuple(state.player.facing), where
    assert ref._player.sleeping == state.player.sleeping, where


def assert_view_matches_semantic(obs: dict, semantic: np.ndarray, player_pos) -> None:
    """Our 9x7 view shows exactly what crafter's semantic map shows around the player."""
    view = obs["view"]
    x0, y0 = player_pos[0] - 4, player_pos[1] - 3
    for i in range(9):
        for j in range(7):
            x, y = x0 + i, y0 + j
            if not (0 <= x < 64 and 0 <= y < 64):
                assert view[0, i, j] == 0 and view[1, i, j] == 0
                continue
            # crafter's semantic ids: materials 1..12, then Player 13 ... Plant 18.
            shown = semantic[x, y]
            if view[1, i, j] == 0:
                assert shown == view[0, i, j]
            else:
                assert shown == 12 + min(view[1, i, j], 6)


def run_lockstep(seed: int, steps: int, obs: str = "symbolic", check_obs: bool = False) -> int:
    """Step crafter.Env and CrafterWorld with the same random actions; return episodes ended."""
    ref, ours = reference_env(seed), CrafterWorld(seed=seed, obs=obs)
    ref_obs = ref.reset()
    our_obs, _ = ours.reset()
    assert_same_state(ref, ours, "reset")
    actions = np.random.RandomState(seed + 1).randint(17, size=steps).tolist()
    episodes = 0
    for t, action in enumerate(actions):
        ref_obs, ref_reward, done, ref_info = ref.step(action)
        our_obs, reward, terminated, truncated, info = ours.step(action)
        where = f"seed {seed} step {t} (episode {episodes + 1})"
        assert_same_state(ref, ours, where)
        assert info["inventory"] == ref_info["inventory"], where
        assert info["achievements"] == ref_info["achievements"], where
        assert reward == ref_reward, where
        assert done == (terminated or truncated), where
        assert terminated == (ref_info["discount"] == 0), where
        if obs == "pixels":
            assert np.array_equal(our_obs, ref_obs), where
        elif check_obs:
            assert_view_matches_semantic(our_obs, ref_info["semantic"], ref_info["player_pos"])
            assert our_obs["inventory"].tolist() == list(ref_info["inventory"].values())
            assert tuple(our_obs["pos"]) == tuple(ref_info["player_pos"])
        if done:
            ref_obs = ref.reset()
            our_obs, _ = ours.reset()
            episodes += 1
            assert_same_state(ref, ours, f"seed {seed} reset after step {t}")
    return episodes


# -- identical dynamics ----------------------------------------------------------------


def test_random_stream_matches_numpy():
    ours, ref = engine.Random(7), np.random.RandomState(7)
    for i in range(5000):
        kind = i % 4
        if kind == 0:
            assert ours.uniform() == ref.uniform()
        elif kind == 1:
            n = 1 + i % 37
            assert ours.randint(0, n) == ref.randint(0, n)
        elif kind == 2 and i % 40 == 2:
            assert np.array_equal(ours.uniform(32, 127, (63, 49)), ref.uniform(32, 127, (63, 49)))
        elif kind == 3 and i % 100 == 3:
            ours.skip_doubles(3087 + i)
            ref.random_sample(3087 + i)
    assert ours.uniform() == ref.uniform()


@pytest.mark.parametrize("seed", [0, 1, 123456789, 2**31 - 2])
def test_world_generation_matches_crafter(seed):
    ref = crafter.engine.World((64, 64), crafter.constants.materials, (12, 12))
    ref.reset(seed=seed)
    ref_player = crafter.objects.Player(ref, (32, 32))
    ref.add(ref_player)
    crafter.worldgen.generate_world(ref, ref_player)
    ours = engine.World((64, 64))
    ours.reset(seed=seed)
    player = engine.Player(ours, (32, 32))
    ours.add(player)
    worldgen.generate(ours, player)
    assert world_state(ours)[0].tolist() == world_state(ref)[0].tolist()
    assert world_state(ours)[1] == world_state(ref)[1]
    assert ours.random.uniform() == ref.random.uniform()  # same position in the random stream


def test_dynamics_identical_to_crafter():
    episodes = sum(run_lockstep(seed, 1200, check_obs=True) for seed in (0, 1))
    assert episodes >= 8  # random play dies every ~170 steps: resets are exercised


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 4, 5])
def test_dynamics_identical_to_crafter_long(seed):
    assert run_lockstep(seed, 5000) >= 10


def test_pixels_identical_to_crafter():
    # 400 steps reach night (from step ~148), where crafter's renderer draws noise.
    run_lockstep(11, 400, obs="pixels")


def test_long_episode_dynamics():
    # Random play dies within ~170 steps. Refilling both players' vitals after every
    # step (the same change in both worlds) keeps one episode going through several
    # day/night cycles: night spawns, despawns, skeleton arrows, object-list compaction.
    ref, ours = reference_env(5), CrafterWorld(seed=5)
    ref.reset()
    ours.reset()
    actions = np.random.RandomState(3).randint(17, size=1500).tolist()
    for t, action in enumerate(actions):
        _, r1, d1, _ = ref.step(action)
        _, r2, terminated, truncated, _ = ours.step(action)
        assert_same_state(ref, ours, f"step {t}")
        assert (r1, d1) == (r2, terminated or truncated)
        for player in (ref._player, ours.crafter.player):
            player.inventory.update(health=9, food=9, drink=9, energy=9)
    assert not d1


# -- observations ---------------------------------------------------------------------


def test_symbolic_observation_in_space():
    env = CrafterWorld(seed=3)
    obs, info = env.reset()
    assert env.observation_space.contains(obs)
    for key, (shape, dtype) in observation.FIELDS.items():
        assert obs[key].shape == shape and obs[key].dtype == dtype
    assert obs["view"][1, 4, 3] == observation.OBJECT_IDS["player"]
    assert set(info) == {"achievements", "inventory", "unlocked"}
    for action in range(17):
        obs, _, _, _, info = env.step(action)
        assert env.observation_space.contains(obs)
    assert env.action_names == list(crafter.constants.actions)


def test_pixel_observation_in_space():
    env = CrafterWorld(seed=3, obs="pixels")
    obs, _ = env.reset()
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("pos", [(0, 0), (63, 63), (2, 61), (40, 1), (4, 3), (59, 60)])
def test_view_at_world_edges(pos):
    env = CrafterWorld(seed=3)
    env.reset()
    world, player = env.crafter.world, env.crafter.player
    if world[pos][1] is not None:
        world.remove(world[pos][1])
    world.move(player, pos)
    view = observation.observe(world, player)["view"]
    padded = np.zeros((64 + 8, 64 + 6), np.uint8)
    padded[4:68, 3:67] = world._mat_map
    assert np.array_equal(view[0], padded[pos[0]:pos[0] + 9, pos[1]:pos[1] + 7])
    assert view[1, 4, 3] == observation.OBJECT_IDS["player"]
    for obj in world.objects:
        i, j = obj.pos[0] - pos[0] + 4, obj.pos[1] - pos[1] + 3
        if 0 <= i < 9 and 0 <= j < 7:
            assert view[1, i, j] == observation.object_id(obj)
    assert np.count_nonzero(view[1]) == sum(
        abs(o.pos[0] - pos[0]) <= 4 and abs(o.pos[1] - pos[1]) <= 3 for o in world.objects)


def test_render_does_not_change_dynamics():
    plain, rendered = CrafterWorld(seed=9), CrafterWorld(seed=9)
    plain.reset()
    rendered.reset()
    for t in range(300):
        _, r1, *_ = plain.step(t % 17)
        frame = rendered.render()
        _, r2, *_ = rendered.step(t % 17)
        assert r1 == r2
    assert frame.shape == (64, 64, 3)
    assert np.array_equal(world_state(plain.crafter.world)[0], world_state(rendered.crafter.world)[0])


# -- seeds, episodes, errors ----------------------------------------------------------


def test_reset_seed_semantics():
    a, b = CrafterWorld(seed=42), CrafterWorld(seed=7)
    first, _ = a.reset()
    again, _ = b.reset(seed=42)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert np.array_equal(a.crafter.world._mat_map, b.crafter.world._mat_map)
    a.reset()  # episode 2 of seed 42: a different world
    assert not np.array_equal(a.crafter.world._mat_map, b.crafter.world._mat_map)
    assert a.crafter.episode == 2


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_invalid_seed_is_usage_error(seed):
    with pytest.raises(UsageError):
        CrafterWorld(seed=seed)
    with pytest.raises(UsageError):
        CrafterWorld(seed=0).reset(seed=seed)


def test_invalid_arguments():
    with pytest.raises(UsageError):
        CrafterWorld(obs="rgb")
    env = CrafterWorld(seed=0)
    with pytest.raises(UsageError):
        env.step(0)  # before reset
    env.reset()
    with pytest.raises(UsageError):
        env.step(17)


def test_truncation_and_no_reward():
    env = CrafterWorld(seed=0, length=5, reward=False)
    env.reset()
    ends = [env.step(0)[2:4] for _ in range(5)]
    assert ends[-1] == (False, True) and all(end == (False, False) for end in ends[:-1])
    assert env.step(0)[1] == 0.0


# -- vector envs and registry ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_vector_env(mode):
    envs = make_vector_env(3, seed=0, autoreset_mode=mode, length=4)
    obs, _ = envs.reset(seed=0)
    assert obs["view"].shape == (3, 2, 9, 7)
    for _ in range(5):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert reward.shape == (3,)
    envs.close()
    with pytest.raises(UsageError):
        make_vector_env(0)


@pytest.mark.parametrize("obs", ["symbolic", "pixels"])
def test_fast_vector_env_matches_single_worlds(obs):
    steps = 400 if obs == "symbolic" else 60
    envs = CrafterVectorEnv(2, seed=10, obs=obs, length=50)
    singles = [CrafterWorld(seed=10 + i, obs=obs, length=50) for i in range(2)]
    batch, _ = envs.reset(seed=10)
    firsts = [env.reset(seed=10 + i)[0] for i, env in enumerate(singles)]
    key = (lambda o: o["view"]) if obs == "symbolic" else (lambda o: o)
    for i in range(2):
        assert np.array_equal(key(batch)[i], key(firsts[i]))
    actions = np.random.RandomState(0).randint(17, size=(steps, 2))
    returns, ended = [0.0, 0.0], 0
    for row in actions:
        batch, rewards, terminated, truncated, info = envs.step(row)
        for i, env in enumerate(singles):
            single, reward, term, trunc, single_info = env.step(int(row[i]))
            returns[i] += reward
            assert (rewards[i], terminated[i], truncated[i]) == (reward, term, trunc)
            assert info["achievements"][i].tolist() == [single_info["achievements"][a] for a in ACHIEVEMENTS]
            assert [ACHIEVEMENTS[j] for j in info["unlocked"][i].nonzero()[0]] == list(single_info["unlocked"])
            if term or trunc:
                ended += 1
                assert info["_final_obs"][i] and info["_episode"][i]
                assert np.array_equal(key(info["final_obs"])[i], key(single))
                assert info["episode"]["r"][i] == pytest.approx(returns[i])
                returns[i] = 0.0
                single, _ = env.reset()
            assert np.array_equal(key(batch)[i], key(single))
    assert ended >= 2


def test_registry():
    names = [entry.name for entry in base.list_worlds()]
    assert "crafter" in names
    world = base.get_world("crafter", seed=1)
    assert isinstance(world, CrafterWorld) and isinstance(world, base.World)
    with pytest.raises(NotFound, match="crafter"):
        base.get_world("crafterr")
    base.register_world("toy", lambda **kw: "toy world", "a test world", lambda: (False, "no toys"))
    try:
        from rlgpt_cli.errors import WorldError

        with pytest.raises(WorldError, match="no toys"):
            base.get_world("toy")
    finally:
        base._REGISTRY.pop("toy")


def test_registry_import_is_light():
    code = ("import sys, rlgpt_cli.worlds.base as b; b.list_worlds(); "
            "print(sorted(m for m in ('crafter', 'gymnasium', 'numpy', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
