"""What a bounded `rlgpt iterate` costs an LLM: tokens per prompt, calls, and dollars.

The chain goes through litellm's OpenAI path to an OpenAI-compatible server on 127.0.0.1
(``tests/fake_openai.py``) that answers every prompt as the built-in offline model would and
reports usage counted with the model's tokenizer (litellm's ``token_counter``), so the
requests are exactly what `--model openai/gpt-4o` sends and the cost is litellm's price for
them. Nothing leaves the machine.

    PYTHONPATH=src python benchmarks/prompt_budget.py [--json] [--task "obtain diamond"]
        [--outer 2] [--episodes 2] [--target 1.0] [--rl-steps 3000] [--max-steps 300000]

The default target of 1.0 keeps the loops going for every outer iteration, so the slow agent
also plans with the feedback of a whole-task evaluation: the largest prompts a run can send.

Reports, per prompt template: calls, largest and total prompt tokens, completion tokens; the
whole chain's tokens and cost; and whether every prompt fits a 4k context (Ollama's default).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

CONTEXT = 4096
MODEL = "gpt-4o"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="obtain diamond")
    ap.add_argument("--outer", type=int, default=2)
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--target", type=float, default=1.0)
    ap.add_argument("--rl-steps", type=int, default=3000)
    ap.add_argument("--max-steps", type=int, default=300_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import litellm

    from fake_openai import FakeOpenAI, Reply
    from rlgpt_cli.cli import main as rlgpt
    from rlgpt_cli.models.offline_provider import MODEL as OFFLINE, answer
    from rlgpt_cli.models.prompts import parse_messages

    usage: dict[str, dict] = defaultdict(lambda: {"calls": 0, "max_prompt": 0, "prompt": 0, "completion": 0})

    def respond(body: dict) -> Reply:
        messages = body["messages"]
        name = parse_messages(messages)[0] or "?"
        text = answer(OFFLINE, messages)
        tokens_in = litellm.token_counter(model=MODEL, messages=messages)
        tokens_out = litellm.token_counter(model=MODEL, text=text)
        u = usage[name]
        u["calls"] += 1
        u["max_prompt"] = max(u["max_prompt"], tokens_in)
        u["prompt"] += tokens_in
        u["completion"] += tokens_out
        return Reply(text, prompt_tokens=tokens_in, completion_tokens=tokens_out)

    with tempfile.TemporaryDirectory() as home, FakeOpenAI(respond) as server:
        os.environ.update({"RLGPT_HOME": home, "OPENAI_API_BASE": server.url, "OPENAI_API_KEY": "sk-local"})
        argv = ["--quiet", "--json", "-m", f"openai/{MODEL}", "iterate", args.task, "--outer", str(args.outer),
                "--episodes", str(args.episodes), "--target", str(args.target), "--rl-steps", str(args.rl_steps),
                "--max-steps", str(args.max_steps)]
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # iterate's own report is not ours
                rlgpt(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    prompt = sum(u["prompt"] for u in usage.values())
    completion = sum(u["completion"] for u in usage.values())
    cost_in, cost_out = litellm.cost_per_token(model=MODEL, prompt_tokens=prompt, completion_tokens=completion)
    report = {
        "task": args.task, "model": f"openai/{MODEL} (answered as rlgpt/offline by a local server)",
        "outer": args.outer, "episodes": args.episodes, "target": args.target, "exit_code": code,
        "prompts": dict(sorted(usage.items())),
        "calls": sum(u["calls"] for u in usage.values()),
        "prompt_tokens": prompt, "completion_tokens": completion,
        "cost_usd": round(cost_in + cost_out, 4),
        "largest_prompt": max((u["max_prompt"] for u in usage.values()), default=0),
        "fits_4k": all(u["max_prompt"] < CONTEXT for u in usage.values()),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"iterate {args.task!r} (outer {args.outer}, {args.episodes} episodes) through openai/{MODEL} "
          f"on a local server answering as the offline model; exit code {code}")
    print(f"{'prompt':<18}{'calls':>6}{'max in':>9}{'total in':>10}{'out':>8}")
    for name, u in report["prompts"].items():
        print(f"{name:<18}{u['calls']:>6}{u['max_prompt']:>9}{u['prompt']:>10}{u['completion']:>8}")
    print(f"total: {report['calls']} calls, {prompt} prompt + {completion} completion tokens, "
          f"${report['cost_usd']:.4f} at litellm's {MODEL} prices; largest prompt {report['largest_prompt']} "
          f"tokens ({'fits' if report['fits_4k'] else 'does NOT fit'} a 4k context)")


if __name__ == "__main__":
    main()
