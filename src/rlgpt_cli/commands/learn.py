"""`rlgpt learn --subtask NAME`: PPO with coded macro-actions learns a sub-action; saved as a policy skill."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from rlgpt_cli.commands import open_store, recorded_run, state
from rlgpt_cli.errors import TaskFailed, UsageError
from rlgpt_cli.output import console, emit
from rlgpt_cli.progress import for_command
from rlgpt_cli.seeds import MAX_SEED
from rlgpt_cli.settings import LIMITS

DEFAULT_STEPS = 30_000


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


def read_rl_config(path: Path):
    """An RL configuration from a JSON or YAML file, validated as the fast agent's answer."""
    import json

    from pydantic import ValidationError

    from rlgpt_cli.models.schemas import RLConfig

    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read --config {path}: {exc.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # json's ValueError, or yaml.YAMLError (not a ValueError)
        raise UsageError(f"--config {path} does not parse: {str(exc).splitlines()[0]}") from None
    try:
        return RLConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise UsageError(f"--config {path} is not a valid RL config: {where}: {first['msg']}") from None


def learn(
    ctx: typer.Context,
    subtask: Optional[str] = typer.Option(None, "--subtask", "-s", help="Sub-action or task name (harvest_log, place_table)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, max=LIMITS["steps"][1], help=f"Env-step budget for training (default: the RL config's, {DEFAULT_STEPS} from the fast agent)."),
    num_envs: Optional[int] = typer.Option(None, "--num-envs", min=1, max=LIMITS["num_envs"][1], help="Parallel environments (default 8)."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, max=MAX_SEED, help="Training seed (default: the global --seed)."),
    device: Device = typer.Option(Device.auto, "--device", help="Where the network runs."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="RL configuration (JSON or YAML) instead of asking the fast agent."),
    no_macro: bool = typer.Option(False, "--no-macro", help="Pure PPO on the 17 native actions (the ablation)."),
    resume: Optional[int] = typer.Option(None, "--resume", min=1, max=LIMITS["id"][1], help="Continue training run RUN from its last checkpoint."),
    episodes: int = typer.Option(20, "--episodes", "-n", min=1, max=1000, help="Held-out evaluation episodes."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0, max=LIMITS["cost"][1], help="Model cost budget (USD)."),
    name: Optional[str] = typer.Option(None, "--name", help="Run folder name under RLGPT_HOME/runs (default: world__subtask__seed__time)."),
    track: bool = typer.Option(False, "--track", help="Also log to Weights & Biases (the optional 'track' extra; WANDB_MODE=offline works)."),
    wandb_project: str = typer.Option("rlgpt", "--wandb-project", help="W&B project, with --track."),
    wandb_entity: Optional[str] = typer.Option(None, "--wandb-entity", help="W&B entity (team or user), with --track."),
    record_every: int = typer.Option(0, "--record-every", min=0, max=LIMITS["steps"][1], help="Record an episode of the policy every N PPO updates into the run's videos/ (0: never)."),
    no_save: bool = typer.Option(False, "--no-save", help="An experiment: train and evaluate, store nothing in the library."),
    promotion_episodes: int = typer.Option(20, "--promotion-episodes", min=1, max=1000,
                                           help="Paired episodes judging the policy against the running version."),
) -> None:
    """Learn a sub-action with PPO over Crafter's actions plus coded macro-actions; save it as a policy skill.

    The policy runs only if it beats the running version of its name on the same promotion
    seeds (paired sign test); else it is a candidate, runnable as NAME@N. A policy whose
    parameters or effects differ from the running skill's is saved under NAME_rl.

    Exit codes: 0 success rate >= 0.8; 1 trained but below it (the policy is still saved);
    2 bad input (unknown sub-task, invalid --config, settings too big for memory);
    4 the reward code was refused or failed; 130 interrupted (checkpoint saved, --resume).
    """
    from rlgpt_cli import seeds as seed_policy
    from rlgpt_cli import workers
    from rlgpt_cli.agents.loops import SUCCESS_TARGET
    from rlgpt_cli.learn.actors import PoolActors
    from rlgpt_cli.learn.subtask import Tracking, check_fits
    from rlgpt_cli.usecases import learn_subaction
    from rlgpt_cli.workspace import model_label, open_library

    st = state(ctx)
    settings = st.settings
    if (subtask is None) == (resume is None):
        raise UsageError("give --subtask NAME, or --resume RUN to continue a training run")
    seed = settings.seed if seed is None else seed
    if track:  # refuse before any model call or world is built
        import importlib.util

        if importlib.util.find_spec("wandb") is None:
            raise UsageError("--track needs Weights & Biases: pip install 'rlgpt-cli[track]'")
    tracking = Tracking(track=track, wandb_project=wandb_project, wandb_entity=wandb_entity,
                        record_every=record_every)
    if num_envs is not None:  # refuse before any model call or world is built
        from rlgpt_cli.learn.ppo import PPOConfig

        defaults = PPOConfig()
        check_fits(num_envs, defaults.num_steps, defaults.num_minibatches)
    args = {"subtask": subtask, "steps": steps, "num_envs": num_envs, "seed": seed, "device": device.value,
            "config": str(config_file) if config_file else None, "no_macro": no_macro, "resume": resume,
            "name": name, "track": track, "no_save": no_save}
    # The rollout workers' fork server loads torch in its own process while this one plans.
    workers.prestart(PoolActors.IMPORTS)
    with recorded_run(st, "learn", args), for_command(st) as progress, \
            progress.phase(f"learn {subtask}" if resume is None else f"learn (resuming training run {resume})"):
        library = open_library(settings)
        if not no_save:
            library.check_writable()
        if resume is not None:
            report = learn_subaction(settings, None, {}, None, [], library, resume=resume, log=progress.log,
                                     progress=progress, tracking=tracking)
        else:
            with progress.phase("plan and configure RL (fast agent)"):
                task, sub, prefix, config, source = _configure(st, subtask, config_file, steps, max_cost, library)
            if no_macro:
                config.macro_actions = []
            progress.log(f"RL config by {model_label(source)}; macro-actions: "
                         f"{', '.join(config.macro_actions) or 'none'}")
            report = learn_subaction(settings, task, sub, config, prefix, library, seed=seed,
                                     num_envs=num_envs, device=device.value, log=progress.log, episodes=episodes,
                                     progress=progress, tracking=tracking, model=source, name=name,
                                     save=not no_save, promotion_seeds=seed_policy.promotion(seed, promotion_episodes))
        report["target"] = SUCCESS_TARGET
        if report["success_rate"] < SUCCESS_TARGET:  # under --json the report is the failure's document
            saved = f"saved as {report['skill']}" if report["skill"] else "not saved (--no-save)"
            raise TaskFailed(f"{report['subtask']} succeeded in {report['success_rate']:.0%} of "
                             f"{report['episodes']} held-out episodes (target {SUCCESS_TARGET:.0%}); {saved}; "
                             f"train longer with --steps", details=report)

    def human(r):
        c = console()
        what = f"saved [bold]{r['skill']}[/bold] (policy)" if r["skill"] else "not saved (--no-save)"
        c.print(f"{what}: success {r['success_rate']:.0%} over {r['episodes']} "
                f"held-out episodes after {r['env_steps']:,} env steps ({r['steps_trained']:,} decisions) "
                f"in {r['wall_seconds']:.0f} s")
        if r["promotion"]:
            c.print(("runs now: " if r["promotion"]["promoted"] else "candidate: ") + r["promotion"]["reason"],
                    markup=False)
        c.print(f"run {r['run_dir']}  (training run {r['training_id']}; TensorBoard: {r['tensorboard']}; "
                f"curve: {r['curve']})")

    emit(st, report, human)


def _configure(st, subtask: str, config_file: Path | None, steps: int | None, max_cost, library):
    """The task, sub-action, start-state prefix and RL config for a new run."""
    from rlgpt_cli.usecases import configure_rl, plan_task, prefix_stages
    from rlgpt_cli.workspace import model_client
    from rlgpt_cli.worlds.tasks import resolve_task

    settings = st.settings
    task = resolve_task(subtask, world=settings.world)  # unknown names: NotFound, exit 2, nearest names
    store = open_store(st)
    client = model_client(settings, store, max_cost)
    record = plan_task(client, store, task, library)
    subs = record["plan"]["subactions"]
    index = len(subs) - 1
    sub = dict(subs[index], kind="rl")
    prefix = prefix_stages(subs, index, library)
    if config_file is not None:
        config, source = read_rl_config(config_file), str(config_file)
    else:
        config, source = configure_rl(client, task, sub, library, total_steps=steps or DEFAULT_STEPS,
                                      max_episode_steps=task.max_steps)
    if steps is not None:
        config.total_steps = steps
    return task, sub, prefix, config, source


def register(app: typer.Typer) -> None:
    app.command("learn")(learn)
