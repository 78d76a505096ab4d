"""How the composed agent dies: death rate, and the cause of every death, per stage.

    python benchmarks/deaths.py [--json] [--task "obtain diamond"] [--episodes 100] [--home DIR]
                                [--first-seed 1000000] [--out benchmarks/results/deaths.json]

Plans TASK with `rlgpt plan` (the offline model unless RLGPT_MODEL is set; the plan iterate
validated when --home holds one), then runs the plan's skills on held-out seeds in this process,
watching every step from outside the agent (the world's own state, which the agent never sees):
each health loss is put down to a zombie's hit, an arrow, lava, or a vital at zero (hunger,
thirst, fatigue), and a death to the cause of its last loss. Reports the death rate, the causes
counted, the stage each death happened in, whether it was dark, and the diamond (task) rate.
The stages run under the library's survival guard (`survival_guard`), as `rlgpt run` does;
`--no-guard` runs them without it, on the same seeds, for the paired comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

CAUSES = ("zombie", "arrow", "lava", "hunger", "thirst", "fatigue", "unknown")


def rlgpt(*args: str, env: dict) -> dict:
    cmd = [sys.executable, "-m", "rlgpt_cli", "--json", "--quiet", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if not proc.stdout.strip():
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


class Autopsy:
    """A world wrapper that puts every health loss down to its cause, from the world's state."""

    def __init__(self, world):
        self.world = world
        self.action_names = world.action_names
        self.losses: list[tuple[int, str, int]] = []  # (step, cause, health lost)
        self.steps = 0
        self.dark_at_death = None

    def __getattr__(self, name):  # reset, close, crafter: the world's own
        return getattr(self.world, name)

    def step(self, action):
        state = self.world.crafter
        player = state.player
        before = player.health
        vitals = {k: player.inventory[k] for k in ("food", "drink", "energy")}
        out = self.world.step(action)
        self.steps += 1
        lost = before - max(0, player.health)
        if lost > 0:
            vitals = {k: min(v, player.inventory[k]) for k, v in vitals.items()}  # may reach 0 this step
            self.losses.append((self.steps, self._cause(state.world, player, lost, vitals), lost))
        if out[2]:
            self.dark_at_death = float(state.world.daylight) < 0.3
        return out

    @staticmethod
    def _cause(world, player, lost: int, vitals: dict) -> str:
        from crafter import objects

        if world[player.pos][0] == "lava":
            return "lava"
        near = [o for o in world.objects if o is not player and max(abs(o.pos[0] - player.pos[0]),
                                                                     abs(o.pos[1] - player.pos[1])) <= 1]
        # A zombie that just hit has its cooldown freshly set to 5.
        if any(isinstance(o, objects.Zombie) and o.cooldown == 5 for o in near):
            return "zombie"
        if lost >= 2:  # not a zombie, not lava: only an arrow takes 2 at once
            return "arrow"
        for vital, cause in (("food", "hunger"), ("drink", "thirst"), ("energy", "fatigue")):
            if vitals[vital] == 0:
                return cause
        return "unknown"


