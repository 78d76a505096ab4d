"""The Crafter score of RL-GPT under the benchmark's protocol and of its final agent, beside the
published table and BALROG's progression metric.

    python benchmarks/crafter_score.py [--json] [--task crafter] [--budget 1000000] [--episodes 100]
        [--seed 0] [--out DIR] [--quick]

(a) **The benchmark protocol** (Hafner 2021; crafter issue 13): every episode the agent plays
    counts, from the start of learning, within a budget of env steps (1M). Here that is every
    episode `rlgpt iterate TASK` plays while it builds the agent (its judging episodes, the PPO
    rollouts of rl sub-actions, promotion and task evaluations: every world made through the
    Crafter kit in this process is recorded, reset to reset), then the final agent playing
    held-out seeds until the budget is used. The episodes are written as crafter's own
    `stats.jsonl` (one line per episode: `length`, `reward`, `achievement_<name>` counts, as
    `crafter.Recorder` writes them), so crafter's analysis scripts read it; the Crafter score
    (geometric mean of the 22 success rates in percent, +1 offset) is computed from that file.
    An episode that would end past the budget is left out. Building drops many worlds before
    they end (a judged episode stops at its plan's end or its first failed stage): those lines
    are marked ``"cut": true``, and the score is also given over only the episodes the world
    ended (death or the step limit), as ``crafter.Recorder`` would have written them -- the
    budget still counts every step of the dropped ones.
(b) **The final agent** on `--episodes` (>= 100) held-out seeds: success rate, the 22
    achievement rates, the Crafter score.

Both are shown beside the published Crafter scores, and with BALROG's progression metric (the
mean share of the 22 achievements unlocked per episode, in percent) beside BALROG's published
LLM-agent figure. Everything runs on the offline model unless RLGPT_MODEL is set; the model,
world, seeds, step budget, wall time and load are in the JSON (`--out`/crafter_score.json,
beside stats.jsonl). `--quick` is a short check (budget 60,000 env steps, one outer iteration,
20 held-out episodes): a few minutes on 2 cores; the full run is measured in the README.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# BALROG (Paglieri et al., "BALROG: Benchmarking Agentic LLM and VLM Reasoning On Games", ICLR
# 2025, arXiv:2411.13543): Crafter progression of zero-shot LLM agents, in percent.
BALROG_SOURCE = ("Paglieri et al. 2025, BALROG (arXiv:2411.13543; leaderboard balrogai.com), Crafter "
                 "progression of LLM agents; GPT-4o's figure as reported at "
                 "https://the-decoder.com/ai-models-stumble-in-complex-game-tests-scoring-low-across-the-board")
BALROG_PUBLISHED = {"GPT-4o (BALROG, zero-shot LLM agent)": 33.0}


def read_stats(path: Path) -> list[dict]:
    """The episodes of a crafter ``stats.jsonl``."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def achievement_names(lines: list[dict]) -> list[str]:
    return sorted({k.removeprefix("achievement_") for line in lines for k in line if k.startswith("achievement_")})


def success_rates(lines: list[dict], names: list[str]) -> dict[str, float]:
    """Per achievement, the share of episodes that unlocked it at least once."""
    if not lines:
        return {name: 0.0 for name in names}
    return {name: sum(line.get(f"achievement_{name}", 0) > 0 for line in lines) / len(lines) for name in names}


def balrog_progression(lines: list[dict], names: list[str]) -> float:
    """BALROG's Crafter metric: the share of the achievements an episode unlocked, in percent,
    averaged over episodes."""
    if not lines:
        return 0.0
    return 100 * sum(sum(line.get(f"achievement_{n}", 0) > 0 for n in names) / len(names)
                     for line in lines) / len(lines)


def within_budget(lines: list[dict], budget: int) -> list[dict]:
    """The episodes, in order, that end within ``budget`` env steps in total."""
    kept, total = [], 0
    for line in lines:
        if total + line["length"] > budget:
            break
        kept.append(line)
        total += line["length"]
    return kept


