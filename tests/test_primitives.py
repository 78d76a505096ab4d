"""The primitive API code skills call (CrafterAPI), driven the way the skill runner drives it."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from rlgpt_cli.worlds.crafter import primitives
from rlgpt_cli.worlds.crafter.env import CrafterWorld
from rlgpt_cli.worlds.crafter.primitives import MATERIAL_IDS, UNKNOWN, CrafterAPI


def drive(skill, seed: int, max_steps: int = 2000, setup=None, **api_options):
    """The runner's loop: step the world with each yielded action, observe, resume."""
    env = CrafterWorld(seed=seed, length=max_steps)
    obs, info = env.reset()
    if setup is not None:
        setup(env.crafter.world, env.crafter.player)  # test scaffolding only: skills never see this
        obs = env._observe()
    api = CrafterAPI(**api_options)
    api.observe(obs, info)
    result = {"ok": None, "dead": False}

    def wrapped(api):
        result["ok"] = yield from skill(api)

    for action in wrapped(api):
        obs, _, terminated, truncated, info = env.step(env.action_names.index(action))
        api.observe(obs, info)
        if terminated or truncated:
            result["dead"] = terminated
            break
    return api, env, result


def _obs(pos=(10, 10), view=None, inventory=None):
    return {
        "view": np.zeros((2, 9, 7), np.uint8) if view is None else view,
        "inventory": np.array(inventory or [9, 9, 9, 9] + [0] * 12, np.uint8),
        "daylight": np.array([1.0], np.float32),
        "facing": np.array([0, 1], np.int8),
        "pos": np.array(pos, np.int16),
        "sleeping": np.array([0], np.uint8),
    }


def test_observe_builds_the_memory_map():
    view = np.zeros((2, 9, 7), np.uint8)
    view[0] = MATERIAL_IDS["grass"]
    view[0, 0, 0] = MATERIAL_IDS["tree"]  # world (10-4, 10-3)
    view[0, 8, 6] = MATERIAL_IDS["water"]  # world (14, 13)
    view[1, 5, 3] = primitives.OBJECT_IDS["cow"]  # world (11, 10)
    view[1, 4, 3] = primitives.OBJECT_IDS["player"]
    api = CrafterAPI()
    api.observe(_obs(view=view), {"achievements": {"collect_wood": 0}})
    assert api.map[6, 7] == MATERIAL_IDS["tree"] and api.map[14, 13] == MATERIAL_IDS["water"]
    assert api.map[5, 7] == UNKNOWN and api.map[15, 13] == UNKNOWN
    assert api.seen("cow") == [(11, 10)] and api.seen("tree") == [(6, 7)]
    assert api.nearby("cow", 1) == [(11, 10)] and api.nearby("tree", 2) == []
    assert api.pos == (10, 10) and api.facing == (0, 1) and api.inventory["health"] == 9
    # Off the world's edge the view holds 0: it stays unknown, never "outside" in the map.
    bare = view.copy()
    bare[1] = 0
    api.observe(_obs(pos=(1, 1), view=bare))
    assert api.map[0, 0] == MATERIAL_IDS["grass"] and (api.map >= UNKNOWN).all()
    # The cow's cell was seen again without the cow: it is forgotten there.
    api.observe(_obs(view=bare))
    assert api.seen("cow") == []


def test_queries_use_the_recipe_graph():
    api = CrafterAPI()
    api.observe(_obs(inventory=[9, 9, 9, 9, 0, 3] + [0] * 10))
    assert api.has("wood", 3) and not api.has("wood", 4)
    assert api.requirements("stone_pickaxe").nearby == ("table",)
    assert api.can_make("wood_pickaxe")  # 1 wood + a table (2 wood) it can place
    assert not api.can_make("stone_pickaxe")


def test_primitives_give_up_without_materials_or_tools():
    api = CrafterAPI()
    api.observe(_obs())
    for primitive in (api.collect("diamond"), api.make("iron_pickaxe"), api.place("table")):
        # A failure that took no step spends one noop, so retry loops always advance the world.
        assert next(primitive) == "noop"
        api.observe(_obs())
        with pytest.raises(StopIteration) as stop:
            next(primitive)
        assert stop.value.value is False


def test_primitives_are_bounded():
    # No diamond near the start: navigation explores, then gives up at its cap.
    api, _, result = drive(lambda api: api.navigate_to("diamond", max_steps=40), seed=3,
                           auto_survive=False)
    assert api.step <= 40 + 3 and result["ok"] in (True, False)
    api, _, result = drive(lambda api: api.explore(25), seed=3, auto_survive=False)
    assert api.step <= 25 + 4 and result["ok"] is True  # a dig in progress may finish


