"""The Crafter benchmark's scoring (benchmarks/crafter_score.py): crafter's stats.jsonl as crafter
writes it, the Crafter score and BALROG's progression computed from it, the step budget."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def score():
    return _load("crafter_score")


def _line(length, **unlocked):
    from rlgpt_cli.worlds.base import get_kit

    names = get_kit("crafter").achievements()
    return {"length": length, "reward": 0.0, **{f"achievement_{n}": unlocked.get(n, 0) for n in names}}


def test_recorded_episodes_are_lines_as_crafters_recorder_writes_them(score, tmp_path):
    """Every world episode (reset to reset, or to its end) becomes one line with crafter.Recorder's
    keys and types: the episode's length, reward (rounded to 0.1) and achievement counts."""
    import crafter
    import numpy as np

    from rlgpt_cli.reports import append_stats
    from rlgpt_cli.worlds.base import get_kit

    actions = np.random.default_rng(1).integers(0, 17, 120).tolist()
    theirs = tmp_path / "crafter"
    env = crafter.Recorder(crafter.Env(seed=7, length=120), theirs, save_stats=True, save_video=False,
                           save_episode=False)
    env.reset()
    for a in actions:
        if env.step(a)[2]:
            break
    expected = score.read_stats(theirs / "stats.jsonl")[0]

    recorder = score.EpisodeRecorder()
    with recorder.active():
        world = get_kit("crafter").make_env(None, seed=7, length=120)
    world.reset()
    reward, info = 0.0, {}
    for a in actions:
        _, r, terminated, truncated, info = world.step(a)
        reward += r
        if terminated or truncated:
            break
    world.step(0)  # after the world's end: not counted
    world.reset()  # a second episode, dropped after one step: counted as it stands
    world.step(0)
    world.close()
    ours = tmp_path / "ours"
    append_stats(ours, recorder.lines())
    lines = score.read_stats(ours / "stats.jsonl")
    assert [line["length"] for line in lines] == [expected["length"], 1] == [120, 1]
    assert lines[0]["reward"] == round(reward, 1)
    assert {k: v for k, v in lines[0].items() if k.startswith("achievement_")} == \
        {f"achievement_{k}": v for k, v in info["achievements"].items()}
    for line in lines:  # crafter's keys, in crafter's order, with its types
        assert list(line)[:len(expected)] == list(expected)
        assert all(type(line[k]) is type(expected[k]) for k in expected)
    # The episode the world ended is crafter.Recorder's line exactly; the dropped one says so.
    assert list(lines[0]) == list(expected) and lines[1]["cut"] is True
    assert recorder.steps() == 121 and len(score.achievement_names(lines)) == 22


def test_worlds_made_outside_the_recording_are_not_counted(score):
    from rlgpt_cli.worlds.base import get_kit

    recorder = score.EpisodeRecorder()
    with recorder.active():
        pass
    world = get_kit("crafter").make_env(None, seed=1, length=10)
    world.reset()
    world.step(0)
    assert recorder.steps() == 0 and recorder.lines() == []


def test_crafter_score_from_the_file_matches_a_hand_computed_one(score, tmp_path):
    from rlgpt_cli.reports import append_stats

    lines = [_line(100, collect_wood=3, place_table=1), _line(50, collect_wood=1)]
    append_stats(tmp_path, lines)
    names = score.achievement_names(score.read_stats(tmp_path / "stats.jsonl"))
    summary = score.protocol_summary(score.read_stats(tmp_path / "stats.jsonl"), 1_000_000, names)
    # wood 100 %, table 50 %, the other 20 achievements 0 %: exp((ln 101 + ln 51) / 22) - 1
    assert summary["crafter_score"] == pytest.approx(math.exp((math.log(101) + math.log(51)) / 22) - 1)
    assert summary["crafter_score"] == pytest.approx(0.4748, abs=1e-4)
    assert summary["achievements"]["place_table"] == 0.5 and summary["achievements"]["collect_wood"] == 1.0
    assert summary["episodes"] == 2 and summary["env_steps"] == 150


def test_balrog_progression_is_the_mean_share_of_achievements_per_episode(score):
    lines = [_line(10, collect_wood=2, place_table=1), _line(10, collect_wood=1), _line(10)]
    names = score.achievement_names(lines)
    # (2/22 + 1/22 + 0/22) / 3 episodes, in percent
    assert score.balrog_progression(lines, names) == pytest.approx(100 * 3 / 22 / 3)
    assert score.balrog_progression([], names) == 0.0


