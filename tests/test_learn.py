"""RL-GPT's learning stage: the macro-action env, `rlgpt learn`, policy skills, resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time

import pytest

from rlgpt_cli.errors import SandboxError

SUCCESS_WOOD = "info['achievements'].get('collect_wood', 0) > 0"
WOOD_REWARD = (
    "def reward(prev, obs, info):\n"
    "    return float(obs['inventory'][5]) - float(prev['inventory'][5])\n"
)


@pytest.fixture
def library(tmp_path):
    from rlgpt_cli.library import Library
    from rlgpt_cli.resources import builtin_skills_dir

    return Library(tmp_path / "library", builtin_dirs=[builtin_skills_dir()])


def make_env(library, macros, reward=WOOD_REWARD, success=SUCCESS_WOOD, max_steps=500, check="achievement collect_wood",
             **kwargs):
    """The env of sub-action collect_wood, judged by the plan's success ``check`` (the runner's);
    ``success`` is the model's termination.success, which decides nothing in training."""
    from rlgpt_cli.learn.subtask_env import SubtaskEnv
    from rlgpt_cli.runner.checks import judge_of
    from rlgpt_cli.runner.rewards import RewardSpec
    from rlgpt_cli.runner.skills import load_macros

    rewards = RewardSpec(reward, success, "collect_wood")
    judge = judge_of({"name": "collect_wood", "success": check})
    return SubtaskEnv(rewards, load_macros(library, macros), max_steps, judge=judge, seed=3, **kwargs)


def write_config(path, **overrides):
    config = {"subtask": "collect_wood", "macro_actions": ["goto_tree"], "reward_code": WOOD_REWARD,
              "termination": {"success": SUCCESS_WOOD, "max_episode_steps": 60}, "total_steps": 300}
    config.update(overrides)
    path.write_text(json.dumps(config))
    return str(path)


# --- the macro-action env ----------------------------------------------------------------


def test_macro_action_is_one_decision_over_several_env_steps(library):
    NATIVE = 17  # Crafter's native actions

    gamma = 0.9
    # Reward 1 on every env step and a success that never holds: a macro's reward is then
    # exactly sum_k gamma^k over the steps it took.
    env = make_env(library, ["explore"], reward="def reward(prev, obs, info):\n    return 1.0\n",
                   check="inventory diamond >= 1", gamma=gamma)
    obs, info = env.reset(seed=3)
    assert env.action_space.n == NATIVE + 1 and obs["action_mask"].tolist() == [1] * (NATIVE + 1)
    obs, reward, terminated, truncated, info = env.step(NATIVE)
    n = info["env_steps"]
    assert info["macro"] == "explore" and 1 < n <= 100
    assert env.total_env_steps == n
    assert math.isclose(reward, (1 - gamma**n) / (1 - gamma), rel_tol=1e-6)
    obs, reward, *_, info = env.step(0)  # a native action: one env step, undiscounted reward
    assert info["env_steps"] == 1 and reward == 1.0 and env.total_env_steps == n + 1


def test_macro_runs_its_skill_with_the_configs_params(library):
    NATIVE = 17  # Crafter's native actions

    # collect_wood's default n=1; the RL config's macro_params make the one decision fetch 3.
    never = "inventory diamond >= 1"
    for params, want in (({}, 1), ({"collect_wood": {"n": 3}}, 3)):
        env = make_env(library, ["collect_wood"], check=never, macro_params=params)
        env.reset(seed=3)
        *_, info = env.step(NATIVE)
        assert info["macro"] == "collect_wood" and info["inventory"]["wood"] == want


def test_macro_params_must_name_a_macro_and_parameters_its_skill_takes(library):
    from pydantic import ValidationError

    from rlgpt_cli.errors import UsageError
    from rlgpt_cli.models.schemas import RLConfig
    from rlgpt_cli.runner.skills import load_macros

    answer = {"subtask": "collect_wood", "macro_actions": ["explore"], "reward_code": WOOD_REWARD,
              "termination": {"success": SUCCESS_WOOD}}
    with pytest.raises(ValidationError, match="macro_params names collect_wood"):
        RLConfig.model_validate({**answer, "macro_params": {"collect_wood": {"n": 3}}})
    with pytest.raises(UsageError, match="collect_wood takes no parameter count"):
        load_macros(library, ["collect_wood"], params={"collect_wood": {"count": 3}})
    assert [s.name for s in load_macros(library, ["collect_wood"], params={"collect_wood": {"n": 3}})] == ["collect_wood"]


def test_macro_whose_preconditions_fail_is_masked(library):
    NATIVE = 17  # Crafter's native actions

    env = make_env(library, ["goto_tree", "place_table"])  # place_table needs 2 wood
    obs, _ = env.reset(seed=3)
    assert obs["action_mask"][:NATIVE].all()
    assert obs["action_mask"][NATIVE:].tolist() == [1, 0]


