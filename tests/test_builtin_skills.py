"""The built-in skill pack (top-level skills/): sandbox rules, metadata, and real runs in Crafter."""

from __future__ import annotations

import ast

import pytest

from rlgpt_cli import sandbox
from rlgpt_cli.library import Library, parse_code_skill
from rlgpt_cli.runner.skills import run_skill
from rlgpt_cli.resources import builtin_skills_dir

PACK = sorted(builtin_skills_dir().glob("*.py"))
# The goto_* skills are the macro-actions RL-GPT adds to a policy's action space: one per target.
GOTO_TARGETS = {"tree", "water", "stone", "coal", "iron", "diamond", "table", "cow"}


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return Library(tmp_path_factory.mktemp("lib"), builtin_dirs=[builtin_skills_dir()])


def test_pack_has_the_primitives_and_macro_actions(library):
    names = {s.name for s in library.list()}
    expected = {f"goto_{t}" for t in GOTO_TARGETS} | {"explore", "survive", "eat_cow", "defeat_zombie", "wake_up"} | \
        {f"collect_{m}" for m in ("wood", "stone", "coal", "iron", "diamond", "drink", "sapling")} | \
        {f"place_{m}" for m in ("table", "furnace", "plant", "stone")} | \
        {f"make_{t}_{k}" for t in ("wood", "stone", "iron") for k in ("pickaxe", "sword")}
    assert expected <= names


@pytest.mark.parametrize("path", PACK, ids=[p.stem for p in PACK])
def test_each_skill_passes_the_sandbox(path):
    source = path.read_text()
    meta = parse_code_skill(source)
    assert meta["name"] == path.stem
    assert meta["world"] == "crafter"
    assert set(meta["preconditions"]) == {"inventory", "nearby"} and set(meta["effects"]) == {"inventory", "nearby"}
    assert sandbox.check_source(source, path.stem) == []
    sandbox.load_module(source, path.stem)  # the module body runs under the limits


def test_verify_finds_every_builtin_ok(library):
    report = library.verify()
    assert len(report) == len(PACK)
    assert all(r["status"] == "ok" for r in report), [r for r in report if r["status"] != "ok"]


def test_skills_reach_only_what_the_api_opts_in():
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    used = {node.attr for path in PACK for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "api"}
    assert used and used <= set(CrafterAPI.__sandbox_attrs__), used - set(CrafterAPI.__sandbox_attrs__)


def test_metadata_matches_crafter_recipes(library):
    from rlgpt_cli.worlds.crafter import recipes

    achievements = set(recipes.achievements())
    for skill in library.list():
        kind, _, item = skill.name.partition("_")
        if kind not in ("collect", "place", "make"):
            continue
        assert skill.name in achievements
        recipe = recipes.requirements(skill.name)
        needs = dict(recipe.tools) if recipe.kind == "collect" else dict(recipe.uses)
        assert skill.preconditions == {"inventory": needs, "nearby": list(recipe.nearby)}, skill.name
        if recipe.kind == "place":
            assert skill.effects["nearby"] == [item], skill.name
        else:
            assert skill.effects["inventory"] == {item: 1}, skill.name


def test_default_plugin_registers_the_pack():
    from rlgpt_cli.default_plugins.builtin_skills import register_skills

    got = []
    register_skills(got.append)
    assert sorted(s.name for s in got) == [p.stem for p in PACK]
    assert all(s.provenance == {"source": "builtin"} for s in got)


def fresh_world(seed):
    from rlgpt_cli.worlds.crafter.env import CrafterWorld
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    env = CrafterWorld()
    obs, info = env.reset(seed=seed)
    api = CrafterAPI()
    api.observe(obs, info)
    return env, api


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wood_pickaxe_from_three_builtin_skills(library, seed):
    env, api = fresh_world(seed)
    for name, params in [("collect_wood", {"n": 3}), ("place_table", {}), ("make_wood_pickaxe", {})]:
        result = run_skill(library.get(name), env, api, max_steps=500, params=params, seed=seed)
        assert result.error is None and result.finished and result.returned is True, (name, result)
    assert api.inventory["wood_pickaxe"] == 1
    assert api.achievements["make_wood_pickaxe"] == 1


@pytest.mark.parametrize("seed, stone_near", [(0, False), (1, True), (2, True)])
def test_stay_alive_arms_itself_and_puts_stone_by_before_the_first_night(library, seed, stone_near):
    """A sword kills a zombie in 3 hits rather than 5, and on open ground a night needs six
    stones to wall the player in: both come first, by day (dusk falls near step 160); the stone
    only where some is close (seed 0 starts far from any: a trip there costs food)."""
    env, api = fresh_world(seed)
    result = run_skill(library.get("stay_alive"), env, api, max_steps=150, params={"steps": 150}, seed=seed)
    assert result.error is None and result.steps == 150
    assert api.has("wood_pickaxe") and api.has("wood_sword")
    assert (api.inventory["stone"] >= 6) == stone_near


def test_every_skill_runs_in_the_sandbox_from_a_fresh_world(library):
    """A short run of each: nothing the skill touches is refused at run time."""
    for skill in library.list():
        env, api = fresh_world(0)
        result = run_skill(skill, env, api, max_steps=40, seed=0)
        assert result.error is None, (skill.name, result.error)