def test_never_steps_into_lava():
    def lava_moat(world, player):
        x, y = player.pos
        for dx in range(-3, 4):
            for dy in range(-3, 4):
                world[(x + dx, y + dy)] = "grass"
        for dy in range(-3, 4):
            world[(x + 1, y + dy)] = "lava"  # a wall of lava right of the player...
        world[(x + 1, y - 3)] = "grass"  # ...with a way round at the top
        world[(x + 3, y)] = "tree"
        for obj in list(world.objects):
            if obj is not player:
                world.remove(obj)

    api, env, result = drive(lambda api: api.collect("wood", 1, max_steps=60), seed=0,
                             setup=lava_moat, auto_survive=False)
    assert not result["dead"] and result["ok"] is True


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_wood_pickaxe_from_a_fresh_world(seed):
    def skill(api):
        yield from api.collect("wood", 3)
        yield from api.place("table")
        return (yield from api.make("wood_pickaxe"))

    api, env, result = drive(skill, seed=seed, max_steps=600)
    assert result["ok"] is True and api.has("wood_pickaxe")
    assert api.achievements["place_table"] and api.achievements["make_wood_pickaxe"]


def test_make_places_a_missing_table():
    def skill(api):
        yield from api.collect("wood", 3)
        return (yield from api.make("wood_pickaxe"))

    api, _, result = drive(skill, seed=5, max_steps=600)
    assert result["ok"] is True and api.nearby("table", 1)


def test_make_collects_what_a_missing_station_takes():
    # One wood makes a pickaxe but not the table it needs (an arrow turns a table or furnace
    # into path, so a station can be gone when its tool is due): make collects for both.
    def setup(world, player):
        player.inventory["wood"] = 1

    def skill(api):
        return (yield from api.make("wood_pickaxe"))

    api, _, result = drive(skill, seed=5, max_steps=600, setup=setup)
    assert result["ok"] is True and api.has("wood_pickaxe") and api.nearby("table", 1)


def test_shelter_seals_the_player_in_for_the_night():
    def skill(api):
        yield from api.collect("wood", 3)
        yield from api.make("wood_pickaxe")
        return (yield from api.shelter())

    api, _, result = drive(skill, seed=1, max_steps=800, auto_survive=False)
    assert result["ok"] is True and api._sealed()
    walkable = {MATERIAL_IDS[m] for m in ("grass", "sand", "path")}
    around = [int(api.map[n]) for n in api._neighbours(api.pos)]
    assert sum(m in walkable for m in around) <= 1


def test_every_primitive_documents_itself_for_the_prompt():
    from rlgpt_cli.worlds.base import get_kit

    text = json.dumps(get_kit("crafter").api_docs())
    assert "n: int = 1" in text  # annotations read as types, not as quoted strings
    for name in ("navigate_to", "face", "collect", "place", "make", "sleep", "attack", "eat",
                 "drink", "explore", "survive", "shelter", "fence", "has", "nearby", "seen", "can_make",
                 "requirements"):
        method = getattr(CrafterAPI, name)
        assert inspect.getdoc(method), name
        assert f"{name}(" in text
    assert "_enter" not in text


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])  # seed 0 dies to a night swarm without a sword
def test_tech_tree_to_iron_pickaxe(seed):
    def skill(api):
        for step in (lambda: api.collect("wood", 6), lambda: api.make("wood_pickaxe"),
                     lambda: api.collect("stone", 6), lambda: api.make("stone_pickaxe"),
                     lambda: api.collect("coal", 1), lambda: api.collect("iron", 1, max_steps=2000),
                     lambda: api.make("iron_pickaxe")):
            if not (yield from step()):
                return False
        return True

    api, _, result = drive(skill, seed=seed, max_steps=5000)
    assert result["ok"] is True and api.has("iron_pickaxe")


def test_survives_the_first_night_sealed_in():
    # A plain skill that keeps mining through the evening: the survival reflexes top up
    # food and water, seal the player in for the night and bring it out alive at dawn.
    dark = []

    def skill(api):
        yield from api.collect("wood", 5)
        yield from api.make("wood_pickaxe")
        yield from api.make("wood_sword")
        while api.step < 420:
            yield from api.collect("stone", 9)
            yield from api.explore(20)
        return True

    def checked(api):
        inner = skill(api)
        try:
            while True:
                yield next(inner)
                if api.daylight < 0.1:  # the darkest part of the night
                    dark.append(api._sealed())
        except StopIteration as stop:
            return stop.value

    api, _, result = drive(checked, seed=9, max_steps=450)
    assert not result["dead"] and api.step >= 420
    assert dark and sum(dark) >= 0.75 * len(dark) and dark[-1]  # sealed in for the darkest hours
    assert api.achievements["place_stone"] and api.achievements["wake_up"]


