"""The sandbox: hostile code is refused or stopped; legitimate skills work."""

from __future__ import annotations

import sys
import time

import pytest

from rlgpt_cli.errors import SandboxError
from rlgpt_cli.sandbox import Limits, SkillRaised, check_source, load_module

FAST = Limits(max_lines=20_000, max_seconds=2.0, max_memory_mb=64)


class FakeAPI:
    """A trusted API object of the kind a world hands to skills."""

    __sandbox_attrs__ = frozenset({"collect", "inventory", "noop"})

    def __init__(self):
        self.inventory = {"wood": 0}
        self.env = object()  # not exposed
        self.secret = "host-only"

    def collect(self, what, n):
        for _ in range(n):
            yield "do"
        self.inventory[what] = self.inventory.get(what, 0) + n

    def noop(self):
        return "noop"


def run_hostile(source: str, tmp_path=None, limits: Limits = FAST):
    """Refused at compile time (reasons), or stopped at run time (SandboxError)."""
    reasons = check_source(source)
    if reasons:
        with pytest.raises(SandboxError, match="refused by the sandbox"):
            load_module(source, "hostile", limits=limits)
        return "compile", reasons
    with pytest.raises(SandboxError) as info:
        module = load_module(source, "hostile", limits=limits)
        if module.has("act"):
            list(module.start("act", FakeAPI()))
        if module.has("main"):
            module.call("main")
    return "run", info.value