class EpisodeRecorder:
    """Every episode of every world a kit makes while ``active``, in whichever process it ran
    (worker processes and PPO rollout workers included): the worlds append their episodes to
    ``RLGPT_EPISODE_LOG`` as they end (``rlgpt_cli.worlds.stats``), in the order they ended. A
    world dropped mid-episode (a judged episode that met its check, a sub-task env) counts its
    episode as it stands when it closes. ``active`` must begin before the first worker process
    starts, so that the workers inherit the log's path."""

    def __init__(self, path: Path | None = None):
        self.path = path or Path(tempfile.mkdtemp(prefix="rlgpt-episodes-")) / "episodes.jsonl"
        self.play_from: int | None = None  # the first line of the final agent's play

    def _all(self) -> list[dict]:
        return read_stats(self.path) if self.path.exists() else []

    def start_play(self) -> None:
        self.play_from = len(self._all())

    def lines(self, phase: str | None = None) -> list[dict]:
        lines = self._all()
        cut = len(lines) if self.play_from is None else self.play_from
        return {None: lines, "build": lines[:cut], "play": lines[cut:]}[phase]

    def steps(self) -> int:
        return sum(line["length"] for line in self._all())

    def active(self):
        """Context manager: the worlds made meanwhile (here and in new processes) log their episodes."""
        from contextlib import contextmanager

        from rlgpt_cli.worlds.stats import LOG_ENV

        @contextmanager
        def logging():
            before = os.environ.get(LOG_ENV)
            os.environ[LOG_ENV] = str(self.path)
            try:
                yield self
            finally:
                if before is None:
                    os.environ.pop(LOG_ENV, None)
                else:
                    os.environ[LOG_ENV] = before

        return logging()


def play(built: dict, recorder: EpisodeRecorder, budget: int, episodes: int, seed: int, chunk: int = 20) -> dict:
    """The final agent on held-out seeds: first ``episodes`` of them (the final-agent report),
    then more, ``chunk`` at a time, while the protocol's budget lasts."""
    from rlgpt_cli import seeds
    from rlgpt_cli.usecases import evaluate_task

    recorder.start_play()
    all_seeds = seeds.held_out(10_000, seed)
    report = evaluate_task(built["task"], built["subactions"], built["library"], all_seeds[:episodes])
    played = episodes
    while recorder.steps() < budget and played + chunk <= len(all_seeds):
        evaluate_task(built["task"], built["subactions"], built["library"], all_seeds[played:played + chunk])
        played += chunk
    report.pop("episode_details", None)
    return report