def test_the_budget_keeps_only_episodes_that_end_within_it(score):
    lines = [_line(400), _line(500), _line(200), _line(50)]
    kept = score.within_budget(lines, 1000)
    assert [line["length"] for line in kept] == [400, 500]  # the third would end at 1100
    assert score.within_budget(lines, 10) == []


def test_published_table_is_the_issues(score):
    from rlgpt_cli.worlds.base import get_kit

    table = get_kit("crafter").reference_scores()
    for name, value in {"Human experts": 50.5, "SPRING (GPT-4, no training)": 27.3, "AdaRefiner (5M steps)": 28.2,
                        "Achievement Distillation": 21.8, "DreamerV3": 14.5, "PPO (SB3)": 4.6}.items():
        assert table[name] == value
    assert score.BALROG_PUBLISHED and "2411.13543" in score.BALROG_SOURCE


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import registers it: a dataclass resolves its annotations there.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_ablation_ordering_needs_non_overlapping_spreads():
    ablation = _load("ablation")
    rl_gpt, code, rl = ablation.ORDER
    results = {rl_gpt: ablation.summarise([{"m": v} for v in (0.8, 0.9, 1.0)], "m"),
               code: ablation.summarise([{"m": v} for v in (0.5, 0.6, 0.7)], "m"),
               rl: ablation.summarise([{"m": v} for v in (0.0, 0.0, 0.0)], "m")}
    assert results[code]["sd"] == pytest.approx(0.1)  # the sample sd over seeds
    assert ablation.ordering(results) == {"pairs": {f"{rl_gpt} > {code}": True, f"{code} > {rl}": True},
                                          "holds": True}
    results[code] = ablation.summarise([{"m": v} for v in (0.4, 0.75, 0.85)], "m")  # overlaps RL-GPT's spread
    verdict = ablation.ordering(results)
    assert verdict["pairs"][f"{rl_gpt} > {code}"] is False and verdict["holds"] is False
    del results[rl]
    assert ablation.ordering(results)["holds"] is False  # a claim over three variants needs all three


def test_ablation_compares_the_crafter_score_on_the_benchmark_task():
    ablation = _load("ablation")
    assert ablation.metric("crafter") == "crafter_score"
    assert ablation.metric("obtain diamond") == "success_rate"


def test_macro_benchmark_counts_the_threshold_where_it_is_reached_and_held():
    macro = _load("macro_vs_pure")

    class Env:
        total_env_steps = 0

    def run(outcomes, budget=10_000):
        log = macro.Outcomes(0.8, budget=budget)
        env = Env()
        log.envs.append(env)
        for won in outcomes:
            env.total_env_steps += 10
            log.ended(won)
        return log

    window, hold = macro.WINDOW, macro.HOLD
    log = run([True] * (window - 1))
    assert log.reached is None and log.rate() is None  # a window not yet full never counts
    log = run([True] * (window - 1) + [False] + [True, True, True, False] * (hold // 4))  # 95 %, then 75 %...
    assert log.reached is None  # ...so it did not hold
    log = run([True] * (window - 1) + [False] + [True, True, True, True, False] * (hold // 5))  # then 80 %
    assert log.reached == 10 * window and log.confirmed == 10 * (window + hold)
    assert log.rate() == pytest.approx(0.8)
    # a dip after the first window: found again where a later window reaches 80 % (16 of 20) and holds
    log = run([True] * window + [False] * hold + [True] * (window + hold))
    assert log.reached == 10 * (window + hold + round(0.8 * window))
    assert run([True] * (window + hold), budget=5).reached is None  # only past the budget: not reached


def test_episodes_played_in_worker_processes_are_recorded(score, tmp_path, monkeypatch):
    """The protocol counts every episode, wherever it ran: task evaluation runs its episodes in
    worker processes, which log them to the same file."""
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.usecases import evaluate_task
    from rlgpt_cli.workspace import open_library
    from rlgpt_cli.worlds.tasks import resolve_task

    monkeypatch.setenv("RLGPT_WORKERS", "2")
    recorder = score.EpisodeRecorder(tmp_path / "episodes.jsonl")
    plan = [{"name": "collect_wood", "kind": "reuse", "skill": "collect_wood"},
            {"name": "place_table", "kind": "reuse", "skill": "place_table"}]
    with recorder.active():
        report = evaluate_task(resolve_task("place table"), plan, open_library(Settings.resolve()), [0, 1, 2, 3],
                               max_steps=400)
    lines = recorder.lines()
    assert len(lines) == 4 and recorder.steps() == sum(d["steps"] for d in report["episode_details"])
    assert sum(line["achievement_place_table"] > 0 for line in lines) == round(report["success_rate"] * 4)
