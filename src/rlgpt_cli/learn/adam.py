"""Adam exactly as ``torch.optim.Adam(fused=True)`` computes it, without ``torch.optim``.

Why: every method of ``torch.optim.Optimizer`` is wrapped to keep ``torch.compile`` out, and
the wrapper's first call imports ``torch._dynamo`` -- 3 to 4 s of CPU on a 2-core machine,
more than a short ``rlgpt learn`` spends in its PPO updates. This class makes the same calls
torch's fused Adam makes (``torch._foreach_add_`` on the step counts, then the one
``torch._fused_adam_`` kernel per device and dtype) on the same state, so the weights are
the same bit for bit (tests/test_ppo.py), and ``state_dict`` is torch.optim.Adam's format
both ways: checkpoints written before this class, or by torch, load here, and the reverse.
Only what PPO uses is here: one parameter group, no weight decay, no amsgrad.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class Adam:
    """Fused Adam over ``params`` (one group); ``param_groups[0]["lr"]`` may be changed between
    steps, as with torch's optimizers (learning-rate annealing)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params = list(params)
        # torch.optim.Adam(fused=True)'s group, key for key, so state_dict() matches its format.
        self.param_groups = [{
            "lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": 0, "amsgrad": False,
            "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
            "fused": True, "decoupled_weight_decay": False, "params": list(range(len(self.params))),
        }]  # fmt: skip
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None  # as torch's default set_to_none=True

    def _state(self, i: int) -> dict[str, torch.Tensor]:
        state = self.state.get(i)
        if state is None:  # created on a parameter's first step, as torch does
            p = self.params[i]
            state = self.state[i] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return state

    def step(self) -> None:
        group = self.param_groups[0]
        beta1, beta2 = group["betas"]
        groups: dict[tuple, tuple[list, list, list, list, list]] = {}
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            state = self._state(i)
            lists = groups.setdefault((p.device, p.dtype), ([], [], [], [], []))
            for dst, t in zip(lists, (p, p.grad, state["exp_avg"], state["exp_avg_sq"], state["step"])):
                dst.append(t)
        with torch.no_grad():
            for params, grads, exp_avgs, exp_avg_sqs, steps in groups.values():
                torch._foreach_add_(steps, 1)
                torch._fused_adam_(
                    params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"],
                    beta1=beta1, beta2=beta2, weight_decay=0.0, eps=group["eps"], maximize=False,
                    grad_scale=None, found_inf=None,
                )  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return {"state": {i: dict(s) for i, s in self.state.items()}, "param_groups": [dict(self.param_groups[0])]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state saved by this class or by ``torch.optim.Adam`` over the same parameters."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            sizes = [len(g["params"]) for g in groups]
            raise ValueError(f"optimizer state has parameter groups of {sizes}, this optimizer one of {len(self.params)}")
        saved = groups[0]
        if saved.get("amsgrad") or saved.get("weight_decay") or saved.get("maximize"):
            raise ValueError("optimizer state uses amsgrad, weight decay or maximize, which this Adam does not")
        self.param_groups[0].update(lr=saved["lr"], betas=tuple(saved["betas"]), eps=saved["eps"])
        self.state = {}
        for slot, index in enumerate(saved["params"]):
            if index not in state_dict["state"]:
                continue
            p, s = self.params[slot], state_dict["state"][index]
            # Copies, on the parameter's device; the fused kernel keeps `step` as float32 there.
            self.state[slot] = {
                "step": torch.as_tensor(s["step"], dtype=torch.float32).to(p.device).clone(),
                "exp_avg": s["exp_avg"].to(device=p.device, dtype=p.dtype).clone(),
                "exp_avg_sq": s["exp_avg_sq"].to(device=p.device, dtype=p.dtype).clone(),
            }
