"""Proximal Policy Optimisation for discrete actions, in one readable file.

This follows the design of CleanRL's `ppo.py` (Huang et al., "The 37 Implementation Details of
PPO", 2022) and its default hyperparameters, but it is this project's own code: CleanRL is a set
of scripts that is "not meant to be imported", so we write a learner that a CLI can call,
checkpoint, stop and resume. The 13 core details, which comments below cite by number:

 1. vectorised environments (one policy forward for all sub-environments)
 2. orthogonal weight init, gain sqrt(2) for hidden layers, 0.01 for the policy head, 1 for the
    value head, zero biases
 3. Adam with eps=1e-5
 4. learning-rate annealing, linear to 0 over the run
 5. generalised advantage estimation (GAE)
 6. several epochs of shuffled minibatches over each rollout
 7. advantage normalisation per minibatch
 8. clipped surrogate objective
 9. clipped value loss
10. entropy bonus
11. global gradient-norm clipping
12. debug metrics: approx_kl, clipfrac, explained_variance, SPS, under CleanRL's TensorBoard tags
13. shared or separate actor/critic networks (separate MLPs for vector observations, a shared
    trunk for images and for Crafter's symbolic view, as CleanRL does for Atari)

Two things go beyond CleanRL's file, because gymnasium >= 1.0 and RL-GPT need them:

* **Auto-reset.** gymnasium >= 1.0 vector envs default to NEXT_STEP auto-reset: the step after
  a terminal step is a reset step whose action is ignored and whose reward is 0. When `train`
  builds the vector env itself it uses SAME_STEP (the finished episode's last observation is in
  `info["final_obs"]`, the returned observation already starts the next episode), so every
  step is a real transition, as in CleanRL and SB3. A vector env passed in by the caller may
  use either mode: under NEXT_STEP the reset steps are marked invalid and left out of the
  loss, the advantage normalisation and the episode statistics (they still count as env steps
  in `global_step`, because the environment did step). Truncated (time-limit) episodes are
  bootstrapped like SB3 does: gamma * V(final observation) is added to the last reward, so
  the value target does not pretend a time limit is death.
* **Action masking.** If observations are a Dict with an `action_mask` key (bool/uint8, one
  entry per action), masked actions get a logit of -1e8 both when sampling and in the loss, so
  they are never taken and carry no gradient. RL-GPT inserts coded macro-actions into the
  action space and masks those whose preconditions fail.

Speed comes from doing the same maths with fewer, larger operations (benchmarks/ppo_vs_sb3.py
measures it): the actor and critic MLPs run as one batched matmul per layer (`SeparateMLPs`),
the categorical distribution is written out, sampling noise is drawn once per rollout, GAE runs
in numpy, Adam is fused (and kept clear of torch._dynamo's import, `learn.adam`),
sub-environments are stepped by a lean vector env (`SyncEnvs`), and torch uses one thread by
default (small networks lose more to thread synchronisation than they gain). With rollout
worker processes (`ChunkedCollector`) every core works: the workers collect and play the
validation and evaluation episodes, and while they wait for new weights the update computes
each minibatch's gradient in parts on their cores (`PPOConfig.gradient_chunks`) -- a run is
the same, bit for bit, whatever the number of workers.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import io
import json
import math
import os
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space, create_empty_array

from rlgpt_cli.atomic import atomic_write
from rlgpt_cli.learn.actors import LocalActors, PoolActors
from rlgpt_cli.learn.adam import Adam

CHECKPOINT_FORMAT = "rlgpt-ppo-checkpoint"
POLICY_FORMAT = "rlgpt-ppo-policy"
FORMAT_VERSION = 1
MASK_KEY = "action_mask"
# Masked logits: large and finite, so log-softmax, entropy and gradients stay free of NaN/inf
# (exp(-1e8) is exactly 0 in float32, so such an action is never sampled).
MASKED_LOGIT = -1e8


@dataclass
class PPOConfig:
    """Hyperparameters; the defaults are CleanRL's `ppo.py` defaults."""

    total_timesteps: int = 500_000
    """environment steps over all sub-environments for the whole run"""
    learning_rate: float = 2.5e-4
    """Adam learning rate at the start (annealed linearly to 0 if `anneal_lr`)"""
    num_envs: int = 4
    """parallel sub-environments in the vector env"""
    num_steps: int = 128
    """steps per sub-environment in each rollout (a rollout is num_envs * num_steps steps)"""
    anneal_lr: bool = True
    """anneal the learning rate linearly to 0 over the run"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """lambda for generalised advantage estimation"""
    num_minibatches: int = 4
    """minibatches each rollout is split into"""
    update_epochs: int = 4
    """passes over each rollout"""
    norm_adv: bool = True
    """normalise advantages within each minibatch"""
    clip_coef: float = 0.2
    """surrogate clipping coefficient (also used for the value clipping)"""
    clip_vloss: bool = True
    """use the clipped value loss"""
    ent_coef: float = 0.01
    """entropy bonus coefficient"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
    target_kl: float | None = None
    """stop the epochs of an update early once approx_kl exceeds this (None: never)"""
    seed: int = 1
    """seed for python, numpy, torch and the environments"""
    device: str = "auto"
    """"cpu", "cuda" or "auto" (cuda when available)"""
    torch_deterministic: bool = True
    """set torch.backends.cudnn.deterministic"""
    torch_threads: int | None = 1
    """torch intra-op threads (None leaves torch's default); small policies run fastest on one
    thread, because splitting a 64-wide matmul costs more in synchronisation than it saves"""
    gradient_chunks: int = 1
    """parts each minibatch's gradient is computed in, summed in order: on that many threads
    when rollouts come from worker processes (their cores wait for the new weights meanwhile),
    one after another otherwise -- the same numbers either way (`rlgpt learn` uses 2)"""

    @property
    def batch_size(self) -> int:
        """steps collected per update"""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """updates in the whole run (CleanRL's num_iterations)"""
        return self.total_timesteps // self.batch_size


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Module:
    """Orthogonal weights, constant bias (implementation detail 2)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


def split_observation_space(space: gym.Space) -> tuple[gym.Space, str | None, bool]:
    """What the network sees of an observation space.

    Returns (network space, key, has_mask). `key` is set when the observation is a Dict whose
    only entry besides `action_mask` is the real observation (e.g. {"obs": Box, "action_mask":
    MultiBinary}); the network then sees `obs[key]`. Otherwise it sees the Dict minus the mask.
    """
    if isinstance(space, spaces.Dict) and MASK_KEY in space.spaces:
        rest = {k: s for k, s in space.spaces.items() if k != MASK_KEY}
        if len(rest) == 1:
            key, only = next(iter(rest.items()))
            return only, key, True
        return spaces.Dict(rest), None, True
    return space, None, False


def policy_arch(space: gym.Space) -> str:
    """Pick the network for a (mask-free) observation space."""
    if isinstance(space, spaces.Dict) and "view" in space.spaces:
        return "symbolic"
    if isinstance(space, spaces.Box) and len(space.shape) == 3:
        return "cnn"
    if isinstance(space, spaces.Box):
        return "mlp"
    raise ValueError(
        f"no PPO network for observation space {space}: expected a Box (vector or image) "
        "or Crafter's symbolic Dict (with a 'view' key)"
    )


SYMBOLIC_CHANNELS = 16
"""Convolution channels of a new symbolic network. 16 learn Crafter as well as 32 at equal env
steps (benchmarks/ppo_crafter_vs_sb3.py --compare-channels) for 40% less update time; policies
saved with 32 (before this default) keep loading, their spec says so."""
LEGACY_SYMBOLIC_CHANNELS = 32


class SymbolicEncoder(nn.Module):
    """Crafter's symbolic observation (docs/CONTRACTS.md) -> a 256-wide feature vector.

    `view` holds material and object *ids*, so each channel gets an embedding rather than being
    read as a number (id 6 tree is not "twice" id 3 stone); two 3x3 convolutions (`channels`
    wide: the view is small, and the convolutions' backward pass is most of an update's time on
    a CPU) then see the local 9x7 neighbourhood. The remaining Box entries (inventory,
    daylight, facing, sleeping) are scaled to about [-1, 1] by their space bounds and
    concatenated. `pos` is odometry (absolute position): left out unless `use_pos`, since it
    invites memorising one map.
    """

    def __init__(self, space: spaces.Dict, use_pos: bool = False, embed_dim: int = 8,
                 channels: int = SYMBOLIC_CHANNELS):
        super().__init__()
        view = space["view"]
        n_ids = int(np.max(view.high)) + 1
        self.embeds = nn.ModuleList(nn.Embedding(n_ids, embed_dim) for _ in range(view.shape[0]))
        # Channel c's ids index rows c * n_ids.. of the embeddings stacked into one table, so one
        # lookup embeds every channel (not saved: the state_dict keeps one table per channel).
        offsets = torch.arange(view.shape[0]) * n_ids
        self.register_buffer("id_offsets", offsets, persistent=False)
        width = channels
        channels = view.shape[0]
        self.conv = nn.Sequential(
            layer_init(nn.Conv2d(channels * embed_dim, width, 3, padding=1)),
            nn.ReLU(),
            layer_init(nn.Conv2d(width, width, 3, padding=1)),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.scalar_keys = [k for k in space.spaces if k != "view" and (use_pos or k != "pos")]
        scales = []
        for key in self.scalar_keys:
            sub = space[key]
            bound = np.maximum(np.abs(sub.low), np.abs(sub.high)).astype(np.float32).reshape(-1)
            scales.append(np.where(np.isfinite(bound) & (bound > 1), bound, 1.0))
        scale = np.concatenate(scales) if scales else np.zeros(0, np.float32)
        # A buffer, so it moves with .to(device) and is saved in the state_dict.
        self.register_buffer("scalar_scale", torch.as_tensor(scale, dtype=torch.float32))
        n_scalar = scale.shape[0]
        self.head = nn.Sequential(
            layer_init(nn.Linear(width * view.shape[1] * view.shape[2] + n_scalar, 256)),
            nn.ReLU(),
        )
        self.out_dim = 256

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        view = obs["view"]  # (B, C, W, H) ids
        batch, _, width, height = view.shape
        # Each channel's embedding, (B, W, H, C*E) with channel c at c*E.., as (B, C*E, W, H) for
        # the convs: one lookup in the stacked table, the same numbers as one per channel. An
        # index_select rather than F.embedding: its backward (index_add) is 3x faster on a CPU
        # than embedding's, a tenth of the update for this network.
        table = torch.cat([e.weight for e in self.embeds])
        ids = view.permute(0, 2, 3, 1).long() + self.id_offsets
        emb = table.index_select(0, ids.reshape(-1)).reshape(batch, width, height, -1)
        x = self.conv(emb.permute(0, 3, 1, 2))
        if self.scalar_keys:
            s = torch.cat([obs[k].reshape(batch, -1).float() for k in self.scalar_keys], dim=1)
            x = torch.cat([x, s / self.scalar_scale], dim=1)
        return self.head(x)


class NatureCNN(nn.Module):
    """The DQN/Atari CNN used by CleanRL's `ppo_atari.py`, for image observations (e.g. 64x64x3).

    Accepts channel-last (H, W, C) or channel-first (C, H, W); uint8 pixels are scaled to [0, 1].
    """

    def __init__(self, space: spaces.Box):
        super().__init__()
        self.channels_last = space.shape[-1] in (1, 3, 4) and space.shape[0] not in (1, 3, 4)
        c = space.shape[-1] if self.channels_last else space.shape[0]
        self.scale = 255.0 if space.dtype == np.uint8 else 1.0
        self.conv = nn.Sequential(
            layer_init(nn.Conv2d(c, 32, 8, stride=4)),
            nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)),
            nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            probe = torch.zeros((1, *space.shape))
            n_flat = self.conv(self._chw(probe)).shape[1]
        self.head = nn.Sequential(layer_init(nn.Linear(n_flat, 512)), nn.ReLU())
        self.out_dim = 512

    def _chw(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2) if self.channels_last else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(self._chw(x.float() / self.scale)))


def gumbel_noise(
    shape: tuple[int, ...], device: torch.device, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Gumbel(0, 1) noise: argmax(log p + noise) is a draw from the categorical p.

    Cheaper than torch.multinomial for small batches, and drawable for a whole rollout at
    once. -log E with E ~ Exp(1); E is kept above 0 (the sampler can return exactly 0), so the
    noise is at most 88 and a masked action (log p ~ -1e8) can never win.
    """
    exp = torch.empty(shape, device=device).exponential_(generator=generator)
    exp.clamp_(min=torch.finfo(torch.float32).tiny)
    return -exp.log()