def test_success_rewards_and_terminates(library):
    env = make_env(library, ["collect_wood"])
    env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step(env.action_names.index("collect_wood"))
    assert terminated and not truncated and info["success"]
    assert reward > 1.0  # the wood gained (reward code, discounted) plus the success signal


TAMPERING_REWARD = (
    "def reward(prev, obs, info):\n"
    "    info['achievements']['collect_wood'] = 99\n"
    "    info['inventory']['wood'] = 9\n"
    "    info['success'] = True\n"
    "    return 0.0\n"
)


def test_the_models_success_expression_and_reward_code_cannot_decide_success(library):
    """The model's termination.success always holds and its reward code writes the info it is
    handed: the runner's judge (the plan's check, from the world's info) still says no."""
    env = make_env(library, [], reward=TAMPERING_REWARD, success="True")
    env.reset(seed=3)
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(0)  # noop: no wood collected
        assert not terminated and not info["success"] and reward == 0.0
    assert info["achievements"].get("collect_wood", 0) == 0 and info["inventory"].get("wood", 0) == 0


def test_success_is_judged_from_the_start_state(library):
    """An ``increased by`` check counts from where the sub-task started, not from the world's start."""
    env = make_env(library, ["collect_wood"], check="wood increased by 1")
    env.reset(seed=3)
    *_, terminated, truncated, info = env.step(env.action_names.index("collect_wood"))
    assert terminated and info["success"] and info["inventory"]["wood"] >= 1


def test_episode_truncates_at_max_episode_steps(library):
    env = make_env(library, [], check="inventory diamond >= 1", max_steps=5)
    env.reset(seed=3)
    ends = [env.step(0)[3] for _ in range(5)]
    assert ends == [False] * 4 + [True]


def test_staying_alive_is_judged_when_the_episodes_time_is_up(library):
    """An "alive" check holds from the first step: ending the episode there would grade every
    episode a success. It is judged at the episode limit instead."""
    env = make_env(library, [], check="alive", max_steps=20)
    env.reset(seed=3)
    steps = [env.step(0) for _ in range(20)]  # noop: 20 steps alive
    assert not any(terminated or info["success"] for _, _, terminated, _, info in steps[:-1])
    *_, terminated, truncated, info = steps[-1]
    assert terminated and not truncated and info["success"]


@pytest.mark.parametrize("code", [
    "import os\ndef reward(prev, obs, info):\n    return 0.0\n",
    "def reward(prev, obs, info):\n    return obs.__class__\n",
    "def reward(prev, obs, info):\n    open('/etc/passwd')\n    return 0.0\n",
])
def test_hostile_reward_code_is_refused(library, code):
    with pytest.raises(SandboxError, match="refused"):
        make_env(library, [], reward=code)


def test_success_expression_cannot_smuggle_statements(library):
    with pytest.raises(SandboxError, match="not one Python expression"):
        make_env(library, [], success="True\nimport os")


@pytest.mark.parametrize("code, message", [
    ("def reward(prev, obs, info):\n    return 1 / 0\n", "ZeroDivisionError"),
    ("def reward(prev, obs, info):\n    return float('nan')\n", "finite number"),
    ("def reward(prev, obs, info):\n    return 'lots'\n", "not a number"),
])
def test_bad_reward_is_a_clear_error(library, code, message):
    env = make_env(library, [], reward=code)
    env.reset(seed=3)
    with pytest.raises(SandboxError, match=message) as err:
        env.step(0)
    assert "reward code for collect_wood" in err.value.message and "\n" not in err.value.message


# --- rlgpt learn ---------------------------------------------------------------------------


