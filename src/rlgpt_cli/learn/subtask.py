"""Learn one sub-action end to end: RL config -> envs -> PPO -> evaluation -> policy skill.

`train_subaction` is what the `learn a sub-action` use-case (`usecases.learn_subaction`,
shared by `rlgpt learn` and `rlgpt iterate`) runs for an ``rl`` sub-action.
The run lives in a folder named as CleanRL names its runs,
``RLGPT_HOME/runs/<world>__<sub-action>__<seed>__<unix time>`` (or ``--name``)::

    run.json        everything needed to resume (RL config, PPO config, prefix, seeds)
    progress.json   the learning curve so far (rewritten after every PPO update)
    checkpoint.pt   the latest PPO checkpoint (every few updates, at the end, on SIGINT/SIGTERM)
    checkpoints/    the last few checkpoints, step-<env steps>.pt
    best.pt, .json  the policy that did best in the periodic validation (the one saved as a skill)
    tb/             TensorBoard event files under CleanRL's tags against env steps, and the
                    hyperparameters table
    wandb/          with --track: the Weights & Biases run (it syncs tb/)
    videos/         with --record-every N: an episode of the policy every N updates
    curve.png       success rate and return against env steps, smoothed
    eval.json       the held-out evaluation

Validation. A few times per run (and after the last update) the policy plays
``VALIDATION_EPISODES`` episodes on validation seeds (never the held-out evaluation seeds);
the best one so far is kept, and that one is evaluated and saved.

Budget. `RLConfig.total_steps` is a budget of **env steps** (world steps, macro-actions
counted by the steps they consumed), so pure PPO and PPO with macro-actions are compared on
the same footing. PPO plans its learning-rate schedule over that many decisions (whole
rollouts of num_envs x 128) and stops after the update in which the env steps run out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from rlgpt_cli.agents import facts
from rlgpt_cli.atomic import atomic_write_json
from rlgpt_cli.errors import Interrupted, RlgptError, StoreError, UsageError, write_failure

# CleanRL's defaults except where a Crafter sub-task needs otherwise: 8 envs (more episodes
# per rollout: success is sparse at first) and update_epochs/minibatches as CleanRL.
DEFAULT_NUM_ENVS = 8
CHECKPOINT_EVERY = 2  # PPO updates between checkpoints
KEEP_CHECKPOINTS = 3  # checkpoints kept besides the latest and the best
EVAL_EPISODES = 20
GRADIENT_CHUNKS = 2  # the update's gradient in halves: the two cores of a 2-worker run share it
VALIDATIONS = 4  # validations spread over the env-step budget, plus one after the last update
VALIDATION_EPISODES = 5
# Memory a run needs, measured on Crafter with the symbolic network (rounded up): one
# sub-environment (world, API memory, sandboxed skills), one stored transition, and one
# sample in a training minibatch (activations kept for the backward pass).
ENV_BYTES = 4 * 2**20
TRANSITION_BYTES = 2 * 2**10
MINIBATCH_SAMPLE_BYTES = 160 * 2**10


def available_memory() -> int | None:
    """Bytes of memory available now (Linux/macOS), or None when the platform cannot say."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(num_envs: int, num_steps: int, num_minibatches: int) -> None:
    """Refuse settings whose envs and buffers cannot fit in memory (UsageError, exit 2)."""
    batch = num_envs * num_steps
    need = num_envs * ENV_BYTES + batch * TRANSITION_BYTES + -(-batch // num_minibatches) * MINIBATCH_SAMPLE_BYTES
    have = available_memory()
    if have is not None and need > 0.8 * have:
        raise UsageError(f"{num_envs} envs x {num_steps} steps need about {need / 2**30:.1f} GiB, "
                         f"more than the {have / 2**30:.1f} GiB available; use fewer --num-envs")


def _check_resources(config) -> None:
    if config.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here (use cpu or auto)")
    if config.num_updates < 1:
        raise UsageError(f"--steps {config.total_timesteps:,} is less than one PPO update "
                         f"({config.num_envs} envs x {config.num_steps} steps = {config.batch_size:,}); "
                         f"give --steps >= {config.batch_size:,} or fewer --num-envs")
    check_fits(config.num_envs, config.num_steps, config.num_minibatches)


@dataclasses.dataclass
class _Plan:
    """What a run needs, as saved in run.json (a resumed run rebuilds everything from it)."""

    subtask: dict
    task: str
    world: str
    rl_config: dict
    ppo: dict
    prefix: list[dict]
    macro_versions: dict
    macro_step_cap: int
    eval_seeds: list[int]
    model: str
    validation_seeds: list[int] = dataclasses.field(default_factory=list)  # empty: runs from before validation
    save: bool = True  # False: an experiment (--no-save), nothing goes to the library
    promotion_seeds: list[int] = dataclasses.field(default_factory=list)  # judged against the running version


class _Stopper:
    """SIGINT/SIGTERM ask the run to stop after the current update (then it checkpoints)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_Stopper":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None:  # a second Ctrl-C: stop now, the last checkpoint stands
            raise KeyboardInterrupt
        self.signal = signum
        # os.write: safe inside a signal handler, where a print could re-enter the stream.
        os.write(2, f"\n{signal.Signals(signum).name}: stopping after this PPO update, then saving a "
                    f"checkpoint (press Ctrl-C again to stop at once)\n".encode())

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _prefix_records(prefix: list) -> list[dict]:
    return [{"name": s.name, "skill": s.skill.name, "version": s.skill.version, "effects": s.effects,
             "params": s.params, "max_steps": s.max_steps} for s in prefix]


def _prefix_stages(records: list[dict], library) -> list:
    from rlgpt_cli.errors import NotFound
    from rlgpt_cli.runner.episode import Stage

    stages = []
    for r in records:
        try:
            skill = library.get(r["skill"], r["version"])
        except NotFound:  # that version was removed since: the best one starts it as well
            skill = library.get(r["skill"])
        stages.append(Stage(r["name"], skill, r["effects"], params=r["params"], max_steps=r["max_steps"]))
    return stages


@dataclasses.dataclass
class EnvFactory:
    """``factory(seed)`` builds the run's `SubtaskEnv`; picklable, so a rollout worker process
    builds its envs from it (the reward code compiles there, in that process's sandbox)."""

    plan: _Plan
    library: Any
    prefix: list
    gamma: float

    def __call__(self, seed: int):
        from rlgpt_cli.learn.subtask_env import SubtaskEnv
        from rlgpt_cli.runner.checks import judge_of
        from rlgpt_cli.runner.rewards import RewardSpec
        from rlgpt_cli.runner.skills import load_macros

        plan, term = self.plan, self.plan.rl_config["termination"]
        rewards = RewardSpec(plan.rl_config["reward_code"], term["success"], plan.subtask["name"])
        macros = load_macros(self.library, plan.rl_config["macro_actions"], plan.macro_versions)
        return SubtaskEnv(rewards, macros, term["max_episode_steps"], judge=judge_of(plan.subtask),
                          prefix=self.prefix, seed=seed, gamma=self.gamma,
                          macro_step_cap=plan.macro_step_cap, world=plan.world, task=plan.task,
                          library=self.library, macro_params=plan.rl_config.get("macro_params"))


@dataclasses.dataclass
class Tracking:
    """What a training run keeps besides its checkpoints: Weights & Biases (``--track``, the
    optional ``track`` extra) and a recording of one episode every ``record_every`` updates
    (``videos/step-<env steps>.mp4``, or ``.gif`` without ffmpeg)."""

    track: bool = False
    wandb_project: str = "rlgpt"
    wandb_entity: str | None = None
    record_every: int = 0


def run_folder(runs_dir: Path, world: str, subtask: str, seed: int, name: str | None) -> Path:
    """``<world>__<sub-action>__<seed>__<unix time>`` as CleanRL names runs, or ``name``."""
    if name is not None:
        if "/" in name or name in ("", ".", ".."):
            raise UsageError(f"--name must be a plain folder name, got {name!r}")
        folder = runs_dir / name
        if folder.exists():
            raise UsageError(f"run folder {folder} exists; choose another --name or resume that run")
        return folder
    folder = runs_dir / f"{world}__{subtask}__{seed}__{int(time.time())}"
    n = 1
    while folder.exists():  # two runs in the same second
        n += 1
        folder = folder.with_name(f"{world}__{subtask}__{seed}__{int(time.time())}__{n}")
    return folder


def train_subaction(settings, task, sub: dict, config, prefix: list, library, *, seed: int = 0,
                    num_envs: int | None = None, device: str = "auto", log: Callable[[str], None] = print,
                    name: str | None = None, resume: int | None = None,
                    episodes: int = EVAL_EPISODES, progress=None, tracking: Tracking | None = None,
                    model: str | None = None, checkpoint_every: int = CHECKPOINT_EVERY, save: bool = True,
                    promotion_seeds: list[int] | None = None, workers: int | None = None) -> dict:
    """Train PPO on sub-action `sub` with the fast agent's RL `config`, evaluate it on held-out
    seeds and save it as a policy skill (unless not `save`), which runs only if it beats the
    running version on `promotion_seeds` (default: `runner.promotion.EPISODES` of
    `seeds.promotion`; see `runner.promotion`). Returns success_rate, env_steps, skill
    ("name vN", or None when not saved), promotion (the record) and where everything went.

    `prefix`: composer Stages that reach the sub-action's start state. `resume`: a training
    run id to continue from its last checkpoint (then `config`, `prefix` and the settings
    saved with that run are used). `name`: the run folder's name (default: CleanRL's
    ``world__subtask__seed__time``). `progress` (a `progress.Progress`) shows training in env
    steps, live, and the evaluations episode by episode. `workers`: processes that collect
    the rollouts (default: the executor's, ``--workers`` / ``RLGPT_WORKERS``, every core); the
    result is the same for any number.
    Raises Interrupted (exit 130, run marked interrupted, resumable) on SIGINT/SIGTERM, and
    lets a SandboxError from the reward code through after marking the run failed.
    """
    from rlgpt_cli import seeds
    from rlgpt_cli.learn import ppo
    from rlgpt_cli.progress import Progress
    from rlgpt_cli.runner import promotion
    from rlgpt_cli.runner.checks import judge_of
    from rlgpt_cli.workers import current
    from rlgpt_cli.runner.skills import MACRO_STEP_CAP, load_macros
    from rlgpt_cli.store import Store

    progress = progress or Progress.off()
    tracking = tracking or Tracking()
    store = Store(settings.db_path)
    try:
        if resume is not None:
            record = store.get_training(resume)
            training_id, run_dir = resume, Path(record["directory"])
            try:
                plan = _Plan(**json.loads((run_dir / "run.json").read_text()))
            except (OSError, ValueError, TypeError) as exc:
                raise UsageError(f"training run {resume} cannot be resumed: {run_dir / 'run.json'}: {exc}") from None
            if not (run_dir / "checkpoint.pt").exists():
                raise UsageError(f"training run {resume} has no checkpoint yet ({run_dir}); start it again")
            ppo_config = ppo.PPOConfig(**plan.ppo)
            prefix = _prefix_stages(plan.prefix, library)
            store.update_training(training_id, status="running", ended_at=None)
        else:
            rl = config.model_dump()
            # Staying alive is judged at the episode limit: that is the sub-action's own time.
            duration = (sub.get("params") or {}).get("steps")
            if duration and judge_of(sub).lasting:
                rl["termination"]["max_episode_steps"] = int(duration)
            num_envs = num_envs or DEFAULT_NUM_ENVS
            ppo_config = ppo.PPOConfig(total_timesteps=rl["total_steps"], num_envs=num_envs, seed=seed,
                                       device=device, gradient_chunks=GRADIENT_CHUNKS)
            _check_resources(ppo_config)  # before anything is recorded or built
            run_dir = run_folder(settings.runs_dir, task.world, sub["name"], seed, name)
            # Macro-actions and their params are checked here, once, before anything is recorded.
            macros = load_macros(library, rl["macro_actions"], params=rl["macro_params"])
            plan = _Plan(subtask=sub, task=task.name, world=task.world, rl_config=rl,
                         ppo=dataclasses.asdict(ppo_config), prefix=_prefix_records(prefix),
                         macro_versions={s.name: s.version for s in macros}, macro_step_cap=MACRO_STEP_CAP,
                         eval_seeds=seeds.policy_evaluation(seed, episodes),
                         model=model or settings.model,
                         validation_seeds=seeds.policy_validation(seed, VALIDATION_EPISODES), save=save,
                         promotion_seeds=promotion_seeds or seeds.promotion(seed, promotion.EPISODES))
            training_id = store.start_training(sub["name"], task.world, "", rl, rl["total_steps"])
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
                store.update_training(training_id, directory=str(run_dir))
                atomic_write_json(run_dir / "run.json", dataclasses.asdict(plan))
            except OSError as exc:
                failed = write_failure(exc)
                if failed is None:
                    raise
                raise _marked_failed(store, training_id, failed, "nothing was trained") from None
        return _run(store, training_id, run_dir, plan, ppo_config, library, prefix, resume is not None,
                    log, progress, tracking, checkpoint_every, workers or current().workers)
    finally:
        store.close()


def _marked_failed(store, training_id: int, failed: RlgptError, have: str) -> RlgptError:
    """``failed`` as its documented class (same exit code) with the run's fate added, once the
    run is marked failed (a store on the same full disk may refuse the mark: the error stands)."""
    with contextlib.suppress(StoreError):
        store.update_training(training_id, status="failed")
    cls = next(c for c in type(failed).__mro__ if c.__module__ == RlgptError.__module__)
    return cls(f"{failed.message}; training run {training_id} marked failed ({have})")


def hyperparameters(plan: _Plan, training_id: int) -> dict[str, Any]:
    """The run's settings as one flat table (TensorBoard's ``hyperparameters`` text, W&B's config)."""
    rl = plan.rl_config
    return {"world": plan.world, "task": plan.task, "subtask": plan.subtask["name"], "training_id": training_id,
            "model": plan.model, "env_step_budget": rl["total_steps"],
            "macro_actions": ", ".join(rl["macro_actions"]) or "none",
            "max_episode_steps": rl["termination"]["max_episode_steps"], "success": rl["termination"]["success"],
            **plan.ppo}


def _start_tracking(tracking: Tracking, run_dir: Path, hparams: dict):
    """A Weights & Biases run that syncs the TensorBoard files; None without --track."""
    if not tracking.track:
        return None
    try:
        import wandb
    except ImportError:
        raise UsageError("--track needs Weights & Biases: pip install 'rlgpt-cli[track]'") from None
    return wandb.init(project=tracking.wandb_project, entity=tracking.wandb_entity, name=run_dir.name,
                      config=hparams, sync_tensorboard=True, dir=str(run_dir))


def _run(store, training_id: int, run_dir: Path, plan: _Plan, ppo_config, library, prefix: list,
         resuming: bool, log, progress, tracking: Tracking, checkpoint_every: int, workers: int) -> dict:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from rlgpt_cli import seeds
    from rlgpt_cli.learn import ppo

    name = plan.subtask["name"]
    budget = int(plan.rl_config["total_steps"])
    checkpoint = run_dir / "checkpoint.pt"
    progress_path = run_dir / "progress.json"
    curve: list[dict] = []
    base_steps, base_seconds = 0, 0.0
    if resuming:
        # The curve may have run past the last checkpoint (a kill -9 between the two): keep
        # what the checkpoint covers, so env steps and the curve match the weights resumed.
        done = ppo.load_checkpoint(checkpoint)["global_step"]
        saved = json.loads(progress_path.read_text()) if progress_path.exists() else {"curve": []}
        curve = [p for p in saved["curve"] if p["global_step"] <= done]
        if curve:
            base_steps, base_seconds = curve[-1]["env_steps"], curve[-1]["seconds"]
        log(f"resuming training run {training_id} ({name}) at {done} decisions, {base_steps} env steps")
    macros = plan.rl_config["macro_actions"]

    make = EnvFactory(plan, library, prefix, ppo_config.gamma)
    env_fns = [functools.partial(make, s) for s in seeds.training(ppo_config.seed, ppo_config.num_envs)]
    envs = ppo.ChunkedCollector(env_fns, ppo_config, workers=workers)
    try:
        obs_space, action_space = envs.start()
    except BaseException:
        envs.close()
        raise
    log(f"learning {name}: PPO on {ppo_config.num_envs} envs ({envs.workers} rollout worker"
        f"{'s' if envs.workers > 1 else ''}), budget {budget} env steps, "
        f"macro-actions: {', '.join(macros) or 'none (pure PPO)'}; run {run_dir}")
    # Built here with train's seed (same weights as train would draw) so that validation can
    # play the policy between updates.
    torch.manual_seed(ppo_config.seed)
    agent = ppo.Agent(obs_space, int(action_space.n))
    best = _Best(run_dir / "best.pt", agent)
    validated = [max((p["env_steps"] for p in curve if "validation_success" in p), default=0)]

    def env_steps() -> int:
        return base_steps + envs.env_steps

    hparams = hyperparameters(plan, training_id)
    tracked = _start_tracking(tracking, run_dir, hparams)
    writer = SummaryWriter(str(run_dir / "tb"), purge_step=curve[-1]["env_steps"] + 1 if curve else None)
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(
        f"|{k}|{str(v).replace('|', '/')}|" for k, v in hparams.items()))
    writer.add_text("reward_code", "```python\n" + plan.rl_config["reward_code"] + "\n```")
    started = time.time()
    stopper = _Stopper()
    recordings: list[str] = []

    def after_update(m: dict) -> None:
        point = {"update": m["update"], "global_step": m["global_step"], "env_steps": env_steps(),
                 "seconds": base_seconds + time.time() - started, "success_rate": m["success_rate"],
                 "episodic_return": m["episodic_return"], "episodes": m["episodes"], "sps": m["sps"],
                 "env_sps": m["env_sps"], "cpu_seconds": round(sum(_cpu_seconds().values()), 2)}
        last = m["update"] == m["num_updates"] or point["env_steps"] >= budget
        due = point["env_steps"] - validated[0] >= budget / VALIDATIONS
        if plan.validation_seeds and stopper.signal is None and (last or due):
            validated[0] = point["env_steps"]
            point["validation_success"] = best.validate(envs, make, plan.validation_seeds, point["env_steps"],
                                                        progress)
            writer.add_scalar("charts/validation_success_rate", point["validation_success"], point["env_steps"])
        if tracking.record_every and m["update"] % tracking.record_every == 0 and stopper.signal is None:
            recordings.append(_record_episode(agent, make, plan.validation_seeds or plan.eval_seeds,
                                              run_dir / "videos" / f"step-{point['env_steps']:09d}.mp4"))
        curve.append(point)
        atomic_write_json(progress_path, {"training_id": training_id, "curve": curve})
        store.update_training(training_id, global_step=point["env_steps"], success_rate=m["success_rate"])
        training.update(success="-" if m["success_rate"] is None else f"{m['success_rate']:.0%}",
                        return_="-" if m["episodic_return"] is None else f"{m['episodic_return']:.2f}",
                        best=None if best.success is None else f"{best.success:.0%} (validation)")

    try:
        with stopper, progress.phase(f"PPO {name}", total=budget, poll=env_steps) as training:
            result = ppo.train(
                envs, ppo_config, agent=agent, writer=writer, on_update=after_update, checkpoint_path=checkpoint,
                checkpoint_every=checkpoint_every, resume_from=checkpoint if resuming else None,
                should_stop=lambda: stopper.signal is not None or env_steps() >= budget,
                env_steps=env_steps, checkpoint_history=KEEP_CHECKPOINTS,
            )
        if stopper.signal is not None:
            store.update_training(training_id, status="interrupted")
            raise Interrupted(f"learning {name} stopped by signal {stopper.signal} at {env_steps()} env steps; "
                              f"checkpoint saved; resume with: rlgpt learn --resume {training_id}")
        trained_steps = env_steps()
        best.restore()  # the policy that validated best is the one evaluated and saved
        log(f"trained {name}: {result.global_step} decisions, {trained_steps} env steps in "
            f"{base_seconds + time.time() - started:.0f} s"
            + (f"; best validation {best.success:.0%} at {best.env_steps:,} env steps" if best.success is not None
               else "") + f"; evaluating on {len(plan.eval_seeds)} held-out seeds")
        report = _evaluate_and_save(store, training_id, run_dir, plan, library, envs, make,
                                    result, trained_steps, curve, progress, prefix)
        envs.close()  # the rollout workers are done: their memory back, their CPU counted
        report["best"] = {"validation_success": best.success, "env_steps": best.env_steps,
                          "path": str(best.path) if best.success is not None else None,
                          "validation_env_steps": best.spent}
        report["recordings"] = recordings
        report["wall_seconds"] = round(base_seconds + time.time() - started, 1)
        report["cpu_seconds"] = _cpu_seconds()
        store.update_training(training_id, status="ok", success_rate=report["success_rate"])
        return report
    except Interrupted:
        store.update_training(training_id, status="interrupted")
        raise
    except KeyboardInterrupt:  # a second signal: stopped at once, mid-update
        store.update_training(training_id, status="interrupted")
        how = (f"its last checkpoint stands; resume with: rlgpt learn --resume {training_id}" if checkpoint.exists()
               else "no checkpoint had been written yet; start it again")
        raise Interrupted(f"learning {name} stopped at once at {env_steps()} env steps; {how}") from None
    except (RlgptError, OSError) as exc:  # e.g. the reward code raised, or the disk is full
        failed = exc if isinstance(exc, RlgptError) else write_failure(exc)
        if failed is None:
            raise
        have = "its last checkpoint is kept" if checkpoint.exists() else "no checkpoint had been written"
        raise _marked_failed(store, training_id, failed, have) from None
    finally:
        writer.close()
        envs.close()
        if tracked is not None:
            tracked.finish()


def _record_episode(agent, make, seeds: list[int], path: Path) -> str:
    """One episode of the current policy (the start-state set-up included), every world step
    of its macro-actions drawn: ``path`` as MP4, or a GIF without ffmpeg."""
    from rlgpt_cli.learn import ppo
    from rlgpt_cli.reports import Recording, Watched

    recording = Recording(path)

    def env():
        sub_env = make(seeds[0])
        sub_env.world = Watched(sub_env.world, recording)
        return sub_env

    ppo.evaluate(agent, env, episodes=1, seeds=seeds[:1], deterministic=False)
    return str(recording.close())


class _Best:
    """The policy that did best in validation: on disk (``best.pt`` + ``best.json``, so a
    resumed run goes on comparing against it) and in memory."""

    def __init__(self, path: Path, agent) -> None:
        self.path, self.agent = path, agent
        self.success: float | None = None
        self.env_steps: int | None = None
        self.spent = 0  # env steps the validations took (not part of the training budget)
        self._state = None
        meta = path.with_suffix(".json")
        if meta.exists():
            import torch

            saved = json.loads(meta.read_text())["metadata"]
            self.success, self.env_steps = saved["validation_success"], saved["env_steps"]
            self._state = torch.load(path, map_location="cpu", weights_only=True)

    def validate(self, workers, make, seeds: list[int], env_steps: int, progress) -> float:
        """Play the current policy on ``seeds`` (on the rollout `workers`, a
        `ppo.ChunkedCollector`); keep it when it does at least as well as the best."""
        from rlgpt_cli.learn import ppo

        with progress.phase("validate", total=len(seeds), unit="episodes") as ph:
            ev = workers.evaluate(self.agent, functools.partial(make, seeds[0]), seeds)
            ph.update(len(seeds))
        self.spent += ev["env_steps"]
        success = float(ev["success_rate"] or 0.0)
        if self.success is None or success >= self.success:  # a tie goes to the longer-trained policy
            self.success, self.env_steps = success, env_steps
            self._state = {k: v.detach().cpu().clone() for k, v in self.agent.state_dict().items()}
            ppo.save_policy(self.agent, self.path, {"validation_success": success, "env_steps": env_steps})
        return success

    def restore(self) -> None:
        if self._state is not None:
            self.agent.load_state_dict(self._state)


def _evaluate_and_save(store, training_id, run_dir: Path, plan: _Plan, library, workers, make,
                       result, trained_steps: int, curve: list[dict], progress, prefix: list) -> dict:
    from rlgpt_cli import seeds
    from rlgpt_cli.runner import promotion

    # Sampled actions, as the policy skill runs: a deterministic policy facing a wall
    # (same observation, same argmax) can repeat one useless move forever. On the rollout
    # workers: every core plays.
    with progress.phase(f"evaluate {plan.subtask['name']} (held-out seeds)", total=len(plan.eval_seeds),
                        unit="episodes") as ph:
        ev = workers.evaluate(result.agent, functools.partial(make, plan.eval_seeds[0]), plan.eval_seeds)
        ph.update(len(plan.eval_seeds))
    eval_steps = ev["env_steps"]
    success = float(ev["success_rate"] or 0.0)
    atomic_write_json(run_dir / "eval.json", {**ev, "seeds": plan.eval_seeds, "env_steps": eval_steps})
    store.add_evaluation(plan.task, plan.world, f"policy:{plan.subtask['name']}", len(plan.eval_seeds),
                         plan.eval_seeds, success, {"training_id": training_id, "mean_return": ev["mean_return"]})
    curve_png = _plot(run_dir / "curve.png", curve, plan.subtask["name"], plan.rl_config["macro_actions"])

    rl = plan.rl_config
    config = {
        "world": plan.world, "task": plan.task, "subtask": plan.subtask["name"],
        "network": result.agent.spec(),
        "native_actions": result.agent.n_actions - len(rl["macro_actions"]),
        "macro_actions": rl["macro_actions"], "macro_versions": plan.macro_versions,
        "macro_params": rl.get("macro_params") or {},
        "macro_step_cap": plan.macro_step_cap, "reward_code": rl["reward_code"],
        "termination": rl["termination"], "ppo": plan.ppo, "deterministic": False,
        # What judged its training episodes, and judges when it stops (runner.checks.judge_of).
        "subaction": {k: plan.subtask.get(k) for k in ("name", "success", "effects")},
    }
    state = {k: v.detach().cpu() for k, v in result.agent.state_dict().items()}
    macros = rl["macro_actions"]
    description = (f"Learned policy for {plan.subtask['name']} (PPO"
                   + (f" with macro-actions {', '.join(macros)}" if macros else ", native actions only")
                   + f"): {plan.subtask.get('success') or rl['termination']['success']}.")
    effects = facts.parse(plan.subtask.get("effects", []))
    params = {"max_steps": rl["termination"]["max_episode_steps"]}

    def add(name: str, record: dict):
        return library.add_policy_skill(
            name, state, config, description=description, world=plan.world,
            preconditions=facts.parse(plan.subtask.get("preconditions", [])), effects=effects, params=params,
            metrics={"success_rate": success, "episodes": len(plan.eval_seeds), "seeds": plan.eval_seeds,
                     "steps_trained": result.global_step, "env_steps": trained_steps, "promotion": record},
            provenance={"model": plan.model, "training_run_id": training_id, "prompt": "fast_agent_rl"},
        )

    skill = record = None
    if plan.save:
        skill, record = promotion.save(
            library, add, plan.subtask, prefix, kind="policy", params=params, effects=effects, task=plan.task,
            world=plan.world, seeds=plan.promotion_seeds or seeds.promotion(plan.ppo["seed"], promotion.EPISODES))
    return {
        "subtask": plan.subtask["name"], "task": plan.task, "training_id": training_id,
        "success_rate": success, "episodes": len(plan.eval_seeds), "seeds": plan.eval_seeds,
        "env_steps": trained_steps, "eval_env_steps": eval_steps, "steps_trained": result.global_step,
        "macro_actions": macros, "skill": f"{skill.name} v{skill.version}" if skill else None,
        "saved": skill is not None, "promotion": record,
        "run_dir": str(run_dir), "tensorboard": str(run_dir / "tb"), "checkpoint": str(run_dir / "checkpoint.pt"),
        "curve": str(curve_png), "curve_points": len(curve),
    }


def _cpu_seconds() -> dict[str, float]:
    """CPU time so far of this process (and the children it waited for) and of the local
    worker processes it ran (rollouts, evaluation): what the command cost on every core."""
    import resource

    from rlgpt_cli.workers.pool import workers_cpu

    own = sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    return {"learner": round(own, 2), "workers": round(workers_cpu(), 2)}


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first points
    are not pulled toward zero."""
    out, last, norm = [], 0.0, 0.0
    for v in values:
        last, norm = weight * last + (1 - weight) * v, weight * norm + (1 - weight)
        out.append(last / norm)
    return out


def _plot(path: Path, curve: list[dict], name: str, macros: list[str]) -> Path:
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
    for ax, key, color, label in ((top, "success_rate", "tab:blue", "training success rate"),
                                  (bottom, "episodic_return", "tab:orange", "episodic return")):
        pts = [p for p in curve if p[key] is not None]
        xs, ys = [p["env_steps"] for p in pts], [p[key] for p in pts]
        ax.plot(xs, ys, color=color, alpha=0.3, linewidth=1)  # raw, faint
        ax.plot(xs, smooth(ys), color=color, linewidth=2, label=f"{label} (smoothed)")
        ax.set_ylabel(label)
    checked = [p for p in curve if p.get("validation_success") is not None]
    if checked:
        top.plot([p["env_steps"] for p in checked], [p["validation_success"] for p in checked], "o",
                 color="tab:green", label="validation success")
    top.set_ylim(-0.05, 1.05)
    top.legend(loc="lower right", fontsize="small")
    title = f"{name}: PPO" + (f" + macro-actions ({', '.join(macros)})" if macros else " (native actions)")
    top.set_title(textwrap.fill(title, 70), fontsize="medium")  # wrapped: a long list is never cut off
    bottom.set_xlabel("env steps")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
