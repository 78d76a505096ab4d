"""`rlgpt iterate`: RL-GPT's two loops, from a task to a working agent.

Outer loop: the slow agent plans (code / rl / reuse per sub-action) from the library and the
feedback so far. Inner loop, per sub-action: the fast agent writes code (or an RL
configuration), the world runs it, the critic judges, the fast agent revises. After each
outer iteration the composed agent is evaluated on the whole task; the loops stop at the
success target or when a budget runs out. State is saved after every sub-action, so a killed
run resumes where it stopped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rlgpt_cli.atomic import atomic_write_json
from rlgpt_cli.errors import BudgetExceeded, NotFound, UsageError
from rlgpt_cli.progress import Progress

STATE_VERSION = 1
# Failed episodes described to the slow agent after a task evaluation.
FAILED_EPISODES_SHOWN = 2
# Fewer env steps than this left for PPO (after judging's share) is no training worth starting.
MIN_TRAINING_STEPS = 10_000


@dataclass
class IterateConfig:
    outer: int = 3  # slow-agent iterations
    inner: int = 3  # fast-agent attempts per sub-action and outer iteration
    episodes: int = 5  # evaluation episodes per attempt and per task evaluation
    max_steps: int = 1_000_000  # env steps for everything: evaluations and training
    target: float = 0.5  # task success rate that ends the loops ("most episodes")
    rl_steps: int = 50_000  # training steps for one rl sub-action
    use_critic: bool = True  # the ablation without the critic sends only raw results back
    force_kind: str | None = None  # "code" or "rl": the pure-code / pure-RL ablations
    promotion_episodes: int = 20  # paired episodes a new skill version is judged on (runner.promotion)


def state_path(runs_dir: Path, run_id: int) -> Path:
    return runs_dir / f"iterate-{run_id}" / "state.json"


def save_state(path: Path, state: dict) -> None:
    """Atomic: a kill mid-write leaves the previous state."""
    atomic_write_json(path, state)


def load_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFound(f"no iterate run state at {path}") from None
    except ValueError as exc:
        raise UsageError(f"iterate state {path} is corrupt: {exc}") from None
    if state.get("version") != STATE_VERSION:
        raise UsageError(f"iterate state {path} has version {state.get('version')}, expected {STATE_VERSION}")
    return state


def new_state(task, config: IterateConfig, run_id: int, model: str) -> dict:
    return {
        "version": STATE_VERSION, "run_id": run_id, "task": task.name, "world": task.world, "model": model,
        "config": config.__dict__, "outer": 0, "plan": None, "plan_id": None, "done": [],
        "feedback": [], "iterations": [], "env_steps": 0, "cost_usd": 0.0, "status": "running",
    }


@dataclass
class Loops:
    """The two loops over a saved state; each call to ``step`` does one unit and saves."""

    settings: Any
    task: Any
    state: dict
    path: Path
    client: Any
    store: Any
    config: IterateConfig
    log: Callable[[str], None] = lambda _: None
    view: Callable[[dict], None] = lambda _: None
    progress: Progress = field(default_factory=Progress.off)  # phases: planning, attempts, PPO, evaluations
    _library: Any = field(default=None, init=False)

    @property
    def library(self):
        if self._library is None:
            from rlgpt_cli.workspace import open_library

            self._library = open_library(self.settings)
        return self._library

    def save(self) -> None:
        self.state["cost_usd"] = self.state.get("cost_base", 0.0) + self.client.cost_usd
        save_state(self.path, self.state)
        self.view(self.state)

    def charge(self, steps: int) -> None:
        self.state["env_steps"] += int(steps)
        if self.state["env_steps"] >= self.config.max_steps:
            self.state["status"] = "budget"
            self.save()
            raise BudgetExceeded(f"step budget of {self.config.max_steps} env steps used up "
                                 f"({self.state['env_steps']}); resume with a larger --max-steps")

    def run(self) -> dict:
        while self.state["status"] == "running":
            if self.state["outer"] >= self.config.outer:
                self.state["status"] = "finished"
                break
            self.outer_iteration()
        self.save()
        return self.state

    def replan(self) -> None:
        from rlgpt_cli.usecases import plan_task

        with self.progress.phase("plan (slow agent)"):
            record = plan_task(self.client, self.store, self.task, self.library, self.state["feedback"],
                               kind=self.config.force_kind)
        data = record["plan"]
        self.state["plan"] = data
        self.state["plan_id"] = record["id"]
        self.state["done"] = []
        self.log(f"outer {self.state['outer'] + 1}: plan {self.state['plan_id']}: "
                 + ", ".join(f"{s['name']}={s['kind']}" for s in data["subactions"]))
        self.save()

    def outer_iteration(self) -> None:
        with self.progress.phase(f"outer {self.state['outer'] + 1}/{self.config.outer}", unit="sub-actions"):
            self._outer_iteration()

    def _outer_iteration(self) -> None:
        from rlgpt_cli.usecases import prefix_stages

        if self.state["plan"] is None:
            self.replan()
        subs = self.state["plan"]["subactions"]
        results: list[dict] = []
        for index, sub in enumerate(subs):
            if sub["name"] in self.state["done"]:
                continue
            if sub["kind"] == "reuse":
                outcome = {"subaction": sub["name"], "kind": "reuse", "success": True,
                           "success_rate": self._measured(sub.get("skill") or sub["name"])}
            else:
                prefix = prefix_stages(subs, index, self.library)
                outcome = (self.code_subaction if sub["kind"] == "code" else self.rl_subaction)(sub, prefix)
            self.adopt(sub, outcome)
            results.append(outcome)
            self.state["feedback"].append({**outcome, "outer": self.state["outer"] + 1})
            self.state["done"].append(sub["name"])
            self.save()
            if not outcome["success"]:
                break  # later sub-actions cannot start reliably: back to the slow agent
        if self.state.pop("plan_changed", False):  # what is evaluated (and validated) is a stored plan
            self.state["plan_id"] = self.store.add_plan(self.task.name, self.task.world, self.state["model"],
                                                        self.state["plan"])
            self.save()
        evaluation = self.evaluate_task()
        self.state["feedback"].append(self.task_feedback(subs, evaluation))
        measured = (evaluation or {}).get("subtasks", {})
        self.state["iterations"].append({
            "outer": self.state["outer"] + 1, "plan_id": self.state["plan_id"],
            # Reused sub-actions are measured in the task evaluation, like the others.
            "subactions": [{"name": s["name"], "kind": s["kind"],
                            "success_rate": measured[s["name"]]["success_rate"] if s["name"] in measured else
                            next((r["success_rate"] for r in results if r["subaction"] == s["name"]), None)}
                           for s in subs],
            "task_success_rate": evaluation["success_rate"] if evaluation else 0.0,
            **{name: (evaluation or {}).get(name) for name in (evaluation or {}).get("scores", [])},
            "env_steps": self.state["env_steps"], "cost_usd": self.state.get("cost_base", 0.0) + self.client.cost_usd,
        })
        self.state["outer"] += 1
        if evaluation and evaluation["success_rate"] >= self.config.target:
            self.state["status"] = "succeeded"
            self.state["validated_plan_id"] = self.state["plan_id"]
        if evaluation:
            self.store.add_evaluation(
                self.task.name, self.task.world, f"iterate plan {self.state['plan_id']}", evaluation["episodes"],
                evaluation["seeds"], evaluation["success_rate"],
                {"plan_id": self.state["plan_id"], "iterate_run": self.state["run_id"],
                 "validated": self.state["status"] == "succeeded", "subtasks": evaluation["subtasks"]})
        self.state["plan"] = None
        self.save()

    def task_feedback(self, subs: list[dict], evaluation: dict | None) -> dict:
        """What the slow agent hears about the whole task after an outer iteration: the
        success rate, each stage's success, how failed episodes failed, and the task critic's
        advice on which stage to change."""
        from rlgpt_cli.agents.coder import judge_task

        record: dict = {"kind": "task", "outer": self.state["outer"] + 1, "plan_id": self.state["plan_id"],
                        "target": self.config.target}
        if evaluation is None:
            missing = next((s["name"] for s in subs if s["name"] not in self.state["done"]), None)
            return {**record, "success_rate": 0.0, "evaluated": False,
                    "reason": f"not evaluated: sub-action {missing} has no working skill yet" if missing else
                              "not evaluated: a sub-action has no skill"}
        failed = []
        for episode in evaluation["episode_details"]:
            stage = next((r for r in episode["stages"] if not r["success"]), None)
            if stage is not None and len(failed) < FAILED_EPISODES_SHOWN:
                failed.append({"seed": episode["seed"], "stage": stage["name"], "outcome": stage["outcome"],
                               "failed_check": stage["failed_check"], "error": stage["error"],
                               "inventory": {k: v for k, v in (stage["inventory"] or {}).items() if v}})
        record.update({"success_rate": evaluation["success_rate"], "evaluated": True,
                       "stages": evaluation["subtasks"], "failed_episodes": failed})
        if self.config.use_critic and evaluation["success_rate"] < self.config.target:
            plan = [{k: s.get(k) for k in ("name", "kind", "skill", "params", "success")} for s in subs]
            critique, _ = judge_task(self.client, self.task, plan, record, self.config.target)
            record["critic"] = critique.model_dump(exclude={"success"})
            self.log(f"  task critic: change {critique.stage or '-'} ({critique.change}): {critique.feedback}")
        return record

    def adopt(self, sub: dict, outcome: dict) -> None:
        """Point the sub-action at the skill just saved under a new name (its contract differs),
        when it beat the skill the sub-action ran: a plan runs a new name only where it names it."""
        promotion = outcome.get("promotion") or {}
        if outcome.get("skill") and promotion.get("renamed_from") and promotion.get("better"):
            sub["skill"] = outcome["skill"].rsplit(" v", 1)[0]
            self.state["plan_changed"] = True
            self.log(f"  {sub['name']} now runs {sub['skill']}")

    def _measured(self, name: str) -> float | None:
        try:
            return (self.library.get(name).metrics or {}).get("success_rate")
        except NotFound:
            return None

    def seeds(self) -> list[int]:
        from rlgpt_cli import seeds

        return seeds.skill_judging(self.settings.seed, self.config.episodes)

    def promotion_seeds(self) -> list[int]:
        from rlgpt_cli import seeds

        return seeds.promotion(self.settings.seed, self.config.promotion_episodes)

    def code_subaction(self, sub: dict, prefix: list) -> dict:
        from rlgpt_cli.usecases import code_subaction

        self.log(f"  {sub['name']}: fast agent writes code")
        earlier = [f for f in self.state["feedback"] if f.get("subaction") == sub["name"]]
        outcome = code_subaction(
            _NoCritic(self.client) if not self.config.use_critic else self.client,
            self.task, sub, prefix, self.library, seeds=self.seeds(), attempts=self.config.inner,
            feedback=[a for f in earlier for a in f.get("attempts", [])], log=self.log, progress=self.progress,
            provenance={"plan_id": self.state["plan_id"], "run_id": self.state["run_id"]},
            promotion_seeds=self.promotion_seeds(),
        )
        self.charge(sum(a.results.get("env_steps", 0) for a in outcome.attempts)
                    + (outcome.promotion or {}).get("env_steps", 0))
        skill = outcome.skill
        if skill is not None:
            self.log(f"  saved {skill.name} v{skill.version}: {outcome.promotion['reason']}")
        return {
            "subaction": sub["name"], "kind": "code", "success": outcome.success,
            "success_rate": outcome.chosen.success_rate, "skill": f"{skill.name} v{skill.version}" if skill else None,
            "promotion": _promotion_summary(outcome.promotion),
            "attempts": [{"attempt": a.number, "success_rate": a.success_rate, "refused": a.refused,
                          "critique": a.critique.get("feedback"), "suggestions": a.critique.get("suggestions", [])}
                         for a in outcome.attempts],
        }

    def rl_subaction(self, sub: dict, prefix: list) -> dict:
        from rlgpt_cli.agents.loops import SUCCESS_TARGET
        from rlgpt_cli.runner import promotion
        from rlgpt_cli.usecases import configure_rl, learn_subaction

        # Learning pays only where its policy could replace what runs: the running skill plays
        # the promotion seeds first (as promotion would), and one too good to be beaten
        # significantly is kept without training.
        with self.progress.phase(f"measure the running skill of {sub['name']}"):
            running = promotion.out_of_reach(self.library, sub, prefix, task=self.task.name, world=self.task.world,
                                             seeds=self.promotion_seeds())
        if running is not None:
            self.charge(running["env_steps"])
        if running is not None and running["out_of_reach"]:
            return self._not_trained(sub, running["reason"], running["old_successes"] / len(running["seeds"]))
        self.log(f"  {sub['name']}: fast agent configures RL")
        earlier = [f for f in self.state["feedback"] if f.get("subaction") == sub["name"] and f.get("kind") == "rl"]
        with self.progress.phase(f"configure RL for {sub['name']} (fast agent)"):
            config, _ = configure_rl(self.client, self.task, sub, self.library, earlier,
                                     total_steps=self.config.rl_steps, max_episode_steps=1000)
        # PPO gets what the budget leaves after judging its policy: the validations, the held-out
        # evaluation and the promotion's paired episodes come after it, within the same budget.
        reserve = judging_steps(running, config.termination.max_episode_steps, len(self.promotion_seeds()))
        remaining = self.config.max_steps - self.state["env_steps"] - reserve
        if remaining < min(MIN_TRAINING_STEPS, self.config.rl_steps):
            rate = running["old_successes"] / len(running["seeds"]) if running else 0.0
            return self._not_trained(sub, f"{self.config.max_steps - self.state['env_steps']:,} env steps are left "
                                          f"of the budget, and judging a policy may take {reserve:,}", rate)
        config.total_steps = min(config.total_steps, remaining)
        result = learn_subaction(self.settings, self.task, sub, config, prefix, self.library,
                                 seed=self.settings.seed, log=self.log, progress=self.progress,
                                 promotion_seeds=self.promotion_seeds())
        self.charge(result["env_steps"] + result.get("eval_env_steps", 0)
                    + (result.get("best") or {}).get("validation_env_steps", 0)
                    + (result.get("promotion") or {}).get("env_steps", 0))
        if result.get("promotion"):
            self.log(f"  saved {result['skill']}: {result['promotion']['reason']}")
        return {"subaction": sub["name"], "kind": "rl", "success": result["success_rate"] >= SUCCESS_TARGET,
                "success_rate": result["success_rate"], "skill": result.get("skill"),
                "promotion": _promotion_summary(result.get("promotion")), "rl_config": config.model_dump()}

    def _not_trained(self, sub: dict, reason: str, rate: float) -> dict:
        from rlgpt_cli.agents.loops import SUCCESS_TARGET

        self.log(f"  {sub['name']}: not trained: {reason}")
        return {"subaction": sub["name"], "kind": "rl", "success": rate >= SUCCESS_TARGET, "success_rate": rate,
                "skill": None, "promotion": {"promoted": False, "better": False, "reason": reason}}

    def evaluate_task(self) -> dict | None:
        from rlgpt_cli import seeds
        from rlgpt_cli.reports import scores_text
        from rlgpt_cli.usecases import evaluate_task

        subs = self.state["plan"]["subactions"] if self.state["plan"] else []
        try:
            report = evaluate_task(self.task, subs, self.library,
                                   seeds.task_judging(self.settings.seed, self.config.episodes),
                                   progress=self.progress)
        except NotFound as exc:  # a sub-action has no skill yet: the task cannot run
            self.log(f"  task evaluation skipped: {exc.message}")
            return None
        self.charge(report["mean_steps"] * report["episodes"])
        scores = scores_text(report)
        self.log(f"  task {self.task.name}: success {report['success_rate']:.0%} over {report['episodes']} "
                 f"episodes" + (f", {scores}" if scores else ""))
        return report


def judging_steps(running: dict | None, episode_cap: int, promotion_episodes: int) -> int:
    """Env steps that judging a newly trained policy may take, from the running skill's
    promotion episodes (``running``, as ``promotion.out_of_reach`` measured them; None when no
    skill runs): each policy episode is its set-up stages (at most what a running skill's
    whole episode took, on average) and up to ``episode_cap`` steps of the policy; the
    validations, the held-out evaluation and the promotion's new-version episodes are policy
    episodes, and the promotion plays the running skill's again."""
    from rlgpt_cli.learn.subtask import EVAL_EPISODES, VALIDATION_EPISODES, VALIDATIONS

    mean = running["env_steps"] / len(running["seeds"]) if running else 0.0
    policy_episodes = (VALIDATIONS + 1) * VALIDATION_EPISODES + EVAL_EPISODES + (promotion_episodes if running else 0)
    return math.ceil(policy_episodes * (mean + episode_cap) + (promotion_episodes * mean if running else 0))


def _promotion_summary(record: dict | None) -> dict | None:
    """What the state (and the slow agent's feedback) keeps of a promotion: the verdict, not the seeds."""
    if record is None:
        return None
    return {k: record[k] for k in ("promoted", "better", "reason", "renamed_from") if k in record}


class _NoCritic:
    """The ablation without a critic: the fast agent gets the raw results only."""

    def __init__(self, client):
        self.client = client
        self.model = client.model

    @property
    def cost_usd(self):
        return self.client.cost_usd

    def prompt(self, name, context, **params):
        if name != "critic":
            return self.client.prompt(name, context, **params)
        from rlgpt_cli.agents.loops import SUCCESS_TARGET
        from rlgpt_cli.models.client import ModelResult
        from rlgpt_cli.models.schemas import Critique

        rate = float(context["results"].get("success_rate", 0.0))
        verdict = Critique(success=rate >= SUCCESS_TARGET, score=rate, feedback="", suggestions=[],
                           revise="none" if rate >= SUCCESS_TARGET else "code")
        return ModelResult("none", verdict.model_dump_json(), verdict, False, 0.0, 0, 0, 0.0)