def test_learn_saves_a_policy_skill_that_runs(cli, tmp_path):
    from rlgpt_cli.runner.skills import run_skill
    from rlgpt_cli.workspace import open_library
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.worlds.crafter.env import CrafterWorld
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    # The model's termination.success always holds: it decides neither training nor the policy's stop.
    config = write_config(tmp_path / "rl.json", termination={"success": "True", "max_episode_steps": 60})
    r = cli("--json", "learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "1",
            "--episodes", "2")
    assert r.exit_code in (0, 1), r.stderr
    report = r.json()
    # A policy has no `n` parameter: not a version of the built-in collect_wood(n), a new name.
    assert report["skill"] == "collect_wood_rl v1" and report["macro_actions"] == ["goto_tree"]
    assert report["promotion"]["promoted"] and report["promotion"]["renamed_from"] == "collect_wood"
    # The budget caps env steps; PPO's schedule runs whole rollouts (2 of 128 decisions here).
    assert report["steps_trained"] == 256 and report["env_steps"] >= 256
    for key in ("run_dir", "checkpoint", "curve"):
        assert os.path.exists(report[key]), key
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(report["tensorboard"]))

    listed = cli("--json", "skills", "list", "--kind", "policy").json()
    assert [(s["name"], s["kind"]) for s in listed] == [("collect_wood_rl", "policy")]
    assert listed[0]["metrics"]["env_steps"] == report["env_steps"]
    assert open_library(Settings.resolve()).get("collect_wood").kind == "code"  # never shadowed

    skill = open_library(Settings.resolve()).get("collect_wood_rl")
    world = CrafterWorld(seed=7)
    obs, info = world.reset(seed=7)
    api = CrafterAPI()
    api.observe(obs, info)
    assert skill.load_policy()[1]["subaction"]["name"] == "collect_wood"
    result = run_skill(skill, world, api, max_steps=40, library=open_library(Settings.resolve()))
    # It stops when its sub-action's judge holds (wood collected), not at once on the expression.
    assert result.error is None and 1 < result.steps <= 40
    assert (result.returned is True) == (api.achievements.get("collect_wood", 0) > 0)

    # A policy samples its actions; an episode on the same seed is the same episode.
    from rlgpt_cli.runner.episode import Stage, run_episode

    def episode():
        stage = Stage("collect_wood", skill, {"inventory": {"wood": 1}}, max_steps=60)
        return run_episode(lambda: CrafterWorld(seed=9, length=200), CrafterAPI, 9, [stage],
                           library=open_library(Settings.resolve())).to_dict()

    assert episode() == episode()


def test_learn_gives_the_same_run_with_one_or_two_rollout_workers(cli, tmp_path, monkeypatch):
    """Same seed, same 8 envs: the in-process rollouts (RLGPT_WORKERS=1) and 2 worker
    processes give the same learning curve, the same evaluation and the same weights -- the
    workers collecting the second rollout while this process validates the first update."""
    import torch

    config = write_config(tmp_path / "rl.json", total_steps=2 * 8 * 128)  # two rollouts of 8 x 128
    runs, cpu = [], []
    for workers in ("1", "2"):
        monkeypatch.setenv("RLGPT_WORKERS", workers)
        r = cli("--json", "learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "8",
                "--episodes", "2", "--no-save", "--name", f"w{workers}")
        assert r.exit_code in (0, 1), r.stderr
        report = r.json()
        with open(os.path.join(report["run_dir"], "progress.json")) as f:
            curve = json.load(f)["curve"]
        weights = torch.load(report["checkpoint"], weights_only=True)["agent"]
        timing = ("seconds", "sps", "env_sps", "cpu_seconds")
        runs.append(([{k: v for k, v in p.items() if k not in timing} for p in curve],
                     report["success_rate"], report["env_steps"], weights))
        cpu.append((report["cpu_seconds"], curve[-1]["cpu_seconds"]))
    (curve1, success1, steps1, w1), (curve2, success2, steps2, w2) = runs
    assert curve1 == curve2 and success1 == success2 and steps1 == steps2 > 0
    assert len(curve1) == 2 and "validation_success" in curve1[0]
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    # The two rollout workers' time (their start-up and the rollout) is in the second report
    # (this process's workers so far), and each point of the curve says what the run had cost
    # by then, on every core: less than the whole command, which went on to evaluate.
    (report1, point1), (report2, point2) = cpu
    assert report2["workers"] - report1["workers"] >= 1.0
    assert 0 < point2 < report2["learner"] + report2["workers"]


def test_learn_refuses_a_budget_below_one_update(cli):
    r = cli("--json", "learn", "--subtask", "harvest_log", "--steps", "100")
    assert r.exit_code == 2 and "less than one PPO update" in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and r.stderr.strip().endswith(errors[0]) and r.json()["exit_code"] == 2


def test_learn_refuses_a_bad_workers_setting(cli, monkeypatch):
    monkeypatch.setenv("RLGPT_WORKERS", "0")
    r = cli("learn", "--subtask", "harvest_log")
    assert r.exit_code == 2 and "RLGPT_WORKERS" in r.stderr


def test_learn_unknown_subtask_names_the_nearest(cli):
    r = cli("learn", "--subtask", "harvest_lgo")
    assert r.exit_code == 2
    assert "harvest_log" in r.stderr or "collect_wood" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_learn_refuses_settings_beyond_memory(cli):
    r = cli("learn", "--subtask", "harvest_log", "--num-envs", "100000")
    assert r.exit_code == 2 and "GiB" in r.stderr


def test_learn_invalid_config_file(cli, tmp_path):
    bad = tmp_path / "rl.json"
    bad.write_text(json.dumps({"subtask": "x", "reward_code": "def r(): pass", "termination": "True"}))
    r = cli("learn", "--subtask", "harvest_log", "--config", str(bad))
    assert r.exit_code == 2 and "reward_code" in r.stderr