class SeparateMLPs(nn.Module):
    """CleanRL's actor and critic for vector observations: two separate 64-64 tanh MLPs.

    They share no parameters, exactly like two nn.Sequential stacks, but each hidden layer of
    both networks is stored stacked (index 0 actor, 1 critic) and run as one batched matmul
    (torch.baddbmm). For a network this small the cost is per kernel and per Python call, not
    per FLOP, so evaluating the pair together roughly halves the forward and backward time.
    """

    def __init__(self, n_in: int, n_actions: int, hidden: int = 64):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(2, n_in, hidden))
        self.b1 = nn.Parameter(torch.zeros(2, 1, hidden))
        self.w2 = nn.Parameter(torch.empty(2, hidden, hidden))
        self.b2 = nn.Parameter(torch.zeros(2, 1, hidden))
        with torch.no_grad():
            for w in (self.w1, self.w2):
                for i in range(2):
                    # The same orthogonal init (gain sqrt 2) nn.Linear(n_in, hidden) gets in
                    # layer_init; stored transposed, as (in, out), for the matmul.
                    w[i].copy_(nn.init.orthogonal_(torch.empty(w.shape[2], w.shape[1]), math.sqrt(2)).T)
        self.actor = layer_init(nn.Linear(hidden, n_actions), std=0.01)
        self.critic = layer_init(nn.Linear(hidden, 1), std=1.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(torch.baddbmm(self.b1, x.expand(2, *x.shape), self.w1))
        h = torch.tanh(torch.baddbmm(self.b2, h, self.w2))
        return self.actor(h[0]), self.critic(h[1])


class SharedTrunk(nn.Module):
    """An encoder shared by a linear policy head and a linear value head (CleanRL's Atari PPO)."""

    def __init__(self, trunk: nn.Module, n_actions: int):
        super().__init__()
        self.trunk = trunk
        self.actor = layer_init(nn.Linear(trunk.out_dim, n_actions), std=0.01)
        self.critic = layer_init(nn.Linear(trunk.out_dim, 1), std=1.0)

    def forward(self, obs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.trunk(obs)
        return self.actor(hidden), self.critic(hidden)


class Agent(nn.Module):
    """Actor-critic for a Discrete action space.

    The network is chosen from the observation space (see `policy_arch`): CleanRL's two
    separate 64-64 tanh MLPs for vector observations (`SeparateMLPs`); a `SharedTrunk` over
    `SymbolicEncoder` (Crafter's symbolic Dict) or `NatureCNN` (images) otherwise.
    """

    def __init__(self, obs_space: gym.Space, n_actions: int, use_pos: bool = False,
                 channels: int = SYMBOLIC_CHANNELS):
        super().__init__()
        net_space, self.obs_key, self.has_mask = split_observation_space(obs_space)
        self.arch = policy_arch(net_space)
        self.n_actions = int(n_actions)
        self.use_pos = use_pos
        self.channels = channels
        if self.arch == "mlp":
            self.net = SeparateMLPs(int(np.prod(net_space.shape)), self.n_actions)
        elif self.arch == "symbolic":
            self.net = SharedTrunk(SymbolicEncoder(net_space, use_pos=use_pos, channels=channels), self.n_actions)
        else:
            self.net = SharedTrunk(NatureCNN(net_space), self.n_actions)

    @classmethod
    def from_spec(cls, obs_space: gym.Space, spec: dict[str, Any]) -> Agent:
        """The network `spec()` described (a spec without `channels` is from before it: 32)."""
        return cls(obs_space, spec["n_actions"], use_pos=spec.get("use_pos", False),
                   channels=spec.get("channels", LEGACY_SYMBOLIC_CHANNELS))

    def spec(self) -> dict[str, Any]:
        """JSON-able description that, with the observation space, rebuilds this network."""
        spec = {"arch": self.arch, "n_actions": self.n_actions, "use_pos": self.use_pos}
        if self.arch == "symbolic":
            spec["channels"] = self.channels
        return spec

    def _input(self, obs: Any) -> Any:
        # MLP inputs may be any shape and numeric dtype; flatten once here for both heads.
        return obs.reshape(obs.shape[0], -1).float() if self.arch == "mlp" else obs

    def get_value(self, obs: Any) -> torch.Tensor:
        return self.net(self._input(obs))[1]

    def log_probs_and_value(
        self, obs: Any, action_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of every action (masked ones ~ -1e8) and the value, (B, A), (B, 1).

        The categorical distribution is written out rather than built with
        torch.distributions.Categorical, which validates and broadcasts on every call and so
        costs more than the whole network for small policies.
        """
        logits, value = self.net(self._input(obs))
        if action_mask is not None:
            logits = logits.masked_fill(~action_mask, MASKED_LOGIT)
        return torch.log_softmax(logits, dim=-1), value

    def get_action_and_value(
        self,
        obs: Any,
        action: torch.Tensor | None = None,
        action_mask: torch.Tensor | None = None,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (from `generator`, default torch's global one) or score the given actions.
        Returns action, log-prob, entropy, value."""
        logp, value = self.log_probs_and_value(obs, action_mask)
        if action is None:
            if deterministic:
                action = logp.argmax(dim=-1)
            else:
                action = (logp + gumbel_noise(logp.shape, logp.device, generator)).argmax(dim=-1)
        logprob = logp.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        entropy = -(logp.exp() * logp).sum(-1)
        return action, logprob, entropy, value

    @torch.inference_mode()
    def act(self, obs: Any, deterministic: bool = True, generator: torch.Generator | None = None) -> int:
        """One action for one (unbatched) gymnasium observation, honouring its action mask;
        sampled from `generator` (default torch's global one) unless `deterministic`."""
        device = next(self.parameters()).device
        net_obs, mask = _split_obs(obs, self.obs_key, self.has_mask)
        batch = _tree_map(lambda t: t[None], _as_tensor(net_obs, device))
        mask_t = None
        if mask is not None:
            mask_t = torch.as_tensor(np.asarray(mask), device=device).bool()[None]
        action, _, _, _ = self.get_action_and_value(
            batch, action_mask=mask_t, deterministic=deterministic, generator=generator
        )
        return int(action.item())


# --------------------------------------------------------------------------------------------
# Observation plumbing: observations are an array or a flat dict of arrays
# --------------------------------------------------------------------------------------------


def _tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: fn(v) for k, v in tree.items()}
    return fn(tree)


def _split_obs(obs: Any, key: str | None, has_mask: bool) -> tuple[Any, Any]:
    """Separate a (batched or single) observation into (network input, action mask or None)."""
    if not has_mask:
        return obs, None
    if key is not None:
        return obs[key], obs[MASK_KEY]
    return {k: v for k, v in obs.items() if k != MASK_KEY}, obs[MASK_KEY]


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def _alloc(space: gym.Space, lead: tuple[int, ...], device: torch.device) -> Any:
    if isinstance(space, spaces.Dict):
        return {k: _alloc(s, lead, device) for k, s in space.spaces.items()}
    return torch.zeros(lead + space.shape, dtype=_torch_dtype(space.dtype), device=device)


def _copy_into(dst: Any, src: Any) -> None:
    """Copy numpy observations into preallocated tensors (no new tensor per step)."""
    if isinstance(dst, dict):
        for k, d in dst.items():
            d.copy_(torch.from_numpy(np.asarray(src[k])), non_blocking=True)
    else:
        dst.copy_(torch.from_numpy(np.asarray(src)), non_blocking=True)


def _index(tree: Any, idx: Any) -> Any:
    return _tree_map(lambda t: t[idx], tree)


def _as_tensor(obs: Any, device: torch.device) -> Any:
    return _tree_map(lambda a: torch.as_tensor(np.asarray(a), device=device), obs)


def _stack_obs(items: list[Any], device: torch.device) -> Any:
    if isinstance(items[0], dict):
        return {k: torch.as_tensor(np.stack([o[k] for o in items]), device=device) for k in items[0]}
    return torch.as_tensor(np.stack(items), device=device)


# --------------------------------------------------------------------------------------------
# Checkpoints and saved policies (everything loads with torch.load(weights_only=True))
# --------------------------------------------------------------------------------------------


def _atomic_write(path: Path, write: Callable[[io.BytesIO], None]) -> None:
    """``write`` into memory, then write the bytes atomically: readers never see half."""
    buffer = io.BytesIO()
    write(buffer)
    atomic_write(path, buffer.getvalue())


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_rest": [int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    pos, has_gauss, cached = state["numpy_rest"]
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training checkpoint (tensors and primitives only; weights_only=True).

    Keys: format, version, config (PPOConfig fields), agent_spec, agent (state_dict), optimizer
    (state_dict), global_step, update (last finished update), rng, recent_returns,
    recent_lengths. `PPOConfig(**ckpt["config"])` rebuilds the config.
    """
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an rlgpt PPO checkpoint")
    return ckpt


def _save_checkpoint(
    path: Path,
    config: PPOConfig,
    agent: Agent,
    optimizer: Adam,
    global_step: int,
    update: int,
    recent_returns: Sequence[float],
    recent_lengths: Sequence[int],
) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": FORMAT_VERSION,
        "config": dataclasses.asdict(config),
        "agent_spec": agent.spec(),
        "agent": agent.state_dict(),
        "optimizer": optimizer.state_dict(),
        "global_step": global_step,
        "update": update,
        "rng": _rng_state(),
        "recent_returns": [float(r) for r in recent_returns],
        "recent_lengths": [int(n) for n in recent_lengths],
    }
    _atomic_write(path, lambda f: torch.save(state, f))


def _restore_checkpoint(
    path: str | os.PathLike,
    config: PPOConfig,
    agent: Agent,
    optimizer: Adam,
    device: torch.device,
) -> dict[str, Any]:
    """Load a checkpoint's weights, optimizer and RNG state into a run; returns the checkpoint.

    The batch shape and the network must match: the optimizer state and the step counters only
    make sense for the same ones.
    """
    ckpt = load_checkpoint(path, map_location=device)
    for field in ("num_envs", "num_steps"):
        if ckpt["config"][field] != getattr(config, field):
            raise ValueError(
                f"checkpoint has {field}={ckpt['config'][field]}, config {getattr(config, field)}"
            )
    saved = dict(ckpt["agent_spec"])
    if saved["arch"] == "symbolic":
        saved.setdefault("channels", LEGACY_SYMBOLIC_CHANNELS)
    if saved != agent.spec():
        raise ValueError(f"checkpoint network {saved} differs from {agent.spec()}")
    agent.load_state_dict(ckpt["agent"])
    optimizer.load_state_dict(ckpt["optimizer"])
    _set_rng_state(ckpt["rng"])
    return ckpt


def save_policy(agent: Agent, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Save a trained policy for the skill library: `path` (state_dict) + `path`.json (spec).

    The JSON sidecar holds the network spec and any JSON-able `metadata` (task, steps, ...).
    Both files are written atomically. Returns the JSON path.
    """
    path = Path(path)
    meta_path = path.with_suffix(".json")
    state = {k: v.detach().cpu() for k, v in agent.state_dict().items()}
    _atomic_write(path, lambda f: torch.save(state, f))
    doc = {"format": POLICY_FORMAT, "version": FORMAT_VERSION, **agent.spec(), "metadata": metadata or {}}
    _atomic_write(meta_path, lambda f: f.write((json.dumps(doc, indent=2) + "\n").encode()))
    return meta_path


def load_policy(
    path: str | os.PathLike, obs_space: gym.Space, n_actions: int, device: str = "cpu"
) -> Agent:
    """Rebuild a policy saved by `save_policy` for `obs_space` and `n_actions` (eval mode)."""
    path = Path(path)
    doc = json.loads(path.with_suffix(".json").read_text())
    if doc.get("format") != POLICY_FORMAT:
        raise ValueError(f"{path.with_suffix('.json')} is not an rlgpt PPO policy")
    if doc["n_actions"] != n_actions:
        raise ValueError(f"policy has {doc['n_actions']} actions, the environment {n_actions}")
    agent = Agent.from_spec(obs_space, doc)
    if agent.arch != doc["arch"]:
        raise ValueError(f"policy is a {doc['arch']} network, this observation space needs {agent.arch}")
    agent.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return agent.to(device).eval()


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    agent: Agent
    global_step: int
    update: int
    """index of the last finished update (1-based; 0 if none ran)"""
    stopped: bool
    """True when `should_stop` ended the run early"""
    checkpoint_path: str | None
    recent_returns: list[float]
    """returns of the last (up to) 100 finished episodes"""
    sps: int


class SyncEnvs(gym.vector.VectorEnv):
    """A lean vector env with SAME_STEP auto-reset: the sub-envs step in turn, in this process.

    gymnasium's SyncVectorEnv does this job for any use (three auto-reset modes, a deepcopy of
    the batch, every info key merged on every step); in a PPO rollout that bookkeeping costs
    more than a small environment's own step. This one writes observations into one reused
    batch (train copies them into its buffer before the next step) and merges only what
    training reads from `info`: the finished episodes' `final_obs` and `final_info["success"]`.
    Other info keys are dropped; a caller who needs them passes its own vector env to `train`.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]]):
        self.envs = [fn() for fn in env_fns]
        self.num_envs = len(self.envs)
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._obs = create_empty_array(self.single_observation_space, self.num_envs)

    def _write(self, i: int, obs: Any) -> None:
        if isinstance(self._obs, dict):
            for k, batch in self._obs.items():
                batch[i] = obs[k]
        else:
            self._obs[i] = obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=None if seed is None else seed + i, options=options)
            self._write(i, obs)
        return self._obs, {}

    def step(self, actions: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict]:
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float64)
        terms, truncs = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        infos: dict[str, Any] = {}
        for i, (env, action) in enumerate(zip(self.envs, actions.tolist())):
            obs, rewards[i], terms[i], truncs[i], info = env.step(action)
            if terms[i] or truncs[i]:
                infos.setdefault("final_obs", np.full(n, None, dtype=object))[i] = obs
                if "success" in info:
                    empty = {"success": np.zeros(n, bool), "_success": np.zeros(n, bool)}
                    final = infos.setdefault("final_info", empty)
                    final["success"][i], final["_success"][i] = bool(info["success"]), True
                obs, _ = env.reset()
            self._write(i, obs)
        return self._obs, rewards, terms, truncs, infos

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()


def _episode_success(infos: dict[str, Any], i: int, same_step: bool) -> bool | None:
    """`success` from the finished episode's last info, None if the env does not report it."""
    info = infos.get("final_info", {}) if same_step else infos
    if "_success" in info and info["_success"][i]:
        return bool(info["success"][i])
    return None


class Episode(NamedTuple):
    """A finished episode, by the rollout's own accounting."""

    ret: float
    length: int
    success: bool | None
    """the env's final `info["success"]`; None when it does not report one"""


@dataclass
class RolloutBuffer:
    """One rollout, every entry indexed [step, env] (num_steps x num_envs).

    Allocated once and refilled by every rollout. Observations keep their own dtype (uint8 ids
    stay uint8); rewards, dones and valid live in numpy because they come from the env as
    numpy. What the policy produces (actions, log-probs, values) is a fresh tensor each step:
    `RolloutCollector` stacks those once per rollout into the fields after `valid`.
    """

    obs: Any
    """network input, a tensor or a dict of tensors"""
    masks: torch.Tensor | None
    """bool action masks, (num_steps, num_envs, n_actions); None when there is no mask"""
    rewards: np.ndarray
    """float32; a truncated step's reward includes gamma * V(final observation)"""
    dones: np.ndarray
    """float32, 1 where the step's observation follows the end of an episode (CleanRL's dones)"""
    valid: np.ndarray
    """bool, False for NEXT_STEP reset steps, which are not transitions"""
    actions: torch.Tensor = dataclasses.field(init=False)
    logprobs: torch.Tensor = dataclasses.field(init=False)
    """log-probability of each action under the policy that took it"""
    values: torch.Tensor = dataclasses.field(init=False)
    next_value: np.ndarray = dataclasses.field(init=False)
    """V of the observation after the last step, to bootstrap GAE"""
    next_done: np.ndarray = dataclasses.field(init=False)
    """whether the last step ended each sub-env's episode"""

    def __post_init__(self) -> None:
        # Per-step views, built once rather than indexed out on every step.
        self.obs_at = [_index(self.obs, t) for t in range(self.rewards.shape[0])]

    @classmethod
    def allocate(
        cls,
        net_space: gym.Space,
        n_actions: int,
        has_mask: bool,
        num_steps: int,
        num_envs: int,
        device: torch.device,
    ) -> RolloutBuffer:
        masks = None
        if has_mask:
            masks = torch.ones((num_steps, num_envs, n_actions), dtype=torch.bool, device=device)
        return cls(
            obs=_alloc(net_space, (num_steps, num_envs), device),
            masks=masks,
            rewards=np.zeros((num_steps, num_envs), dtype=np.float32),
            dones=np.zeros((num_steps, num_envs), dtype=np.float32),
            valid=np.ones((num_steps, num_envs), dtype=bool),
        )

    def flatten(self, advantages: np.ndarray, returns: np.ndarray) -> Batch:
        """The rollout as one batch of real transitions (all of them under SAME_STEP)."""
        device = self.actions.device
        keep = torch.from_numpy(np.flatnonzero(self.valid.reshape(-1))).to(device)
        return Batch(
            obs=_tree_map(lambda t: t.reshape((-1,) + t.shape[2:])[keep], self.obs),
            masks=None if self.masks is None else self.masks.reshape(-1, self.masks.shape[-1])[keep],
            actions=self.actions.reshape(-1)[keep],
            logprobs=self.logprobs.reshape(-1)[keep],
            values=self.values.reshape(-1)[keep],
            advantages=torch.from_numpy(advantages.reshape(-1)).to(device)[keep],
            returns=torch.from_numpy(returns.reshape(-1)).to(device)[keep],
        )


@dataclass
class Batch:
    """Transitions along one axis, as the PPO update consumes them."""

    obs: Any
    masks: torch.Tensor | None
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    def __len__(self) -> int:
        return self.actions.shape[0]

    def __getitem__(self, idx: torch.Tensor) -> Batch:
        return Batch(
            obs=_index(self.obs, idx),
            masks=None if self.masks is None else self.masks[idx],
            actions=self.actions[idx],
            logprobs=self.logprobs[idx],
            values=self.values[idx],
            advantages=self.advantages[idx],
            returns=self.returns[idx],
        )


def noise_seed(seed: int, env_id: int) -> int:
    """The seed of sub-env `env_id`'s own stream of sampling noise (independent streams)."""
    return int(np.random.SeedSequence([seed, env_id]).generate_state(1, np.uint64)[0] >> 1)


class RolloutCollector:
    """Steps the vector env (detail 1) with the current policy to fill a `RolloutBuffer`.

    Between rollouts it keeps what the next one starts from, as SB3's OnPolicyAlgorithm does:
    the last observation, which sub-envs have just finished an episode, and each sub-env's
    running episode return and length. Each sub-env draws its action-sampling noise from its
    own generator, seeded by the run's seed and the sub-env's index in the whole run
    (`env_ids`), so a sub-env's actions do not depend on which others share its batch.
    """

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        agent: Agent | None,
        config: PPOConfig,
        device: torch.device,
        *,
        same_step: bool,
        env_ids: Sequence[int] | None = None,
    ) -> None:
        self.envs, self.agent, self.device = envs, agent, device
        self.gamma = config.gamma
        self.same_step = same_step
        self.n_actions = int(envs.single_action_space.n)
        self.env_ids = list(range(envs.num_envs) if env_ids is None else env_ids)
        net_space, self.obs_key, self.has_mask = split_observation_space(envs.single_observation_space)
        self.buffer = RolloutBuffer.allocate(
            net_space, self.n_actions, self.has_mask, config.num_steps, envs.num_envs, device
        )
        self.generators: list[torch.Generator] = []

    def reset(self, seed: int) -> None:
        """Reset every sub-env (sub-env i of the run with seed + i) and its noise stream."""
        n = self.envs.num_envs
        self.next_obs, _ = self.envs.reset(seed=seed + self.env_ids[0])
        self.generators = [torch.Generator(device=self.device).manual_seed(noise_seed(seed, i)) for i in self.env_ids]
        self.next_done = np.zeros(n, dtype=bool)
        self.ep_return = np.zeros(n, dtype=np.float64)
        self.ep_length = np.zeros(n, dtype=np.int64)

    def _net_obs(self, obs: Any) -> Any:
        return _split_obs(obs, self.obs_key, self.has_mask)[0]

    def collect(self) -> list[Episode]:
        """Refill the buffer with num_steps steps of every sub-env; returns the episodes that ended."""
        buf, agent, same_step = self.buffer, self.agent, self.same_step
        num_steps, num_envs = buf.rewards.shape
        finished: list[Episode] = []
        with torch.inference_mode():
            # The sampling noise for the whole rollout in one draw per sub-env: per step,
            # sampling is then one add and one argmax.
            gumbel = torch.stack(
                [gumbel_noise((num_steps, self.n_actions), self.device, g) for g in self.generators], dim=1
            )
            step_actions, step_logps, step_values = [], [], []
            for step in range(num_steps):
                net_obs, mask = _split_obs(self.next_obs, self.obs_key, self.has_mask)
                _copy_into(buf.obs_at[step], net_obs)
                step_mask = None if buf.masks is None else buf.masks[step]
                if step_mask is not None:
                    _copy_into(step_mask, mask)
                buf.dones[step] = self.next_done
                # Under NEXT_STEP the step after a done is the env resetting: not a transition.
                if not same_step:
                    buf.valid[step] = ~self.next_done

                logp, value = agent.log_probs_and_value(buf.obs_at[step], step_mask)
                action = (logp + gumbel[step]).argmax(dim=-1)
                step_actions.append(action)
                step_logps.append(logp)
                step_values.append(value)

                self.next_obs, reward, term, trunc, infos = self.envs.step(action.cpu().numpy())
                buf.rewards[step] = reward
                self.next_done = term | trunc

                # Time-limit truncation is not death: bootstrap from the final observation.
                trunc_only = trunc & ~term
                if trunc_only.any():
                    idx = np.flatnonzero(trunc_only)
                    if same_step:
                        finals = [self._net_obs(infos["final_obs"][i]) for i in idx]
                    else:
                        finals = [_index(self._net_obs(self.next_obs), i) for i in idx]
                    v_final = agent.get_value(_stack_obs(finals, self.device)).flatten().cpu().numpy()
                    buf.rewards[step, idx] += self.gamma * v_final

                # Episode statistics by our own accounting (works in both auto-reset modes;
                # a NEXT_STEP reset step is not part of any episode).
                self.ep_return += reward * buf.valid[step]
                self.ep_length += buf.valid[step]
                for i in np.flatnonzero(self.next_done):
                    success = _episode_success(infos, i, same_step)
                    finished.append(Episode(float(self.ep_return[i]), int(self.ep_length[i]), success))
                    self.ep_return[i], self.ep_length[i] = 0.0, 0

            next_value = agent.get_value(_as_tensor(self._net_obs(self.next_obs), self.device))
        # Stacked outside inference mode, so that these are ordinary tensors the loss may use.
        buf.actions = torch.stack(step_actions)
        buf.logprobs = torch.stack(step_logps).gather(2, buf.actions[..., None])[..., 0]
        buf.values = torch.stack(step_values)[..., 0]
        buf.next_value = next_value.flatten().cpu().numpy()
        buf.next_done = self.next_done
        return finished


ENVS_PER_CHUNK = 4
"""Sub-envs whose rollout forward runs as one batch: a fixed size, never the number of worker
processes, because a BLAS kernel's result for one row can change with the batch's shape. Two
chunks of the default 8 sub-envs keep 2 cores busy."""


def _rollout_arrays(buf: RolloutBuffer) -> dict[str, Any]:
    """A filled buffer as numpy arrays [step, env] (copied: the buffer is refilled)."""
    return {
        "obs": _tree_map(lambda t: t.numpy().copy(), buf.obs),
        "masks": None if buf.masks is None else buf.masks.numpy().copy(),
        "rewards": buf.rewards.copy(), "dones": buf.dones.copy(), "valid": buf.valid.copy(),
        "actions": buf.actions.numpy(), "logprobs": buf.logprobs.numpy(), "values": buf.values.numpy(),
        "next_value": buf.next_value, "next_done": buf.next_done.copy(),
    }  # fmt: skip


def _concat(parts: list[Any], axis: int) -> Any:
    if parts[0] is None:
        return None
    if isinstance(parts[0], dict):
        return {k: _concat([p[k] for p in parts], axis) for k in parts[0]}
    return np.concatenate(parts, axis=axis)


class RolloutWorker:
    """Some sub-envs of a run and its own CPU copy of the policy; collects their rollouts.

    Built from a picklable spec (env factories, the sub-envs' indices in the run, the config),
    so it runs the same in the learner's process (`LocalActors`) and in a worker process
    (`PoolActors`): `collect` gets the weights once per update and returns the whole
    rollout as numpy arrays. The sub-envs are grouped into the run's fixed chunks of
    `ENVS_PER_CHUNK` (the indices must cover whole chunks), and each chunk is stepped and
    batched on its own, so every number is the same whichever worker holds the chunk.
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], env_ids: Sequence[int], config: PPOConfig):
        if config.torch_threads is not None:
            torch.set_num_threads(config.torch_threads)
        self.config = config
        self.chunks: list[RolloutCollector] = []
        self.agent: Agent | None = None
        ids = list(env_ids)
        fns = dict(zip(ids, env_fns))
        try:
            for chunk in sorted({i // ENVS_PER_CHUNK for i in ids}):
                chunk_ids = [i for i in ids if i // ENVS_PER_CHUNK == chunk]
                envs = SyncEnvs([fns[i] for i in chunk_ids])
                self.chunks.append(RolloutCollector(envs, None, config, torch.device("cpu"), same_step=True,
                                                    env_ids=chunk_ids))
        except BaseException:
            self.close()
            raise
        self._decisions = 0

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """The sub-envs' (observation space, action space)."""
        envs = self.chunks[0].envs
        return envs.single_observation_space, envs.single_action_space

    def reset(self, seed: int, network: dict[str, Any]) -> None:
        """Reset the sub-envs (as `RolloutCollector.reset`) and build the policy copy that
        `network` (`Agent.spec()`) describes."""
        self._build_policy(network)
        for chunk in self.chunks:
            chunk.reset(seed)

    def _build_policy(self, network: dict[str, Any]) -> None:
        # Its weights come with every call: building it must not draw from the learner's RNG,
        # or the run would depend on where the worker lives.
        with torch.random.fork_rng(devices=[]):
            self.agent = Agent.from_spec(self.spaces()[0], network)
        for chunk in self.chunks:
            chunk.agent = self.agent

    def env_steps(self) -> int:
        """World steps its sub-envs took (a macro-action counts its steps), else decisions."""
        total = 0
        for chunk in self.chunks:
            for env in chunk.envs.envs:
                total += getattr(env, "total_env_steps", self._decisions)
        return total

    def collect(self, policy_state: dict[str, np.ndarray], n_steps: int) -> dict[str, Any]:
        """One rollout of `n_steps` per sub-env with these weights: arrays [step, env], the
        episodes that ended (chunk by chunk), and the world steps taken so far."""
        if n_steps != self.config.num_steps:
            raise ValueError(f"this worker's buffers hold {self.config.num_steps} steps, asked for {n_steps}")
        self.agent.load_state_dict({k: torch.from_numpy(v) for k, v in policy_state.items()})
        parts, episodes = [], []
        for chunk in self.chunks:
            episodes.extend(chunk.collect())
            parts.append(_rollout_arrays(chunk.buffer))
        self._decisions += n_steps
        arrays = {k: _concat([p[k] for p in parts], 0 if k.startswith("next_") else 1) for k in parts[0]}
        return {"arrays": arrays, "episodes": episodes, "env_steps": self.env_steps()}

    def evaluate(self, network: dict[str, Any], policy_state: dict[str, np.ndarray], env_fn: Callable[[], gym.Env],
                 seeds: list[int], deterministic: bool) -> dict[str, Any]:
        """`evaluate` of the policy `network` with these weights on one env from `env_fn`, an
        episode per seed (none: no env)."""
        if not seeds:
            return {"episodes": [], "env_steps": 0}
        if self.agent is None or self.agent.spec() != network:
            self._build_policy(network)
        self.agent.load_state_dict({k: torch.from_numpy(v) for k, v in policy_state.items()})
        ev = evaluate(self.agent, env_fn, episodes=len(seeds), seeds=seeds, deterministic=deterministic)
        return {"episodes": list(zip(ev["returns"], ev["lengths"], ev["success"])), "env_steps": ev["env_steps"]}

    def close(self) -> None:
        for chunk in self.chunks:
            chunk.envs.close()
        self.chunks.clear()


class ChunkedCollector:
    """Rollouts from `workers` `RolloutWorker`s: in this process when there is one, else each in
    a worker process of the current executor (`learn.actors.PoolActors`).

    The run's sub-envs are cut into fixed chunks of `ENVS_PER_CHUNK`; each worker holds whole,
    consecutive chunks for the whole run. Every update sends each worker the weights once and
    gets its rollout back; this object copies them into one `RolloutBuffer` on the learner's
    device. For a given seed and number of sub-envs the rollouts, and so the run, are the
    same whatever the number of workers.
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], config: PPOConfig, workers: int = 1):
        n = len(env_fns)
        n_chunks = -(-n // ENVS_PER_CHUNK)
        n_workers = max(1, min(workers, n_chunks))
        self.config = config
        self.slices: list[slice] = []
        specs = []
        for w in range(n_workers):
            first, last = w * n_chunks // n_workers, (w + 1) * n_chunks // n_workers
            ids = list(range(first * ENVS_PER_CHUNK, min(last * ENVS_PER_CHUNK, n)))
            self.slices.append(slice(ids[0], ids[-1] + 1))
            specs.append(functools.partial(RolloutWorker, [env_fns[i] for i in ids], ids, config))
        self.num_envs = n
        self.workers = n_workers
        self._specs = specs
        self._env_steps = [0] * n_workers
        self.actors: LocalActors | PoolActors | None = None

    def start(self) -> tuple[gym.Space, gym.Space]:
        """Build the workers, once; the sub-envs' (observation space, action space)."""
        if self.actors is not None:
            return self.observation_space, self.action_space
        specs = self._specs
        if self.workers == 1:
            self.actors = LocalActors(specs)
        else:  # the learner waits on its pipes meanwhile: its core is the workers'
            self.actors = PoolActors(specs, torch_threads=self.config.torch_threads)
        self.observation_space, self.action_space = self.actors.call_all("spaces")[0]
        return self.observation_space, self.action_space

    def bind(self, agent: Agent, device: torch.device, seed: int) -> None:
        """Collect for `agent` into a buffer on `device`, from envs reset with `seed`."""
        self.agent, self.device = agent, device
        net_space, _, has_mask = split_observation_space(self.observation_space)
        self.buffer = RolloutBuffer.allocate(net_space, int(self.action_space.n), has_mask,
                                             self.config.num_steps, self.num_envs, device)
        self.actors.call_all("reset", [(seed, agent.spec())] * self.workers)
        self._env_steps = [0] * self.workers

    @property
    def env_steps(self) -> int:
        return sum(self._env_steps)

    def collect(self) -> list[Episode]:
        state = _numpy_state(self.agent)
        results = self.actors.call_all("collect", [(state, self.config.num_steps)] * self.workers)
        buf, device = self.buffer, self.device
        finished: list[Episode] = []
        for w, (sl, result) in enumerate(zip(self.slices, results)):
            a = result["arrays"]
            _tree_map(lambda pair: pair[0][:, sl].copy_(torch.from_numpy(pair[1])),
                      _zip_tree(buf.obs, a["obs"]))
            if buf.masks is not None:
                buf.masks[:, sl].copy_(torch.from_numpy(a["masks"]))
            buf.rewards[:, sl], buf.dones[:, sl], buf.valid[:, sl] = a["rewards"], a["dones"], a["valid"]
            finished.extend(result["episodes"])
            self._env_steps[w] = result["env_steps"]
        arrays = [r["arrays"] for r in results]
        buf.actions = torch.from_numpy(np.concatenate([a["actions"] for a in arrays], 1)).to(device)
        buf.logprobs = torch.from_numpy(np.concatenate([a["logprobs"] for a in arrays], 1)).to(device)
        buf.values = torch.from_numpy(np.concatenate([a["values"] for a in arrays], 1)).to(device)
        buf.next_value = np.concatenate([a["next_value"] for a in arrays])
        buf.next_done = np.concatenate([a["next_done"] for a in arrays])
        return finished

    def evaluate(self, agent: Agent, env_fn: Callable[[], gym.Env], seeds: Sequence[int],
                 deterministic: bool = False) -> dict[str, Any]:
        """`evaluate(agent, env_fn, seeds=seeds)` with the episodes shared out over the workers
        (each plays a consecutive run of the seeds on its own env from `env_fn`, which must be
        picklable): every core plays, and the numbers are those of one process, since each
        episode is fixed by its seed."""
        seeds = [int(s) for s in seeds]
        state = _numpy_state(agent)
        runs = [seeds[w * len(seeds) // self.workers:(w + 1) * len(seeds) // self.workers]
                for w in range(self.workers)]
        parts = self.actors.call_all("evaluate", [(agent.spec(), state, env_fn, run, deterministic) for run in runs])
        return _evaluation([ep for part in parts for ep in part["episodes"]],
                           sum(part["env_steps"] for part in parts))

    def close(self) -> None:
        if self.actors is not None:
            self.actors.close()
            self.actors = None


def _numpy_state(agent: Agent) -> dict[str, np.ndarray]:
    """The weights as numpy arrays, the message a rollout worker gets."""
    return {k: v.detach().cpu().numpy() for k, v in agent.state_dict().items()}


def _zip_tree(a: Any, b: Any) -> Any:
    if isinstance(a, dict):
        return {k: (a[k], b[k]) for k in a}
    return (a, b)


def compute_gae(buffer: RolloutBuffer, gamma: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation (detail 5); returns (advantages, returns), [step, env].

    In numpy: 128 tiny steps are much cheaper there than as torch ops.
    """
    rewards, dones = buffer.rewards, buffer.dones
    values = buffer.values.cpu().numpy()
    num_steps, num_envs = rewards.shape
    advantages = np.zeros_like(rewards)
    lastgaelam = np.zeros(num_envs, dtype=np.float32)
    for t in reversed(range(num_steps)):
        if t == num_steps - 1:
            nextnonterminal, nextvalues = 1.0 - buffer.next_done, buffer.next_value
        else:
            nextnonterminal, nextvalues = 1.0 - dones[t + 1], values[t + 1]
        delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
        lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
        advantages[t] = lastgaelam
    return advantages, advantages + values


def explained_variance(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    """1 - Var[y_true - y_pred] / Var[y_true], as CleanRL and SB3 compute it; NaN if y_true is constant.

    1 is a perfect value function; 0 or less is no better than predicting the mean return.
    """
    y_pred_np, y_true_np = y_pred.cpu().numpy(), y_true.cpu().numpy()
    var_y = np.var(y_true_np)
    return float("nan") if var_y == 0 else float(1 - np.var(y_true_np - y_pred_np) / var_y)


def _share(x: torch.Tensor, n: int) -> torch.Tensor:
    """A part's share of the mean over `n`: its sum / n, or the mean itself for a whole minibatch
    (CleanRL's numbers, bit for bit)."""
    return x.mean() if x.numel() == n else x.sum() / n


def _chunk_loss(agent: Agent, mb: Batch, n: int, config: PPOConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A part of a minibatch of `n` transitions: its share of the loss (the parts' losses add
    up to the minibatch's means) and of the metrics."""
    _, newlogprob, entropy, newvalue = agent.get_action_and_value(mb.obs, mb.actions, mb.masks)
    logratio = newlogprob - mb.logprobs
    ratio = logratio.exp()
    with torch.no_grad():
        # http://joschu.net/blog/kl-approx.html
        metrics = {"old_approx_kl": _share(-logratio, n), "approx_kl": _share((ratio - 1) - logratio, n),
                   "clipfrac": _share(((ratio - 1.0).abs() > config.clip_coef).float(), n)}

    # Clipped surrogate (detail 8): the pessimistic (smaller) of the two objectives;
    # CleanRL's max of the negated terms, with the negation taken once.
    pg_loss1 = mb.advantages * ratio
    pg_loss2 = mb.advantages * torch.clamp(ratio, 1 - config.clip_coef, 1 + config.clip_coef)
    pg_loss = -_share(torch.min(pg_loss1, pg_loss2), n)

    newvalue = newvalue.view(-1)
    if config.clip_vloss:
        v_loss_unclipped = (newvalue - mb.returns) ** 2
        v_clipped = mb.values + torch.clamp(newvalue - mb.values, -config.clip_coef, config.clip_coef)
        v_loss_clipped = (v_clipped - mb.returns) ** 2
        v_loss = 0.5 * _share(torch.max(v_loss_unclipped, v_loss_clipped), n)
    else:
        v_loss = 0.5 * _share((newvalue - mb.returns) ** 2, n)

    entropy_loss = _share(entropy, n)
    loss = pg_loss - config.ent_coef * entropy_loss + v_loss * config.vf_coef
    metrics.update(policy_loss=pg_loss.detach(), value_loss=v_loss.detach(), entropy=entropy_loss.detach())
    return loss, metrics


def ppo_update(
    agent: Agent, optimizer: Adam, batch: Batch, config: PPOConfig, threads: Any = None
) -> dict[str, float]:
    """Several epochs of shuffled minibatches over one rollout (details 6-11).

    Each minibatch's gradient is the sum of its `config.gradient_chunks` parts' gradients,
    computed on `threads` (a `concurrent.futures` executor) when given, else in turn.

    Returns the debug metrics (detail 12): value_loss, policy_loss, entropy, old_approx_kl and
    approx_kl of the last minibatch, clipfrac averaged over all minibatches, and the explained
    variance of the rollout's values.
    """
    params = list(agent.parameters())
    n = len(batch)
    device = batch.actions.device
    minibatch_size = math.ceil(n / config.num_minibatches)
    clipfrac_sum = torch.zeros((), device=device)
    n_minibatches = 0
    for _epoch in range(config.update_epochs):
        perm = torch.randperm(n, device=device)
        for start in range(0, n, minibatch_size):
            mb = batch[perm[start : start + minibatch_size]]
            size = len(mb)
            if config.norm_adv:  # over the whole minibatch, before it is split
                mb = dataclasses.replace(mb, advantages=(mb.advantages - mb.advantages.mean())
                                         / (mb.advantages.std() + 1e-8))

            chunks = min(config.gradient_chunks, size)
            if chunks == 1:  # CleanRL's update
                loss, m = _chunk_loss(agent, mb, size, config)
                optimizer.zero_grad()
                loss.backward()
            else:
                def part_gradient(bounds: tuple[int, int], mb: Batch = mb, size: int = size):
                    loss, metrics = _chunk_loss(agent, mb[torch.arange(*bounds, device=device)], size, config)
                    return torch.autograd.grad(loss, params), metrics  # not .grad: parts may run at once

                edges = [size * c // chunks for c in range(chunks + 1)]
                bounds = list(zip(edges, edges[1:]))
                parts = list(threads.map(part_gradient, bounds) if threads is not None else map(part_gradient, bounds))
                for i, param in enumerate(params):
                    grad = parts[0][0][i]
                    for part in parts[1:]:
                        grad = grad + part[0][i]
                    param.grad = grad
                m = {k: sum(part[1][k] for part in parts) for k in parts[0][1]}
            clipfrac_sum += m["clipfrac"]
            n_minibatches += 1
            nn.utils.clip_grad_norm_(params, config.max_grad_norm, foreach=True)
            optimizer.step()

        if config.target_kl is not None and m["approx_kl"] > config.target_kl:
            break

    return {
        "value_loss": m["value_loss"].item(),
        "policy_loss": m["policy_loss"].item(),
        "entropy": m["entropy"].item(),
        "old_approx_kl": m["old_approx_kl"].item(),
        "approx_kl": m["approx_kl"].item(),
        "clipfrac": (clipfrac_sum / max(n_minibatches, 1)).item(),
        "explained_variance": explained_variance(batch.values, batch.returns),
    }


def train(
    envs: gym.vector.VectorEnv | Sequence[Callable[[], gym.Env]],
    config: PPOConfig,
    *,
    agent: Agent | None = None,
    writer: Any = None,
    on_update: Callable[[dict[str, Any]], None] | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    resume_from: str | os.PathLike | None = None,
    should_stop: Callable[[], bool] | None = None,
    env_steps: Callable[[], int] | None = None,
    checkpoint_history: int = 0,
    workers: int = 1,
) -> TrainResult:
    """Train a PPO agent.

    envs: a gymnasium vector env (SAME_STEP or NEXT_STEP auto-reset, Discrete actions), a
        `ChunkedCollector` (both: the caller keeps ownership and closes it) or a list of env
        factories (stepped by `RolloutWorker`s in chunks of `ENVS_PER_CHUNK`, built and closed
        here). Its num_envs must equal config.num_envs.
    workers: with env factories, the worker processes that step them (1: this process; at
        most one per chunk). The factories must then be picklable. The run is the same for
        any number of workers.
    agent: a prebuilt `Agent` (e.g. use_pos=True); default `Agent(obs_space, n_actions)`.
    writer: anything with `add_scalar(tag, value, step)`, e.g. a TensorBoard SummaryWriter.
    on_update: called after every update with a dict: update, num_updates, global_step (decisions), sps,
        env_steps, env_sps (see `env_steps`),
        learning_rate, value_loss, policy_loss, entropy, old_approx_kl, approx_kl, clipfrac,
        explained_variance, episodes (finished in this update), episodic_return,
        episodic_length, success_rate (means over those episodes; None if there were none, or
        for success_rate if the env reports no `success`), recent_return (last 100 episodes).
    checkpoint_path / checkpoint_every: write a checkpoint every K updates (0: never), and
        always at the end of the run and when stopped. Written atomically.
    resume_from: a checkpoint to continue from (weights, optimizer, step counters, RNG).
    should_stop: polled after each update; when it returns True the run checkpoints and
        returns (`TrainResult.stopped`). Set it from a SIGINT/SIGTERM handler.
    env_steps: the env steps taken so far, when they differ from decisions (a macro-action is
        one decision over several world steps). TensorBoard's x-axis (global_step) and its SPS
        count these, as CleanRL's count env steps; `charts/decisions` keeps the decisions.
        With env factories the default counts the envs' `total_env_steps` where they have it.
    checkpoint_history: also keep the last K checkpoints, as `checkpoints/step-<env steps>.pt`
        beside `checkpoint_path` (0: only the latest, which resume reads).
    """
    device = resolve_device(config.device)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.backends.cudnn.deterministic = config.torch_deterministic
    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)

    owns_envs = not isinstance(envs, (gym.vector.VectorEnv, ChunkedCollector))
    if owns_envs:
        envs = ChunkedCollector(list(envs), config, workers=workers)
    try:
        return _train(
            envs, config, device, agent=agent, writer=writer, on_update=on_update,
            checkpoint_path=Path(checkpoint_path) if checkpoint_path else None,
            checkpoint_every=checkpoint_every, resume_from=resume_from, should_stop=should_stop,
            env_steps=env_steps, checkpoint_history=checkpoint_history,
        )  # fmt: skip
    finally:
        if owns_envs:
            envs.close()


def _validate(num_envs: int, action_space: gym.Space, mode: AutoresetMode, config: PPOConfig) -> bool:
    """Reject a config or envs this learner cannot train; True if they auto-reset SAME_STEP."""
    if config.gradient_chunks < 1:
        raise ValueError(f"gradient_chunks must be >= 1, got {config.gradient_chunks}")
    if config.num_updates < 1 or config.update_epochs < 1 or config.num_minibatches < 1:
        raise ValueError(
            f"config gives {config.num_updates} updates of {config.update_epochs} epochs x "
            f"{config.num_minibatches} minibatches; each must be >= 1 (total_timesteps >= "
            f"num_envs * num_steps = {config.batch_size})"
        )
    if num_envs != config.num_envs:
        raise ValueError(f"vector env has {num_envs} sub-envs, config.num_envs is {config.num_envs}")
    if not isinstance(action_space, spaces.Discrete) or action_space.start != 0:
        raise ValueError(f"PPO here needs a Discrete action space, got {action_space}")
    if mode == AutoresetMode.DISABLED:
        raise ValueError("vector env has auto-reset disabled; use SAME_STEP or NEXT_STEP")
    return mode == AutoresetMode.SAME_STEP


def _episode_metrics(finished: list[Episode], recent_returns: deque[float]) -> dict[str, Any]:
    successes = [e.success for e in finished if e.success is not None]
    return {
        "episodes": len(finished),
        "episodic_return": float(np.mean([e.ret for e in finished])) if finished else None,
        "episodic_length": float(np.mean([e.length for e in finished])) if finished else None,
        "success_rate": float(np.mean(successes)) if successes else None,
        "recent_return": float(np.mean(recent_returns)) if recent_returns else None,
    }


def _write_scalars(writer: Any, metrics: dict[str, Any], finished: list[Episode]) -> None:
    """One update's metrics under CleanRL's TensorBoard tags, against env steps."""
    global_step = metrics["env_steps"]
    for episode in finished:
        writer.add_scalar("charts/episodic_return", episode.ret, global_step)
        writer.add_scalar("charts/episodic_length", episode.length, global_step)
    writer.add_scalar("charts/learning_rate", metrics["learning_rate"], global_step)
    for name in ("value_loss", "policy_loss", "entropy", "old_approx_kl", "approx_kl",
                 "clipfrac", "explained_variance"):  # fmt: skip
        writer.add_scalar(f"losses/{name}", metrics[name], global_step)
    if metrics["success_rate"] is not None:
        writer.add_scalar("charts/success_rate", metrics["success_rate"], global_step)
    writer.add_scalar("charts/SPS", metrics["env_sps"], global_step)
    writer.add_scalar("charts/decisions", metrics["global_step"], global_step)


def _keep_history(checkpoint: Path, step: int, keep: int) -> None:
    """A copy of the checkpoint just written under `checkpoints/`; only the newest `keep` stay."""
    import shutil

    history = checkpoint.parent / "checkpoints"
    history.mkdir(exist_ok=True)
    shutil.copyfile(checkpoint, history / f"step-{step:09d}.pt")
    for old in sorted(history.glob("step-*.pt"))[:-keep]:
        old.unlink()


def _train(
    envs: gym.vector.VectorEnv | ChunkedCollector,
    config: PPOConfig,
    device: torch.device,
    *,
    agent: Agent | None,
    writer: Any,
    on_update: Callable[[dict[str, Any]], None] | None,
    checkpoint_path: Path | None,
    checkpoint_every: int,
    resume_from: str | os.PathLike | None,
    should_stop: Callable[[], bool] | None,
    env_steps: Callable[[], int] | None = None,
    checkpoint_history: int = 0,
) -> TrainResult:
    if isinstance(envs, ChunkedCollector):
        obs_space, action_space = envs.start()
        mode = AutoresetMode.SAME_STEP
    else:
        obs_space, action_space = envs.single_observation_space, envs.single_action_space
        mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    same_step = _validate(envs.num_envs, action_space, mode, config)
    if agent is None:
        agent = Agent(obs_space, int(action_space.n))
    agent = agent.to(device)
    # Adam, eps 1e-5 (detail 3); fused: one kernel for all parameters instead of a Python loop
    # over them (same maths). Ours, not torch.optim's, whose first call imports torch._dynamo.
    optimizer = Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5)

    global_step, start_update = 0, 1
    recent_returns: deque[float] = deque(maxlen=100)
    recent_lengths: deque[int] = deque(maxlen=100)
    if resume_from is not None:
        ckpt = _restore_checkpoint(resume_from, config, agent, optimizer, device)
        global_step, start_update = ckpt["global_step"], ckpt["update"] + 1
        recent_returns.extend(ckpt["recent_returns"])
        recent_lengths.extend(ckpt["recent_lengths"])

    # A resumed run cannot restore the envs' internal state; new seeds give fresh episodes
    # rather than replaying the ones the first run already saw.
    reset_seed = config.seed + (start_update - 1) * config.num_envs
    if isinstance(envs, ChunkedCollector):
        collector = envs
        collector.bind(agent, device, reset_seed)
        resumed_at = global_step
        count_env_steps = env_steps or (lambda: resumed_at + collector.env_steps)
    else:
        collector = RolloutCollector(envs, agent, config, device, same_step=same_step)
        collector.reset(reset_seed)
        count_env_steps = env_steps or (lambda: global_step)
    start_time, start_step, start_env_steps = time.time(), global_step, count_env_steps()
    update = start_update - 1
    stopped = False
    # Worker processes wait for the new weights during the update: their cores compute its parts.
    threads = (concurrent.futures.ThreadPoolExecutor(min(collector.workers, config.gradient_chunks))
               if isinstance(collector, ChunkedCollector) and collector.workers > 1 and config.gradient_chunks > 1
               and device.type == "cpu" else None)
    with threads or contextlib.nullcontext():
        for update in range(start_update, config.num_updates + 1):
            if config.anneal_lr:  # detail 4
                frac = 1.0 - (update - 1.0) / config.num_updates
                optimizer.param_groups[0]["lr"] = frac * config.learning_rate

            finished = collector.collect()
            global_step += config.batch_size
            advantages, returns = compute_gae(collector.buffer, config.gamma, config.gae_lambda)
            losses = ppo_update(agent, optimizer, collector.buffer.flatten(advantages, returns), config, threads)
            elapsed = max(time.time() - start_time, 1e-9)
            sps = int((global_step - start_step) / elapsed)
            steps_now = count_env_steps()

            for episode in finished:
                recent_returns.append(episode.ret)
                recent_lengths.append(episode.length)
            metrics = {
                "update": update,
                "num_updates": config.num_updates,
                "global_step": global_step,
                "sps": sps,
                "env_steps": steps_now,
                "env_sps": int((steps_now - start_env_steps) / elapsed),
                "learning_rate": optimizer.param_groups[0]["lr"],
                **losses,
                **_episode_metrics(finished, recent_returns),
            }
            if writer is not None:
                _write_scalars(writer, metrics, finished)
            if on_update is not None:
                on_update(metrics)

            stopped = should_stop is not None and should_stop()
            last = update == config.num_updates
            if checkpoint_path is not None and (
                stopped or last or (checkpoint_every and update % checkpoint_every == 0)
            ):
                _save_checkpoint(checkpoint_path, config, agent, optimizer, global_step, update,
                                 recent_returns, recent_lengths)  # fmt: skip
                if checkpoint_history:
                    _keep_history(checkpoint_path, steps_now, checkpoint_history)
            if stopped:
                break

    return TrainResult(
        agent=agent,
        global_step=global_step,
        update=update,
        stopped=stopped,
        checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
        recent_returns=list(recent_returns),
        sps=int((global_step - start_step) / max(time.time() - start_time, 1e-9)),
    )


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def evaluate(
    agent: Agent,
    env_fn: Callable[[], gym.Env],
    episodes: int = 10,
    seeds: Sequence[int] | None = None,
    deterministic: bool = True,
    on_episode: Callable[[int, bool | None], None] | None = None,
) -> dict[str, Any]:
    """Run `episodes` full episodes on one env; seeds[i] seeds episode i and, unless
    `deterministic`, its own stream of sampling noise (without seeds: torch's global RNG).
    `on_episode(n, success)` is called after the n-th episode (progress of a long evaluation).

    Returns {"returns", "lengths", "success"} lists plus "mean_return", "mean_length",
    "success_rate" (None when the env's info never reports `success`) and "env_steps" (the
    env's `total_env_steps` where it counts them, a macro-action's world steps included; else
    the episodes' lengths). `ChunkedCollector.evaluate` plays them on its rollout workers.
    """
    if seeds is not None and len(seeds) < episodes:
        raise ValueError(f"{episodes} episodes need {episodes} seeds, got {len(seeds)}")
    env = env_fn()
    device = next(agent.parameters()).device
    was_training = agent.training
    agent.eval()
    played: list[tuple[float, int, bool | None]] = []
    try:
        for ep in range(episodes):
            seed = None if seeds is None else int(seeds[ep])
            # A seeded episode samples from its own noise stream: the same draws whichever
            # process plays it and whatever ran before.
            generator = None if seed is None or deterministic else torch.Generator(device=device).manual_seed(
                noise_seed(seed, EVALUATION_NOISE))
            obs, info = env.reset(seed=seed)
            total, length, done = 0.0, 0, False
            while not done:
                obs, reward, term, trunc, info = env.step(agent.act(obs, deterministic, generator))
                total += float(reward)
                length += 1
                done = term or trunc
            played.append((total, length, bool(info["success"]) if "success" in info else None))
            if on_episode is not None:
                on_episode(ep + 1, played[-1][2])
    finally:
        env.close()
        agent.train(was_training)
    return _evaluation(played, getattr(env, "total_env_steps", sum(length for _, length, _ in played)))


EVALUATION_NOISE = 1 << 30
"""The stream index of an evaluation episode's sampling noise, `noise_seed(episode seed,
EVALUATION_NOISE)`: apart from every training run's sub-env streams."""


def _evaluation(played: list[tuple[float, int, bool | None]], env_steps: int) -> dict[str, Any]:
    """`evaluate`'s report of these (return, length, success) episodes."""
    returns = [float(r) for r, _, _ in played]
    lengths = [int(n) for _, n, _ in played]
    success = [s for _, _, s in played]
    reported = [s for s in success if s is not None]
    return {
        "returns": returns,
        "lengths": lengths,
        "success": success,
        "mean_return": float(np.mean(returns)) if returns else None,
        "mean_length": float(np.mean(lengths)) if lengths else None,
        "success_rate": float(np.mean(reported)) if reported else None,
        "env_steps": int(env_steps),
    }