def measure(subactions: list[dict], library, seeds: list[int], task, max_steps: int, guarded: bool) -> dict:
    from rlgpt_cli.runner.episode import plan_stages, run_episode
    from rlgpt_cli.worlds.base import get_kit

    kit = get_kit(task.world)
    stages = plan_stages(subactions, library)
    rows = []
    started = time.perf_counter()
    for seed in seeds:
        watched = []

        def make_world():
            watched.append(Autopsy(kit.make_env(task.name, length=max_steps)))
            return watched[-1]

        guard = None
        if guarded:
            from rlgpt_cli.runner.skills import guard_from

            guard = guard_from(library)
        e = run_episode(make_world, kit.new_api, seed, stages, max_steps=max_steps, library=library, guard=guard)
        autopsy = watched[-1]
        failed = next((r for r in e.stages if not r.success), None)
        # A stage whose check held on the step the player died still ended the episode there.
        last = failed or (e.stages[-1] if e.died and e.stages else None)
        row = {"seed": seed, "died": e.died, "steps": e.steps,
               "success": task.success({"achievements": e.achievements, "inventory": e.inventory,
                                        "steps": e.steps, "alive": not e.died}),
               "stage": last.name if last else None,
               "outcome": "died" if e.died else failed.outcome if failed else "success"}
        if guard is not None:
            row["guard"] = {"calls": guard.calls, "steps": guard.steps, "reasons": guard.reasons}
        if e.died:
            row["cause"] = autopsy.losses[-1][1] if autopsy.losses else "unknown"
            row["dark"] = autopsy.dark_at_death
            recent = [c for s, c, n in autopsy.losses if s > e.steps - 50 for _ in range(n)]
            row["last_50_steps_damage"] = dict(Counter(recent))
        rows.append(row)
    deaths = [r for r in rows if r["died"]]
    per_stage: dict[str, dict] = {}
    for r in deaths:
        per_stage.setdefault(r["stage"] or "(all stages done)", Counter())[r["cause"]] += 1
    return {
        "task": task.name, "guard": guarded, "episodes": len(rows), "seeds": [seeds[0], seeds[-1]], "max_steps": max_steps,
        "success_rate": sum(r["success"] for r in rows) / len(rows),
        "death_rate": len(deaths) / len(rows),
        "causes": {c: n for c in CAUSES if (n := sum(r["cause"] == c for r in deaths))},
        "dark_deaths": sum(bool(r.get("dark")) for r in deaths),
        "deaths_per_stage": {k: dict(v) for k, v in sorted(per_stage.items())},
        "outcomes": dict(Counter(r["outcome"] for r in rows)),
        "wall_s": round(time.perf_counter() - started, 1),
        "episodes_detail": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--task", default="obtain diamond")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=1_000_000, help="held-out seeds from here")
    parser.add_argument("--home", help="RLGPT_HOME whose library and validated plan to use (default: a fresh one)")
    parser.add_argument("--no-guard", action="store_true", help="run the stages without the survival guard")
    parser.add_argument("--out", help="also write the JSON here (e.g. benchmarks/results/deaths.json)")
    opts = parser.parse_args()
    home = opts.home or tempfile.mkdtemp(prefix="rlgpt-deaths-")
    env = {**os.environ, "RLGPT_HOME": home}
    os.environ["RLGPT_HOME"] = home

    from rlgpt_cli.settings import Settings
    from rlgpt_cli.store import Store
    from rlgpt_cli.workspace import open_library
    from rlgpt_cli.worlds.tasks import resolve_task

    settings = Settings.resolve()
    task = resolve_task(opts.task, world=settings.world)
    store = Store(settings.db_path)
    plan_id = store.validated_plan(task.name, task.world)
    subactions = (store.get_plan(plan_id) if plan_id else rlgpt("plan", opts.task, env=env))["plan"]["subactions"]
    seeds = list(range(opts.first_seed, opts.first_seed + opts.episodes))
    out = measure(subactions, open_library(settings), seeds, task, task.max_steps, guarded=not opts.no_guard)
    out["plan"] = [s.get("skill") or s["name"] for s in subactions]
    if opts.out:
        Path(opts.out).write_text(json.dumps(out, indent=2) + "\n")
    if opts.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['task']} ({'with' if out['guard'] else 'without'} the survival guard): success {out['success_rate']:.0%}, deaths {out['death_rate']:.0%} over "
          f"{out['episodes']} episodes (seeds {seeds[0]}..{seeds[-1]}), {out['wall_s']} s")
    print("causes: " + ", ".join(f"{c} {n}" for c, n in out["causes"].items()) + f"; in the dark {out['dark_deaths']}")
    for stage, causes in out["deaths_per_stage"].items():
        print(f"  {stage:20} " + ", ".join(f"{c} {n}" for c, n in causes.items()))


if __name__ == "__main__":
    main()
