"""Tests for the PPO learner (rlgpt_cli.learn.ppo)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from rlgpt_cli.learn import ppo
from rlgpt_cli.learn.ppo import Agent, PPOConfig, evaluate, load_checkpoint, load_policy, save_policy, train

N_ACTIONS = 5


class MaskedEnv(gym.Env):
    """Fixed-length episodes with a random action mask; records any masked action taken."""

    def __init__(self, length: int = 6):
        self.length = length
        self.observation_space = spaces.Dict(
            {"obs": spaces.Box(-1, 1, (3,), np.float32), "action_mask": spaces.MultiBinary(N_ACTIONS)}
        )
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.violations = 0

    def _observe(self):
        mask = self.np_random.integers(0, 2, N_ACTIONS).astype(np.int8)
        mask[self.np_random.integers(N_ACTIONS)] = 1  # at least one legal action
        self.mask = mask
        return {"obs": self.np_random.uniform(-1, 1, 3).astype(np.float32), "action_mask": mask}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._observe(), {}

    def step(self, action):
        self.violations += int(not self.mask[action])
        self.t += 1
        done = self.t >= self.length
        return self._observe(), 1.0, done, False, {"success": action == 0} if done else {}


def crafter_space() -> spaces.Dict:
    """The symbolic observation space of docs/CONTRACTS.md."""
    return spaces.Dict(
        {
            "view": spaces.Box(0, 255, (2, 9, 7), np.uint8),
            "inventory": spaces.Box(0, 9, (16,), np.uint8),
            "daylight": spaces.Box(0, 1, (1,), np.float32),
            "facing": spaces.Box(-1, 1, (2,), np.int8),
            "pos": spaces.Box(0, 63, (2,), np.int16),
            "sleeping": spaces.Box(0, 1, (1,), np.uint8),
        }
    )


class FakeCrafter(gym.Env):
    """Crafter-shaped symbolic observations (random ids in range) and 17 masked actions."""

    def __init__(self):
        self.observation_space = spaces.Dict({**crafter_space().spaces, "action_mask": spaces.MultiBinary(17)})
        self.action_space = spaces.Discrete(17)

    def _observe(self):
        rng = self.np_random
        view = np.stack([rng.integers(0, 13, (9, 7)), rng.integers(0, 8, (9, 7))]).astype(np.uint8)
        return {
            "view": view,
            "inventory": rng.integers(0, 10, 16).astype(np.uint8),
            "daylight": rng.uniform(0, 1, 1).astype(np.float32),
            "facing": np.array([1, 0], np.int8),
            "pos": rng.integers(0, 64, 2).astype(np.int16),
            "sleeping": np.zeros(1, np.uint8),
            "action_mask": np.r_[np.ones(5, np.int8), rng.integers(0, 2, 12).astype(np.int8)],
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._observe(), {}

    def step(self, action):
        self.t += 1
        return self._observe(), float(action == 0), False, self.t >= 20, {}


def small_config(**kw) -> PPOConfig:
    base = {"num_steps": 32, "total_timesteps": 4 * 32 * 4, "seed": 3, "device": "cpu"}
    return PPOConfig(**{**base, **kw})


def test_cartpole_learns_quickly():
    config = PPOConfig(total_timesteps=25_000, seed=1, device="cpu")
    result = train([lambda: gym.make("CartPole-v1")] * config.num_envs, config)
    # A random policy averages ~22 on CartPole-v1.
    assert result.global_step == config.num_updates * config.batch_size
    assert np.mean(result.recent_returns) > 60
    ev = evaluate(result.agent, lambda: gym.make("CartPole-v1"), episodes=3, seeds=[0, 1, 2])
    assert ev["mean_return"] > 60 and len(ev["returns"]) == 3 and ev["success_rate"] is None


def test_masked_actions_are_never_sampled():
    agent = Agent(MaskedEnv().observation_space, N_ACTIONS)
    mask = torch.tensor([[False, True, False, True, False]]).repeat(4000, 1)
    obs = torch.randn(4000, 3)
    action, logprob, entropy, _ = agent.get_action_and_value(obs, action_mask=mask)
    assert mask.gather(1, action[:, None]).all()
    assert set(action.tolist()) == {1, 3}
    # The Gumbel-max draw follows the policy's probabilities.
    p1 = logprob[action == 1][0].exp().item()
    assert (action == 1).float().mean().item() == pytest.approx(p1, abs=0.04)
    assert torch.isfinite(logprob).all() and torch.isfinite(entropy).all()
    # Scoring a batch in the loss also respects the mask: the legal actions' probabilities sum to 1.
    _, lp1, _, _ = agent.get_action_and_value(obs[:1], torch.tensor([1]), mask[:1])
    _, lp3, _, _ = agent.get_action_and_value(obs[:1], torch.tensor([3]), mask[:1])
    assert torch.allclose(lp1.exp() + lp3.exp(), torch.tensor([1.0]), atol=1e-6)


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_training_with_mask_and_both_autoreset_modes(mode):
    envs = gym.vector.SyncVectorEnv([lambda: MaskedEnv(length=6)] * 4, autoreset_mode=mode)
    seen = []
    tags = set()

    class Writer:
        def add_scalar(self, tag, value, step):
            tags.add(tag)

    result = train(envs, small_config(), on_update=seen.append, writer=Writer())
    assert sum(env.violations for env in envs.envs) == 0
    # Every episode is exactly 6 steps and returns 6 in both modes: NEXT_STEP reset steps are
    # not counted as part of an episode.
    finished = [m for m in seen if m["episodes"]]
    assert finished and all(m["episodic_length"] == 6 and m["episodic_return"] == 6 for m in finished)
    assert all(0 <= m["success_rate"] <= 1 for m in finished)
    assert result.global_step == 4 * 32 * 4
    for tag in ("charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/success_rate",
                "losses/value_loss", "losses/policy_loss", "losses/entropy", "losses/approx_kl",
                "losses/clipfrac", "losses/explained_variance", "charts/learning_rate"):
        assert tag in tags
    envs.close()


def test_next_step_reset_steps_are_left_out_of_the_batch(monkeypatch):
    # Episodes of 3 steps under NEXT_STEP: every 4th step per env is a reset step.
    envs = gym.vector.SyncVectorEnv([lambda: MaskedEnv(length=3)] * 4, autoreset_mode=AutoresetMode.NEXT_STEP)
    sizes = []
    real = Agent.get_action_and_value

    def spy(self, obs, action=None, action_mask=None, deterministic=False):
        if action is not None:
            sizes.append(action.shape[0])
        return real(self, obs, action, action_mask, deterministic)

    monkeypatch.setattr(Agent, "get_action_and_value", spy)
    train(envs, small_config(total_timesteps=4 * 32, update_epochs=1))
    # 32 steps per env: 24 real transitions, 8 reset steps (steps 3, 7, ..., 31).
    assert sum(sizes) == 4 * 24
    envs.close()


def test_truncation_is_bootstrapped():
    # CartPole with a 10-step limit: truncations happen in both auto-reset modes and the
    # final observation's value is added to the reward without error.
    for mode in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP):
        envs = gym.vector.SyncVectorEnv(
            [lambda: gym.make("CartPole-v1", max_episode_steps=10)] * 4, autoreset_mode=mode
        )
        seen = []
        train(envs, small_config(total_timesteps=4 * 32), on_update=seen.append)
        assert seen[0]["episodic_length"] <= 10
        envs.close()


def test_checkpoint_stop_and_resume(tmp_path):
    ckpt = tmp_path / "run" / "ckpt.pt"
    config = small_config()
    fns = [lambda: gym.make("CartPole-v1")] * config.num_envs
    seen = []
    first = train(fns, config, on_update=seen.append, checkpoint_path=ckpt,
                  should_stop=lambda: len(seen) >= 2)  # fmt: skip
    assert first.stopped and first.update == 2 and first.global_step == 2 * config.batch_size
    assert ckpt.exists() and not list(ckpt.parent.glob("*.tmp"))

    state = load_checkpoint(ckpt)  # weights_only=True inside
    assert state["global_step"] == first.global_step and state["update"] == 2
    assert PPOConfig(**state["config"]) == config
    for k, v in first.agent.state_dict().items():
        assert torch.equal(state["agent"][k], v)

    resumed_updates = []
    second = train(fns, config, on_update=resumed_updates.append, checkpoint_path=ckpt, resume_from=ckpt)
    assert [m["update"] for m in resumed_updates] == [3, 4]
    assert resumed_updates[0]["global_step"] == first.global_step + config.batch_size
    assert not second.stopped and second.global_step == config.num_updates * config.batch_size
    assert load_checkpoint(ckpt)["update"] == 4
    # Annealing continued from where it stopped: update 3 of 4 uses 1/2 of the initial rate.
    assert resumed_updates[0]["learning_rate"] == pytest.approx(config.learning_rate * 0.5)


def test_checkpoint_every(tmp_path, monkeypatch):
    writes = []
    real = ppo._atomic_write
    monkeypatch.setattr(ppo, "_atomic_write", lambda path, write: (writes.append(path), real(path, write)))
    config = small_config()
    train([lambda: gym.make("CartPole-v1")] * 4, config, checkpoint_path=tmp_path / "c.pt", checkpoint_every=2)
    assert len(writes) == 2  # after updates 2 and 4 (the final one is not written twice)


def test_resume_rejects_other_batch_shape(tmp_path):
    ckpt = tmp_path / "c.pt"
    train([lambda: gym.make("CartPole-v1")] * 4, small_config(total_timesteps=4 * 32), checkpoint_path=ckpt)
    with pytest.raises(ValueError, match="num_steps"):
        train([lambda: gym.make("CartPole-v1")] * 4, small_config(num_steps=64), resume_from=ckpt)


def test_save_and_load_policy_round_trip(tmp_path):
    space = MaskedEnv().observation_space
    agent = Agent(space, N_ACTIONS)
    meta = save_policy(agent, tmp_path / "policy.pt", metadata={"task": "toy"})
    doc = json.loads(meta.read_text())
    assert doc["arch"] == "mlp" and doc["n_actions"] == N_ACTIONS and doc["metadata"] == {"task": "toy"}
    torch.load(tmp_path / "policy.pt", weights_only=True)  # plain tensors only

    loaded = load_policy(tmp_path / "policy.pt", space, N_ACTIONS)
    obs = torch.randn(16, 3)
    a, _, _, v = agent.get_action_and_value(obs, deterministic=True)
    b, _, _, w = loaded.get_action_and_value(obs, deterministic=True)
    assert torch.equal(a, b) and torch.allclose(v, w)
    with pytest.raises(ValueError, match="actions"):
        load_policy(tmp_path / "policy.pt", space, N_ACTIONS + 1)

    env = MaskedEnv()
    ev = evaluate(loaded, lambda: env, episodes=4, seeds=[0, 1, 2, 3])
    assert ev["lengths"] == [6] * 4 and env.violations == 0 and ev["success_rate"] is not None


def test_symbolic_network_forward():
    space = crafter_space()
    agent = Agent(space, 17)
    assert agent.arch == "symbolic" and "pos" not in agent.net.trunk.scalar_keys
    samples = [space.sample() for _ in range(8)]
    batch = {k: torch.as_tensor(np.stack([s[k] for s in samples])) for k in space.spaces}
    action, logprob, entropy, value = agent.get_action_and_value(batch)
    assert action.shape == (8,) and logprob.shape == (8,) and entropy.shape == (8,) and value.shape == (8, 1)
    assert Agent(space, 17, use_pos=True).net.trunk.scalar_keys[-2:] == ["pos", "sleeping"]


def test_symbolic_policy_saved_before_the_width_became_a_setting_still_loads(tmp_path):
    """A policy saved with the former 32-channel network and no `channels` in its spec loads
    as 32 channels; a new one records its width."""
    space = crafter_space()
    old = Agent(space, 17, channels=ppo.LEGACY_SYMBOLIC_CHANNELS)
    meta = save_policy(old, tmp_path / "old.pt")
    doc = json.loads(meta.read_text())
    del doc["channels"]
    meta.write_text(json.dumps(doc))
    loaded = load_policy(tmp_path / "old.pt", space, 17)
    assert loaded.channels == 32 and all(torch.equal(v, old.state_dict()[k]) for k, v in loaded.state_dict().items())
    new = Agent(space, 17)
    assert new.spec()["channels"] == ppo.SYMBOLIC_CHANNELS == 16
    assert sum(p.numel() for p in new.parameters()) < 0.6 * sum(p.numel() for p in old.parameters())


def test_cnn_network_forward():
    space = spaces.Box(0, 255, (64, 64, 3), np.uint8)
    agent = Agent(space, 17)
    assert agent.arch == "cnn"
    obs = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    action, _, _, value = agent.get_action_and_value(obs)
    assert action.shape == (2,) and value.shape == (2, 1)


def test_training_on_symbolic_dict_observations():
    config = small_config(total_timesteps=4 * 32 * 2)
    result = train([FakeCrafter] * 4, config)
    assert result.agent.arch == "symbolic" and result.global_step == 2 * config.batch_size
    env = FakeCrafter()
    obs, _ = env.reset(seed=0)
    assert obs["action_mask"][result.agent.act(obs, deterministic=False)]


def test_package_init_does_not_import_torch():
    import os
    import subprocess
    import sys
    from pathlib import Path

    import rlgpt_cli

    src = str(Path(rlgpt_cli.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    code = "import sys, rlgpt_cli.learn; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("gae_lambda", [0.0, 1.0])
def test_compute_gae_by_hand(gae_lambda):
    # 3 steps x 2 envs, gamma 0.5. Env 1's episode ends after step 1 (dones[2]) and again at the
    # last step (next_done), so neither bootstraps across those boundaries.
    buf = ppo.RolloutBuffer.allocate(spaces.Box(-1, 1, (1,)), 2, False, 3, 2, torch.device("cpu"))
    buf.rewards[:] = [[1, 0], [1, 0], [1, 1]]
    buf.dones[2, 1] = 1
    buf.values = torch.ones(3, 2)
    buf.next_value, buf.next_done = np.array([10, 10], np.float32), np.array([False, True])
    advantages, returns = ppo.compute_gae(buf, gamma=0.5, gae_lambda=gae_lambda)
    # lambda 0: one-step TD errors r + gamma * V' * (1 - done') - V.
    # lambda 1: discounted return to the episode's end (bootstrapped from V'), minus V.
    if gae_lambda == 0:
        expected = [[0.5, -0.5], [0.5, -1.0], [5.0, 0.0]]
    else:
        expected = [[2.0, -1.0], [3.0, -1.0], [5.0, 0.0]]
    np.testing.assert_allclose(advantages, expected)
    np.testing.assert_allclose(returns, advantages + 1)


def _crafter_fns(n: int):
    import functools

    from rlgpt_cli.worlds.crafter.env import CrafterWorld

    return [functools.partial(CrafterWorld, seed=100 + i) for i in range(n)]


def test_rollouts_are_the_same_whatever_the_number_of_worker_processes():
    """8 Crafter envs (two chunks), two updates: one process, and two worker processes,
    give the same weights, the same losses and the same episodes, bit for bit."""
    config = small_config(num_envs=8, num_steps=16, total_timesteps=8 * 16 * 2, num_minibatches=2, gradient_chunks=2)
    runs = []
    for workers in (1, 2):
        seen = []
        torch.manual_seed(0)  # train seeds everything itself: this must not matter
        result = train(_crafter_fns(8), config, on_update=seen.append, workers=workers)
        runs.append((result.agent.state_dict(), [{k: v for k, v in m.items() if "sps" not in k} for m in seen]))
    (state1, metrics1), (state2, metrics2) = runs
    assert metrics1 == metrics2 and len(metrics1) == 2
    assert all(torch.equal(state1[k], state2[k]) for k in state1)
    # ...and training did move the weights
    fresh = Agent(ppo.ChunkedCollector(_crafter_fns(4), config).start()[0], 17).state_dict()
    assert not all(torch.equal(fresh[k], state1[k]) for k in fresh)


def _crafter_batch(n: int = 64):
    from rlgpt_cli.worlds.crafter.env import CrafterWorld

    env = CrafterWorld(seed=5)
    env.reset(seed=5)
    observations = [env.step(int(a))[0] for a in np.random.default_rng(0).integers(0, 17, n)]
    torch.manual_seed(0)
    agent = Agent(env.observation_space, 17)
    obs = {k: torch.as_tensor(np.stack([o[k] for o in observations])) for k in observations[0]}
    with torch.no_grad():
        actions = torch.randint(0, 17, (n,))
        _, logprobs, _, values = agent.get_action_and_value(obs, actions)
    batch = ppo.Batch(obs=obs, masks=None, actions=actions, logprobs=logprobs + 0.05 * torch.randn(n),
                      values=values.view(-1), advantages=torch.randn(n), returns=torch.randn(n))
    return agent, batch


def test_the_update_gradient_is_the_minibatch_loss_gradient():
    """A minibatch's gradient, summed from its parts, is the gradient of CleanRL's loss over
    the whole minibatch (means of the clipped surrogate, clipped value loss and entropy)."""
    config = PPOConfig(num_envs=1, num_steps=64, device="cpu")
    agent, mb = _crafter_batch()
    params = list(agent.parameters())
    n = len(mb)
    parts = [ppo._chunk_loss(agent, mb[torch.arange(lo, hi)], n, config) for lo, hi in ((0, 21), (21, 64))]
    summed = [sum(g) for g in zip(*(torch.autograd.grad(loss, params) for loss, _ in parts))]

    _, newlogprob, entropy, newvalue = agent.get_action_and_value(mb.obs, mb.actions)
    ratio = (newlogprob - mb.logprobs).exp()
    pg_loss = torch.max(-mb.advantages * ratio, -mb.advantages * torch.clamp(ratio, 0.8, 1.2)).mean()
    v = newvalue.view(-1)
    v_clipped = mb.values + torch.clamp(v - mb.values, -0.2, 0.2)
    v_loss = 0.5 * torch.max((v - mb.returns) ** 2, (v_clipped - mb.returns) ** 2).mean()
    loss = pg_loss - 0.01 * entropy.mean() + 0.5 * v_loss
    reference = torch.autograd.grad(loss, params)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(summed, reference))
    assert sum(l.item() for l, _ in parts) == pytest.approx(loss.item(), rel=1e-5)
    clipfrac = float(sum(m["clipfrac"] for _, m in parts))
    assert clipfrac == pytest.approx(float(((ratio - 1).abs() > 0.2).float().mean()))


def test_the_update_on_threads_gives_the_same_weights_as_in_turn():
    """The parts computed on two threads (rollouts from worker processes) or one after the
    other (rollouts in this process): the same weights, bit for bit."""
    import concurrent.futures

    config = PPOConfig(num_envs=1, num_steps=64, num_minibatches=2, update_epochs=2, device="cpu", gradient_chunks=2)
    weights = []
    for threads in (None, concurrent.futures.ThreadPoolExecutor(2)):
        agent, batch = _crafter_batch()
        torch.manual_seed(1)
        ppo.ppo_update(agent, ppo.Adam(agent.parameters(), lr=1e-3, eps=1e-5), batch, config, threads)
        weights.append(agent.state_dict())
    fresh = _crafter_batch()[0].state_dict()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in fresh)
    assert not all(torch.equal(weights[0][k], fresh[k]) for k in fresh)


def test_a_run_stopped_after_an_update_on_worker_processes_ends_there():
    """A stop asked for in on_update (as a signal handler does) ends a run on worker processes at
    that update, with the weights of that update (those of an in-process run) and the workers'
    time counted."""
    from rlgpt_cli.workers.pool import workers_cpu

    config = small_config(num_envs=8, num_steps=16, total_timesteps=8 * 16 * 3, num_minibatches=2)
    stop, cpu_before = [], workers_cpu()
    result = train(_crafter_fns(8), config, on_update=lambda m: stop.append(True), should_stop=lambda: bool(stop),
                   workers=2)
    assert result.stopped and result.update == 1 and result.global_step == 8 * 16
    reference = train(_crafter_fns(8), small_config(num_envs=8, num_steps=16, total_timesteps=8 * 16,
                                                     num_minibatches=2))
    assert all(torch.equal(result.agent.state_dict()[k], v) for k, v in reference.agent.state_dict().items())
    assert workers_cpu() > cpu_before  # the workers were stopped and their time counted


def test_evaluation_episodes_on_worker_processes_are_those_of_one_process():
    """Sampled evaluation episodes shared out over 2 rollout workers: the same returns and
    lengths as `evaluate` in this process, whatever torch's global RNG holds (each seeded
    episode samples from its own stream)."""
    import functools

    from rlgpt_cli.worlds.crafter.env import CrafterWorld

    config = small_config(num_envs=8, num_steps=16)
    collector = ppo.ChunkedCollector(_crafter_fns(8), config, workers=2)
    try:
        obs_space, _ = collector.start()
        torch.manual_seed(0)
        agent = Agent(obs_space, 17)
        env_fn = functools.partial(CrafterWorld, seed=7, length=60)
        seeds = [11, 12, 13]
        torch.manual_seed(123)
        spread = collector.evaluate(agent, env_fn, seeds)
    finally:
        collector.close()
    torch.manual_seed(456)
    here = evaluate(agent, env_fn, episodes=3, seeds=seeds, deterministic=False)
    assert spread == here and spread["env_steps"] == sum(here["lengths"]) > 0


def test_a_worker_process_failure_reaches_the_learner():
    """An env that raises inside a worker process: the learner gets the env's own exception."""
    config = small_config(num_envs=8, num_steps=16, total_timesteps=8 * 16)
    fns = _crafter_fns(7) + [ppo.SyncEnvs]  # SyncEnvs() without factories raises TypeError
    with pytest.raises(TypeError):
        train(fns, config, workers=2)


def test_rollout_worker_returns_whole_rollouts():
    config = small_config(num_envs=4, num_steps=8)
    worker = ppo.RolloutWorker(_crafter_fns(4), [0, 1, 2, 3], config)
    try:
        obs_space, action_space = worker.spaces()
        agent = Agent(obs_space, int(action_space.n))
        worker.reset(5, agent.spec())
        state = {k: v.numpy() for k, v in agent.state_dict().items()}
        out = worker.collect(state, 8)
        a = out["arrays"]
        assert a["actions"].shape == (8, 4) and a["obs"]["view"].shape == (8, 4, 2, 9, 7)
        assert a["masks"] is None and a["next_value"].shape == (4,)
        assert out["env_steps"] == 4 * 8
        with pytest.raises(ValueError, match="hold 8 steps"):
            worker.collect(state, 16)
    finally:
        worker.close()
