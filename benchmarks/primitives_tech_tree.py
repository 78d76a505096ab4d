"""How far a plain composition of the Crafter primitives gets up the tech tree.

The skill below is what a fast agent could write from the primitive API's
docstrings alone: wood -> table -> wood pickaxe (and sword) -> stone -> stone
pickaxe (and sword) -> coal -> iron -> furnace + iron pickaxe -> diamond, each
step retried until it succeeds, with the primitives' built-in survival (drink,
eat, sleep sealed in at night, fight). It runs in ``CrafterWorld`` driven
exactly like the skill runner drives code skills (observations only), and
reports per step the share of episodes that reached it.

    python benchmarks/primitives_tech_tree.py [--seeds 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

# The tech tree in order, as crafter achievements.
CHAIN = ("collect_wood", "place_table", "make_wood_pickaxe", "collect_stone", "make_stone_pickaxe",
         "collect_coal", "collect_iron", "place_furnace", "make_iron_pickaxe", "collect_diamond")


def tech_tree(api):
    """The composed skill: each stage's primitive, retried until its goal holds."""
    # Wood for everything on the way, and for a second table by the iron: walking back to
    # the first one from the mountains costs more than the two wood (9 is the cap).
    wood_for = {"table": 2, "wood_pickaxe": 1, "wood_sword": 1, "stone_pickaxe": 1,
                "stone_sword": 1, "iron_pickaxe": 1, "second_table": 2}
    stages = (
        (lambda: api.has("wood", sum(wood_for.values())) or api.has("wood_pickaxe"),
         lambda: api.collect("wood", sum(wood_for.values()) - api.inventory["wood"])),
        (lambda: api.has("wood_pickaxe"), lambda: api.make("wood_pickaxe")),
        (lambda: api.has("wood_sword"), lambda: api.make("wood_sword")),
        (lambda: api.has("stone", 6) or api.has("stone_pickaxe"),
         lambda: api.collect("stone", 6 - api.inventory["stone"])),
        (lambda: api.has("stone_pickaxe"), lambda: api.make("stone_pickaxe")),
        (lambda: api.has("stone_sword"), lambda: api.make("stone_sword")),
        (lambda: api.has("coal") or api.has("iron_pickaxe"), lambda: api.collect("coal", 1)),
        (lambda: api.has("iron") or api.has("iron_pickaxe"), lambda: api.collect("iron", 1, max_steps=1500)),
        (lambda: api.has("iron_pickaxe"), lambda: api.make("iron_pickaxe", max_steps=400)),
        (lambda: api.has("diamond"), lambda: api.collect("diamond", 1, max_steps=3000)),
    )
    for done, act in stages:
        while not done():
            if not api.has("wood") and not api.has("iron_pickaxe"):  # crafting ate the spare wood
                yield from api.collect("wood", 2)
            yield from act()


def episode(seed: int, length: int) -> dict:
    """One episode: which chain steps were reached, and when."""
    from rlgpt_cli.worlds.crafter.env import CrafterWorld
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    env = CrafterWorld(seed=seed, length=length)
    obs, info = env.reset()
    api = CrafterAPI()
    api.observe(obs, info)
    reached: dict[str, int] = {}
    start = time.perf_counter()
    terminated = False
    for action in tech_tree(api):
        obs, _, terminated, truncated, info = env.step(env.action_names.index(action))
        api.observe(obs, info)
        for name in info["unlocked"]:
            reached.setdefault(name, api.step)
        if terminated or truncated:
            break
    return {"seed": seed, "steps": api.step, "died": bool(terminated), "reached": reached,
            "achievements": sorted(k for k, v in info["achievements"].items() if v),
            "seconds": round(time.perf_counter() - start, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="episodes (seeds 0..N-1)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--length", type=int, default=10_000, help="episode step limit")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    args = parser.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        episodes = list(pool.map(episode, seeds, [args.length] * len(seeds)))
    n = len(episodes)
    rates = {name: sum(name in e["reached"] for e in episodes) / n for name in CHAIN}
    diamond_steps = [e["reached"]["collect_diamond"] for e in episodes if "collect_diamond" in e["reached"]]
    summary = {
        "episodes": n, "length": args.length, "success_rate": rates,
        "died": sum(e["died"] for e in episodes) / n,
        "median_steps_to_diamond": statistics.median(diamond_steps) if diamond_steps else None,
        "mean_achievements": statistics.mean(len(e["achievements"]) for e in episodes),
        "seconds": round(time.perf_counter() - start, 1), "per_episode": episodes,
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
        return 0
    print(f"{n} episodes (seeds {seeds.start}..{seeds.stop - 1}), {args.length} steps max, "
          f"{summary['seconds']} s")
    for name in CHAIN:
        print(f"  {name:20s} {rates[name]:6.0%}")
    print(f"  died {summary['died']:.0%}; median steps to a diamond: {summary['median_steps_to_diamond']}; "
          f"mean achievements {summary['mean_achievements']:.1f}/22")
    return 0


if __name__ == "__main__":
    sys.exit(main())