HOSTILE = {
    # imports
    "import os": "import os\nos.system('touch {sentinel}')",
    "import subprocess": "import subprocess\nsubprocess.run(['touch', '{sentinel}'])",
    "import socket": "import socket\nsocket.create_connection(('example.com', 80))",
    "import importlib": "import importlib\nimportlib.import_module('os')",
    "dunder import": "__import__('os').system('touch {sentinel}')",
    "from os import": "from os import system",
    "import builtins": "import builtins\nbuiltins.open('{sentinel}', 'w')",
    "import sys": "import sys\nsys.modules['os'].system('touch {sentinel}')",
    "dotted import": "import collections.abc",
    "submodule via fallback": "def main():\n    from collections import abc\n    return abc",
    "relative import": "from . import library",
    # dunder / introspection escapes
    "subclasses walk": "().__class__.__bases__[0].__subclasses__()",
    "generator frame": "def act(api):\n    g = (x for x in [1])\n    yield g.gi_frame.f_globals",
    "generator code": "def act(api):\n    g = (x for x in [1])\n    yield g.gi_code",
    "function globals": "def f():\n    pass\nf.__globals__['__builtins__']",
    "api dict": "def act(api):\n    yield api.__dict__",
    "api unexposed attribute": "def act(api):\n    yield api.env",
    "api attribute write": "def act(api):\n    api.secret = 'pwned'\n    yield 'noop'",
    "traceback frame": (
        "def main():\n    try:\n        1 / 0\n    except Exception as e:\n        return e.__traceback__.tb_frame"
    ),
    "with_traceback": (
        "def main():\n    try:\n        1 / 0\n    except Exception as e:\n        return e.with_traceback(None)"
    ),
    "mro to BaseException": "def main():\n    return Exception.mro()",
    # builtins tricks
    "getattr dunder": "getattr((), '_' + '_class__')",
    "type() class creation": "X = type('X', (), {})",
    "object": "object.__subclasses__()",
    "class statement": "class X:\n    def __init__(self):\n        pass",
    "eval": "eval('1 + 1')",
    "exec": "exec('x = 1')",
    "compile": "compile('1', 'f', 'eval')",
    "globals": "globals()['__builtins__']",
    "locals/vars": "vars()",
    "breakpoint": "breakpoint()",
    "input": "input()",
    "help": "help()",
    "memoryview": "memoryview(b'abc')",
    "super": "def f():\n    return super()",
    "open": "open('{sentinel}', 'w').write('x')",
    "bytearray bomb": "bytearray(10 ** 10)",
    # format strings
    "str.format attribute": "'{0.__class__}'.format(1)",
    "format_map": "'{x.__class__}'.format_map({'x': 1})",
    "unbound str.join": "def main():\n    f = str.join\n    return f",
    "f-string width bomb": "def main():\n    n = 10 ** 9\n    return f'{1:>{n}}'",
    "percent width bomb": "def main():\n    return '%*d' % (10 ** 9, 1)",
    # runaway execution
    "infinite loop": "while True: pass",
    "infinite loop in act": "def act(api):\n    while True:\n        pass\n    yield 'do'",
    "infinite recursion": "def f():\n    return f()\nf()",
    "catch the stop and loop": (
        "def act(api):\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except Exception:\n            pass\n    yield 'do'"
    ),
    "bare except": "while True:\n    try:\n        pass\n    except:\n        pass",
    "finally loop": "try:\n    x = 1\nfinally:\n    while True:\n        pass",
    "with statement": "def main():\n    with api:\n        pass",
    "count exhausted in C": "import itertools\nlist(itertools.count())",
    "repeat summed in C": "import itertools\nsum(itertools.repeat(1))",
    "product in C": "import itertools\nmax(itertools.product(range(10 ** 5), range(10 ** 5)))",
    "two-arg iter": "def main():\n    return list(iter(int, 1))",
    # huge allocations
    "list multiply": "x = [0] * 10 ** 10",
    "string multiply": "x = 'a' * 10 ** 9",
    "power tower": "x = 10 ** 10 ** 10",
    "left shift": "x = 1 << 10 ** 10",
    "range abuse": "x = list(range(10 ** 12))",
    "string doubling": "s = 'ab'\nwhile True:\n    s = s + s",
    "augmented doubling": "s = [1]\nwhile True:\n    s *= 2",
    "extend doubling": "x = [1]\nwhile True:\n    x.extend(x)",
    "replace blowup": "s = 'a' * 100000\nt = s.replace('', s)",
    "ljust": "'x'.ljust(10 ** 10)",
    "join blowup": "s = 'a' * 100000\nt = s.join([s] * 100000)",
    "to_bytes": "(1).to_bytes(10 ** 9, 'big')",
    "star-args bomb": "def f(*a):\n    return a\nf(*[0] * 10 ** 9)",
    "Counter elements": "from collections import Counter\nlist(Counter({'a': 10 ** 12}).elements())",
    "getrandbits": "import random\nrandom.getrandbits(10 ** 10)",
    "factorial": "import math\nmath.factorial(10 ** 7)",
    "round precision": "round(5, -10 ** 9)",
    "memory growth": "x = []\nwhile True:\n    x.append('a' * 900000 + str(len(x)))",
    # the switch that lifts the meter for trusted code
    "lift flag": "_rl_lifted_[0] = 0",
    "resume hook": "_rl_enter_ = None",
    "trusted wrapper internals": "def act(api):\n    yield api.collect._func",
    "trusted wrapper attribute": "def act(api):\n    yield api.collect.func",
    "trusted generator internals": "def act(api):\n    yield api.collect('wood', 1)._gen",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_snippet_is_refused_or_stopped(name, tmp_path):
    sentinel = tmp_path / "escaped"
    source = HOSTILE[name].replace("{sentinel}", str(sentinel))
    started = time.perf_counter()
    run_hostile(source)
    assert time.perf_counter() - started < 10
    assert not sentinel.exists(), "hostile code had an effect outside the sandbox"


def test_battery_is_large_enough():
    assert len(HOSTILE) >= 25


@pytest.mark.parametrize(
    "source, reason",
    [
        ("import os", 'importing "os" is not allowed'),
        ("().__class__", "starts with"),
        ("open('x')", '"open" is not available'),
        ("class X:\n    pass", "classes are not allowed"),
        ("'{}'.format(1)", '".format" is not allowed'),
        ("try:\n    pass\nfinally:\n    pass", '"finally" is not allowed'),
        ("def f(:", "SyntaxError"),
    ],
)
def test_check_source_gives_reasons(source, reason):
    reasons = check_source(source)
    assert reasons and any(reason in r for r in reasons), reasons
    assert all("\n" not in r for r in reasons)


def test_refusal_lists_the_reason():
    with pytest.raises(SandboxError, match='importing "socket" is not allowed'):
        load_module("import socket", "net")


def test_stopped_code_cannot_catch_the_stop():
    source = (
        "def act(api):\n    n = 0\n    while True:\n        try:\n            while True:\n                n += 1\n"
        "        except Exception:\n            yield 'caught'\n"
    )
    gen = load_module(source, "sticky", limits=FAST).start("act", FakeAPI())
    with pytest.raises(SandboxError, match="step cap exceeded"):
        next(gen)
    with pytest.raises(StopIteration):  # a stopped generator is finished
        next(gen)


def test_time_cap():
    # Each line is cheap for the step cap but slow in C: the clock stops it.
    source = "def main():\n    while True:\n        sorted(list(range(10 ** 5)))\n"
    module = load_module(source, "slow", limits=Limits(max_lines=10**9, max_seconds=0.3))
    started = time.perf_counter()
    with pytest.raises(SandboxError, match="time cap exceeded"):
        module.call("main")
    assert time.perf_counter() - started < 3


def test_guard_errors_are_catchable_without_harm():
    # A size guard refuses the operation itself; the skill may handle it like any error.
    source = "def main():\n    try:\n        x = [0] * 10 ** 10\n    except Exception as e:\n        return 'refused'\n"
    assert load_module(source, "polite").call("main") == "refused"


def test_skill_exceptions_report_the_line():
    source = "def main():\n    x = {}\n    return x['wood']\n"
    with pytest.raises(SkillRaised) as info:
        load_module(source, "buggy").call("main")
    assert info.value.exc_type == "KeyError" and info.value.lineno == 3
    assert "line 3" in info.value.message


# ---------------------------------------------------------------------------------------
# Legitimate skills

LEGIT = '''
import math
import random
import heapq
import itertools
from collections import Counter, deque, defaultdict
from functools import reduce, lru_cache
from typing import Any, Dict

SKILL = {"name": "legit", "description": "exercise the language", "params": {"n": 2}}

@lru_cache(maxsize=None)
def fib(k):
    return k if k < 2 else fib(k - 1) + fib(k - 2)

def helper(values: Dict[str, Any]) -> int:
    return sum(v for v in values.values())

def act(api, n=2, **extra):
    counts = Counter("abca")
    counts["a"] += 1
    grid = defaultdict(list)
    grid[(0, 1)].append("tree")
    squares = [i * i for i in range(5)]
    lookup = {k: v for k, v in zip("xyz", squares)}
    total = 0
    for i, (a, b) in enumerate(zip(squares, reversed(squares))):
        total += a * b
    total -= 1
    queue = deque([3, 1, 2])
    heap = list(queue)
    heapq.heapify(heap)
    try:
        {}["missing"]
    except (KeyError, IndexError) as e:
        note = f"caught {e.args[0]!r} {math.sqrt(16):.1f} {total:>6}"
    print("debug", note)
    yield "noop"
    got = yield api.noop()
    yield from api.collect("wood", n)
    text = "-".join(sorted(counts))
    yield {
        "counts": dict(counts), "grid": dict(grid), "lookup": lookup, "total": total,
        "min": min(squares), "max": max(squares, key=lambda s: -s), "any": any(squares),
        "all": all(squares), "abs": abs(-3), "round": round(2.567, 2), "len": len(lookup),
        "isinstance": isinstance(total, int), "heap": heapq.heappop(heap), "fib": fib(20),
        "reduce": reduce(lambda x, y: x + y, squares), "pairs": list(itertools.combinations("ab", 2)),
        "helper": helper({"a": 1, "b": 2}), "note": note, "text": text, "got": got,
        "rand": random.randint(0, 1000), "pow": 2 ** 10 % 1000, "shift": 1 << 4,
        "percent": "%d-%s" % (3, "x"), "inv": api.inventory, "extra": extra,
    }
    return "done"
'''


def test_legitimate_skill_runs():
    api = FakeAPI()
    module = load_module(LEGIT, "legit", seed=7)
    assert module.value("SKILL")["params"] == {"n": 2}
    gen = module.start("act", api, n=3)
    assert next(gen) == "noop"
    assert next(gen) == "noop"
    assert gen.send("sent") == "do"
    assert [next(gen), next(gen)] == ["do", "do"]
    summary = next(gen)
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"
    assert summary["counts"] == {"a": 3, "b": 1, "c": 1}
    assert summary["grid"] == {(0, 1): ["tree"]}
    assert summary["total"] == 33 and summary["fib"] == 6765 and summary["got"] == "sent"
    assert summary["note"] == "caught 'missing' 4.0     33"
    assert summary["pairs"] == [("a", "b")] and summary["percent"] == "3-x"
    assert summary["inv"]["wood"] == 3 and api.inventory["wood"] == 3
    assert module.output == ["debug caught 'missing' 4.0     33"]
    # The module's random is private and seeded: same seed, same numbers.
    again = load_module(LEGIT, "legit", seed=7).start("act", FakeAPI(), n=3)
    assert [x for x in again if isinstance(x, dict)][0]["rand"] == summary["rand"]


def test_caps_apply_per_call_not_per_generator():
    source = "def act(api):\n    for i in range(5000):\n        for j in range(10):\n            pass\n        yield 'do'\n"
    gen = load_module(source, "long", limits=Limits(max_lines=100)).start("act", None)
    assert sum(1 for _ in gen) == 5000  # 5000 x ~22 lines in all, far over 100, but few per step


def test_trusted_api_calls_are_not_counted():
    class Heavy:
        __sandbox_attrs__ = frozenset({"work"})

        def work(self):
            return sum(i for i in range(100_000))

    source = "def main(api):\n    return api.work()\n"
    assert load_module(source, "light", limits=Limits(max_lines=10)).call("main", Heavy()) == 4999950000


def test_itertools_stand_ins_behave_like_itertools():
    source = (
        "import itertools\n"
        "def main():\n"
        "    return (list(itertools.islice(itertools.count(2, 3), 4)), list(itertools.accumulate([1, 2, 3])),\n"
        "            list(itertools.repeat('a', 2)), list(itertools.product('ab', repeat=2)),\n"
        "            list(itertools.islice(itertools.cycle('xy'), 3)), list(itertools.chain([1], [2])))\n"
    )
    assert load_module(source, "it").call("main") == (
        [2, 5, 8, 11], [1, 3, 6], ["a", "a"], [("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")],
        ["x", "y", "x"], [1, 2],
    )


def test_start_requires_a_generator():
    module = load_module("def act(api):\n    return 'do'\n", "plain")
    with pytest.raises(SandboxError, match="must be a generator"):
        module.start("act", None)
    with pytest.raises(SandboxError, match="no function named 'missing'"):
        module.call("missing")


class CallbackAPI:
    """A trusted API whose methods run code the skill hands them (callbacks, generators)."""

    __sandbox_attrs__ = frozenset({"call", "consume", "stubborn", "tracer_off", "steps"})

    def call(self, f, *args):
        return f(*args)

    def consume(self, iterable):
        return [x for x in iterable]

    def stubborn(self, f):
        try:  # trusted code that swallows the stop must not buy the skill more time
            f()
        except BaseException:
            pass
        return f()

    def tracer_off(self):
        return sys.gettrace() is None

    def steps(self, n):
        for _ in range(n):
            yield sys.gettrace() is None


def test_trusted_code_runs_with_no_tracer():
    source = (
        "def main(api):\n    return [api.tracer_off(), api.call(api.tracer_off)]\n"
        "def act(api):\n    seen = yield from api.steps(3)\n    yield api.tracer_off()\n"
    )
    module = load_module(source, "fast")
    assert module.call("main", CallbackAPI()) == [True, True]
    # A primitive stepped from the skill runs unmetered at every step; the skill between
    # the steps is metered again.
    assert list(module.start("act", CallbackAPI())) == [True, True, True, True]


def test_skill_code_after_a_trusted_call_is_metered():
    source = "def main(api):\n    api.tracer_off()\n    while True:\n        pass\n"
    with pytest.raises(SandboxError, match="step cap exceeded"):
        load_module(source, "after", limits=FAST).call("main", CallbackAPI())


@pytest.mark.parametrize(
    "source",
    [
        # a callback that loops
        "def spin():\n    while True:\n        pass\ndef main(api):\n    return api.call(spin)\n",
        # a generator the trusted code iterates, looping between two items
        "def gen():\n    yield 1\n    while True:\n        pass\ndef main(api):\n    return api.consume(gen())\n",
        # a generator expression whose filter never passes
        "def main(api):\n    return api.consume(x for x in range(10 ** 6) for y in range(10 ** 6) if x < 0)\n",
        # a lambda whose body runs a comprehension
        "def main(api):\n    return api.call(lambda: [x for x in range(10 ** 6) for y in range(10 ** 6) if x < 0])\n",
        # a for loop in a callback
        "def spin():\n    for x in range(10 ** 6):\n        for y in range(10 ** 6):\n            pass\n"
        "def main(api):\n    return api.call(spin)\n",
    ],
)
def test_skill_code_called_back_from_trusted_code_is_metered(source):
    started = time.perf_counter()
    with pytest.raises(SandboxError, match="step cap exceeded"):
        load_module(source, "callback", limits=FAST).call("main", CallbackAPI())
    assert time.perf_counter() - started < 5


def test_callback_lines_are_counted():
    source = (
        "def work():\n    total = 0\n    for i in range(100):\n        total += i\n    return total\n"
        "def main(api):\n    return api.call(work)\n"
    )
    assert load_module(source, "counted", limits=Limits(max_lines=1000)).call("main", CallbackAPI()) == 4950
    with pytest.raises(SandboxError, match="step cap exceeded"):
        load_module(source, "counted", limits=Limits(max_lines=150)).call("main", CallbackAPI())


def test_recursion_through_trusted_code_is_capped():
    source = "def f(api, n):\n    return api.call(f, api, n + 1)\ndef main(api):\n    return f(api, 0)\n"
    with pytest.raises(SandboxError, match="recursion deeper than 20"):
        load_module(source, "deep", limits=Limits(max_depth=20)).call("main", CallbackAPI())


def test_a_stopped_callback_cannot_run_again():
    source = (
        "hits = []\n"
        "def spin():\n    hits.append(1)\n    while True:\n        pass\n"
        "def main(api):\n    return api.stubborn(spin)\n"
        "def count():\n    return len(hits)\n"
    )
    module = load_module(source, "again", limits=FAST)
    with pytest.raises(SandboxError, match="step cap exceeded"):
        module.call("main", CallbackAPI())
    assert module.call("count") == 1  # the second call was stopped on entry
