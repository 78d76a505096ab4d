"""learn.adam.Adam is torch.optim.Adam(fused=True), bit for bit, minus torch._dynamo's import."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import torch

from rlgpt_cli.learn.adam import Adam


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))


def _steps(net, opt, n: int, lrs=None) -> None:
    gen = torch.Generator().manual_seed(11)
    for i in range(n):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[i]
        x = torch.randn(16, 5, generator=gen)
        loss = (net(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_same_weights_as_torch_fused_adam_bit_for_bit():
    ours, theirs = _net(0), _net(0)
    lrs = [2.5e-3 * (1 - i / 20) for i in range(20)]  # annealed, as PPO does
    _steps(ours, Adam(ours.parameters(), lr=lrs[0], eps=1e-5), 20, lrs)
    _steps(theirs, torch.optim.Adam(theirs.parameters(), lr=lrs[0], eps=1e-5, fused=True), 20, lrs)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(next(ours.parameters()), next(_net(0).parameters()))  # it did train


def _saved(state: dict) -> dict:
    """Through torch.save and torch.load, as a checkpoint (torch's own loader would otherwise
    share the live tensors)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_state_dict_is_torch_format_both_ways():
    """A state saved by torch's Adam continues here exactly as in torch, and the reverse."""
    for first, second in ((torch.optim.Adam, Adam), (Adam, torch.optim.Adam)):
        a, b = _net(1), _net(1)
        kw = {"fused": True} if first is torch.optim.Adam else {}
        opt = first(a.parameters(), lr=1e-3, eps=1e-5, **kw)
        _steps(a, opt, 3)
        b.load_state_dict(a.state_dict())
        kw2 = {"fused": True} if second is torch.optim.Adam else {}
        opt_b = second(b.parameters(), lr=0.5, eps=0.1, **kw2)
        opt_b.load_state_dict(_saved(opt.state_dict()))
        assert opt_b.param_groups[0]["lr"] == 1e-3 and opt_b.param_groups[0]["eps"] == 1e-5
        _steps(a, opt, 3)
        _steps(b, opt_b, 3)
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)


def test_rejects_a_state_of_other_parameters():
    opt = Adam(_net(0).parameters(), lr=1e-3)
    other = torch.optim.Adam(torch.nn.Linear(2, 2).parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict(other.state_dict())


def test_training_does_not_import_torch_dynamo():
    code = (
        "import sys, gymnasium as gym\n"
        "from rlgpt_cli.learn import ppo\n"
        "c = ppo.PPOConfig(num_steps=16, total_timesteps=64, device='cpu')\n"
        "ppo.train([lambda: gym.make('CartPole-v1')] * 4, c)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