def protocol_summary(lines: list[dict], budget: int, names: list[str]) -> dict:
    from rlgpt_cli.worlds.base import get_kit

    rates = success_rates(lines, names)
    return {"episodes": len(lines), "env_steps": sum(line["length"] for line in lines), "budget": budget,
            "achievements": rates, **get_kit("crafter").scores(rates),
            "balrog_progression": round(balrog_progression(lines, names), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--task", default="crafter", help="the task iterate builds the agent for")
    parser.add_argument("--budget", type=int, default=1_000_000, help="env steps of the whole protocol")
    parser.add_argument("--episodes", type=int, default=100, help="held-out episodes of the final agent")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outer", type=int, default=3, help="iterate's outer iterations")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "crafter_score",
                        help="folder for stats.jsonl and crafter_score.json")
    parser.add_argument("--quick", action="store_true", help="a short check (60k steps, 1 outer, 20 episodes)")
    opts = parser.parse_args()
    if opts.quick:
        opts.budget, opts.outer, opts.episodes = 60_000, 1, 20
    sys.path.insert(0, str(Path(__file__).parent))
    from ablation import build_agent
    from rlgpt_cli.reports import append_stats
    from rlgpt_cli.worlds.base import get_kit
    from rlgpt_cli.worlds.stats import CUT

    os.environ.setdefault("RLGPT_HOME", tempfile.mkdtemp(prefix="rlgpt-score-"))
    kit = get_kit("crafter")
    names = kit.achievements()
    recorder = EpisodeRecorder()
    started = time.perf_counter()
    with recorder.active():
        built = build_agent(opts.task, opts.seed, opts.budget, 2 if opts.quick else 5, outer=opts.outer,
                            **({"rl_steps": 10_000} if opts.quick else {}))
        build_s = time.perf_counter() - started
        build_steps = recorder.steps()
        final = play(built, recorder, opts.budget, opts.episodes, opts.seed)
    wall = time.perf_counter() - started
    lines = within_budget(recorder.lines(), opts.budget)
    opts.out.mkdir(parents=True, exist_ok=True)
    stats = opts.out / "stats.jsonl"
    stats.unlink(missing_ok=True)
    append_stats(opts.out, lines)
    protocol = protocol_summary(read_stats(stats), opts.budget, names)  # scored from the file itself
    # As crafter.Recorder would have written them: only the episodes the world ended (death, the
    # step limit); the dropped ones still spent the budget.
    ended = protocol_summary([line for line in lines if not line.get(CUT)], opts.budget, names)
    state = built["state"]
    final_lines = recorder.lines("play")[:opts.episodes]
    out = {
        "task": built["task"].name, "world": "crafter", "model": built["model"], "seed": opts.seed,
        "step_budget": opts.budget, "quick": opts.quick,
        "build": {"status": state["status"], "outer_iterations": state["outer"], "iterate_env_steps": state["env_steps"],
                  "recorded_env_steps": build_steps, "episodes": len(recorder.lines("build")),
                  "wall_s": round(build_s, 1)},
        "protocol": {**protocol, "stats_jsonl": str(stats),
                     "build_episodes_in_budget": sum(1 for _ in within_budget(recorder.lines("build"), opts.budget))},
        "protocol_ended_episodes": ended,
        "final_agent": {"episodes": final["episodes"], "seeds": [final["seeds"][0], final["seeds"][-1]],
                        "max_steps_per_episode": final["max_steps"], "success_rate": final["success_rate"],
                        "crafter_score": final["crafter_score"], "deaths": final["deaths"],
                        "balrog_progression": round(balrog_progression(final_lines, names), 2),
                        "achievements": final["achievements"]},
        "published_crafter_scores": kit.reference_scores(),
        "published_balrog_progression": BALROG_PUBLISHED, "balrog_source": BALROG_SOURCE,
        "wall_s": round(wall, 1), "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    (opts.out / "crafter_score.json").write_text(json.dumps(out, indent=2) + "\n")
    if opts.json:
        print(json.dumps(out, indent=2))
        return
    render(out)


def render(out: dict) -> None:
    b, p, f = out["build"], out["protocol"], out["final_agent"]
    print(f"build: iterate {out['task']} ({out['model']}): {b['status']} after {b['outer_iterations']} outer "
          f"iteration(s), {b['recorded_env_steps']:,} env steps in {b['episodes']} episodes "
          f"(iterate counted {b['iterate_env_steps']:,}), {b['wall_s']:.0f} s")
    if b["recorded_env_steps"] < b["iterate_env_steps"]:
        print(f"warning: iterate counted {b['iterate_env_steps'] - b['recorded_env_steps']:,} env steps more than "
              "were recorded (episodes played in other processes?): the protocol misses them")
    print(f"protocol: {p['episodes']} episodes, {p['env_steps']:,} of {p['budget']:,} env steps "
          f"({p['build_episodes_in_budget']} of them building): Crafter score {p['crafter_score']:.1f}, "
          f"BALROG progression {p['balrog_progression']:.1f}%  [{p['stats_jsonl']}]")
    e = out["protocol_ended_episodes"]
    print(f"protocol, only the episodes the world ended (as crafter.Recorder writes them; the budget still "
          f"counts every step): {e['episodes']} episodes, Crafter score {e['crafter_score']:.1f}")
    print(f"final agent: {f['episodes']} held-out episodes (seeds {f['seeds'][0]}..{f['seeds'][1]}): success "
          f"{f['success_rate']:.0%}, Crafter score {f['crafter_score']:.1f}, BALROG progression "
          f"{f['balrog_progression']:.1f}%, {f['deaths']} deaths")
    rows = sorted([("rlgpt, protocol, every episode", p["crafter_score"]),
                   ("rlgpt, protocol, ended episodes", e["crafter_score"]), ("rlgpt, final agent", f["crafter_score"]),
                   *out["published_crafter_scores"].items()], key=lambda r: -r[1])
    print(f"\n{'agent':34} {'Crafter score':>13}")
    for name, score in rows:
        print(f"{name:34} {score:13.1f}")
    print(f"\n{'agent':40} {'BALROG progression %':>20}")
    for name, value in sorted([("rlgpt, final agent", f["balrog_progression"]),
                               *out["published_balrog_progression"].items()], key=lambda r: -r[1]):
        print(f"{name:40} {value:20.1f}")
    print(f"source: {out['balrog_source']}")
    print(f"\n{'achievement':20} {'protocol':>9} {'final':>6}")
    for name, rate in f["achievements"].items():
        print(f"{name:20} {p['achievements'][name]:9.0%} {rate:6.0%}")
    print(f"\n{out['wall_s']:.0f} s wall, load average {out['load_average']}")


if __name__ == "__main__":
    main()