def test_daylight_clock_reads_time_to_dawn():
    api = CrafterAPI()
    for step, daylight in ((0, 0.8), (200, 0.016), (250, 0.24)):
        api.daylight, api._daylight_before = daylight, daylight - 0.01  # rising
        assert api._steps_to(primitives.DAWN) < 100
    api.daylight, api._daylight_before = 0.47, 0.5  # falling: evening, about 160 steps to dawn
    assert 140 < api._steps_to(primitives.DAWN) < 175 and api._evening() and not api._dark()
    api.daylight, api._daylight_before = 0.1, 0.12  # falling, nearly night: time to hide
    assert api._evening() and api._dark()


def test_water_is_no_shelter_wall():
    # Zombies cannot cross water but arrows fly over it: a pocket by water is not sealed.
    api = CrafterAPI()
    view = np.zeros((2, 9, 7), np.uint8)
    view[0] = MATERIAL_IDS["stone"]
    view[0, 4, 3] = view[0, 4, 4] = MATERIAL_IDS["path"]  # the player's cell and one below
    api.observe(_obs(view=view))
    assert api._sealed()
    view[0, 5, 4] = MATERIAL_IDS["water"]
    api.observe(_obs(view=view))
    assert not api._sealed()


def _reference_dijkstra(cost, start, goals=None):
    """The pure-Python search the compiled one replaced (heapq over (distance, cell))."""
    import heapq

    w, h = cost.shape
    dist = np.full(cost.shape, np.inf)
    parent = {}
    dist[start] = 0.0
    heap = [(0.0, start)]
    while heap:
        d, cell = heapq.heappop(heap)
        if d > dist[cell]:
            continue
        if goals is not None and cell in goals:
            return dist, parent, cell
        x, y = cell
        for n in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
            if 0 <= n[0] < w and 0 <= n[1] < h:
                nd = d + cost[n]
                if nd < dist[n]:
                    dist[n], parent[n] = nd, cell
                    heapq.heappush(heap, (nd, n))
    return dist, parent, None


@pytest.mark.parametrize("seed", range(6))
def test_compiled_path_finding_matches_the_reference_bit_for_bit(seed):
    from rlgpt_cli.worlds.crafter import pathing

    rng = np.random.default_rng(seed)
    # Few distinct costs (many ties), walls, and the map's size.
    cost = rng.choice([1.0, 1.5, 2.0, 3.0, 4.0, np.inf], size=(64, 64), p=[.5, .2, .1, .05, .05, .1])
    start = (int(rng.integers(64)), int(rng.integers(64)))
    cost[start] = 1.0
    for goals in (None, {(int(rng.integers(64)), int(rng.integers(64))) for _ in range(5)}):
        dist, parents, reached = pathing.shortest_paths(cost, start, goals)
        ref_dist, ref_parent, ref_reached = _reference_dijkstra(cost, start, goals)
        assert reached == ref_reached
        assert np.array_equal(dist, ref_dist)  # inf where unreachable, equal floats elsewhere
        px, py = parents
        assert {(x, y): (int(px[x, y]), int(py[x, y])) for x, y in zip(*np.nonzero(px >= 0))} == ref_parent
        if reached is not None:
            path = pathing.unwind(parents, reached, start)
            assert path[-1] == reached and len(path) == len(set(path))


@pytest.mark.parametrize("seed", [2, 4, 6])  # others: an arrow or the dusk gets to the sapling first
def test_fence_walls_a_sapling_in_so_nothing_can_step_next_to_it(seed):
    def skill(api):
        yield from api.collect("wood", 3)
        yield from api.make("wood_pickaxe")
        yield from api.collect("sapling", 1)
        yield from api.place("plant")
        return (yield from api.fence("plant"))

    def no_cows(world, player):  # a cow next to the sapling would eat it before the walls are up
        for obj in [o for o in world.objects if type(o).__name__ == "Cow"]:
            world.remove(obj)

    api, env, result = drive(skill, seed=seed, max_steps=1000, setup=no_cows)
    assert result["ok"] is True
    world = env.crafter.world
    plant = next(o for o in world.objects if type(o).__name__ == "Plant")
    sides = [world[(plant.pos[0] + dx, plant.pos[1] + dy)][0] for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    assert not set(sides) & {"grass", "sand", "path"}, sides  # the world's truth, not the API's memory
    assert tuple(plant.pos) in api.seen("plant")