def test_learn_cannot_be_told_it_succeeded(cli, tmp_path):
    """Reward code that edits its info and a success expression of True: under the model's own
    grade every episode would succeed at its first step; the runner's check reports none (3 native
    steps cannot collect wood on these seeds)."""
    config = write_config(tmp_path / "rl.json", macro_actions=[], reward_code=TAMPERING_REWARD,
                          termination={"success": "True", "max_episode_steps": 3}, total_steps=128)
    r = cli("--json", "learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "1",
            "--episodes", "2", "--no-save")
    assert r.exit_code == 1, r.stderr  # the sub-task was not learned
    report = r.json()
    assert report["success_rate"] == 0.0
    with open(os.path.join(report["run_dir"], "progress.json")) as f:
        curve = json.load(f)["curve"]
    assert curve and all(p["success_rate"] == 0.0 for p in curve)
    # Episodes ran to their 3-step limit (128 decisions: at most 43 episodes), never ended at once.
    assert all(0 < p["episodes"] <= 43 for p in curve)
    assert all(p.get("validation_success", 0.0) == 0.0 for p in curve)


def test_learning_to_stay_alive_trains_and_judges_over_the_sub_actions_own_time(cli, tmp_path):
    """survive 3 days: the model asks for 3-step episodes and a success of True; the sub-action
    lasts 900 steps, so its episodes do, and a policy that has barely trained does not survive
    them (with 3-step episodes every one would have counted as a success)."""
    config = write_config(tmp_path / "rl.json", subtask="stay_alive", macro_actions=[],
                          termination={"success": "True", "max_episode_steps": 3}, total_steps=128)
    r = cli("--json", "learn", "--subtask", "survive_3_days", "--config", config, "--num-envs", "1",
            "--episodes", "2", "--no-save")
    assert r.exit_code == 1, r.stderr
    report = r.json()
    assert report["success_rate"] == 0.0
    with open(os.path.join(report["run_dir"], "run.json")) as f:
        assert json.load(f)["rl_config"]["termination"]["max_episode_steps"] == 900
    with open(os.path.join(report["run_dir"], "progress.json")) as f:
        curve = json.load(f)["curve"]
    # 128 decisions end no 900-step episode alive (3-step ones would have ended 42 successes).
    assert curve and all(p["episodes"] == 0 and p["validation_success"] == 0.0 for p in curve)


def test_learn_reward_nan_fails_the_run_cleanly(cli, tmp_path):
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.store import Store

    config = write_config(tmp_path / "rl.json",
                          reward_code="def reward(prev, obs, info):\n    return float('nan')\n")
    r = cli("learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "1")
    assert r.exit_code == 4
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "finite number" in errors[0] and "training run 1 marked failed" in errors[0]
    store = Store(Settings.resolve().db_path)
    assert store.get_training(1)["status"] == "failed"


# --- interruption and resume (a real `rlgpt learn` process) ------------------------------


def _start(rlgpt_exe, tmp_path, steps: int):
    config = write_config(tmp_path / "rl.json", total_steps=steps)
    return subprocess.Popen(
        [rlgpt_exe, "--json", "learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "2",
         "--episodes", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def _wait_for_checkpoint(home, proc, timeout=120):
    deadline = time.time() + timeout
    while not (found := list((home / "runs").glob("crafter__collect_wood__*/checkpoint.pt"))):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no checkpoint written"
        time.sleep(0.2)
    return found[0]


@pytest.mark.slow
def test_sigterm_checkpoints_and_marks_interrupted(rlgpt_exe, tmp_path, isolated_home):
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.store import Store

    proc = _start(rlgpt_exe, tmp_path, steps=200_000)
    _wait_for_checkpoint(isolated_home, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "resume with: rlgpt learn --resume 1" in err
    assert Store(Settings.resolve().db_path).get_training(1)["status"] == "interrupted"


@pytest.mark.slow
def test_kill_9_then_resume_continues_from_the_checkpoint(rlgpt_exe, tmp_path, isolated_home):
    from rlgpt_cli.learn.ppo import load_checkpoint

    proc = _start(rlgpt_exe, tmp_path, steps=2_500)
    checkpoint = _wait_for_checkpoint(isolated_home, proc)
    proc.kill()  # SIGKILL: no handler runs
    proc.wait(timeout=30)
    done = load_checkpoint(checkpoint)["global_step"]
    assert done > 0

    r = subprocess.run([rlgpt_exe, "--json", "learn", "--resume", "1"], capture_output=True, text=True,
                       env=os.environ.copy(), timeout=600)
    assert r.returncode in (0, 1), r.stderr
    report = json.loads(r.stdout)
    assert report["training_id"] == 1 and report["env_steps"] >= 2_500
    assert report["steps_trained"] > done
    assert f"resuming training run 1 (collect_wood) at {done} decisions" in r.stderr
