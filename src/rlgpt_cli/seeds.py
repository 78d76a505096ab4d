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
# A seed is a 32-bit number (what numpy's generators take); a seed list holds at most as many
# seeds as `rlgpt run --episodes` allows, refused before a range is expanded.
MAX_SEED = 2**32 - 1
MAX_SEEDS = 10_000


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
    ranges: list[tuple[int, int]] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                ranges.append((lo, hi))
            elif part:
                ranges.append((int(part), int(part)))
    except ValueError:
        raise UsageError(f"--seeds must be integers or ranges like 1,2,5-8, got {text!r}") from None
    if not ranges or any(lo < 0 or hi < 0 for lo, hi in ranges):
        raise UsageError(f"--seeds must name non-negative integers, got {text!r}")
    if any(hi > MAX_SEED for _, hi in ranges):
        raise UsageError(f"--seeds must be at most {MAX_SEED}, got {text!r}")
    count = sum(max(hi - lo + 1, 0) for lo, hi in ranges)
    if count > MAX_SEEDS:
        raise UsageError(f"--seeds names {count} seeds; at most {MAX_SEEDS} (as many as --episodes allows)")
    seeds = [s for lo, hi in ranges for s in range(lo, hi + 1)]
    if not seeds:
        raise UsageError(f"--seeds names no seed (a range runs low-high), got {text!r}")
    return seeds
