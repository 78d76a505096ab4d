"""Seed policy: which worlds each stage trains, judges and evaluates on.

Each purpose has its own block of seeds, far apart, so a skill is never judged or reported
on the worlds it was built on; the global ``--seed`` moves every block together.

| purpose | seeds (global seed s, i = 0, 1, ...) |
|---|---|
| training envs (`learn`): env ``i`` of the vector env | ``s + i`` |
| judging a code skill (`code`, the inner loop) | ``10_000 + 1000 s + i`` |
| judging the whole task (`iterate`, the outer loop) | ``20_000 + 1000 s + i`` |
| held-out evaluation of a trained policy (`learn`) | ``100_000 + 1000 s + i`` |
| validation during training, to keep the best policy (`learn`) | ``200_000 + 1000 s + i`` |
| promotion: a new skill version against the running one, paired (`code`, `learn`, `iterate`) | ``500_000 + 1000 s + i`` |
| held-out evaluation of a task (`run`, benchmarks) | ``1_000_000 + 10_000 s + i`` |
"""

from __future__ import annotations

from rlgpt_cli.errors import UsageError

SKILL_JUDGING_BASE = 10_000
TASK_JUDGING_BASE = 20_000
POLICY_EVAL_BASE = 100_000
POLICY_VALIDATION_BASE = 200_000
PROMOTION_BASE = 500_000
HELD_OUT_BASE = 1_000_000


def training(seed: int, num_envs: int) -> list[int]:
    return [seed + i for i in range(num_envs)]


def skill_judging(seed: int, episodes: int) -> list[int]:
    return [SKILL_JUDGING_BASE + seed * 1000 + i for i in range(episodes)]


def task_judging(seed: int, episodes: int) -> list[int]:
    return [TASK_JUDGING_BASE + seed * 1000 + i for i in range(episodes)]


def policy_evaluation(seed: int, episodes: int) -> list[int]:
    return [POLICY_EVAL_BASE + seed * 1000 + i for i in range(episodes)]


def policy_validation(seed: int, episodes: int) -> list[int]:
    return [POLICY_VALIDATION_BASE + seed * 1000 + i for i in range(episodes)]


def promotion(seed: int, episodes: int) -> list[int]:
    return [PROMOTION_BASE + seed * 1000 + i for i in range(episodes)]


def held_out(episodes: int, seed: int = 0) -> list[int]:
    return [HELD_OUT_BASE + seed * 10_000 + i for i in range(episodes)]


def parse(text: str) -> list[int]:
    """``"1,2,5-8"`` → ``[1, 2, 5, 6, 7, 8]``."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                seeds.extend(range(lo, hi + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise UsageError(f"--seeds must be integers or ranges like 1,2,5-8, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise UsageError(f"--seeds must name non-negative integers, got {text!r}")
    return seeds
