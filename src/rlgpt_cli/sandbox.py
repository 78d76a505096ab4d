"""Compile and run untrusted (LLM-written) Python: code skills and reward functions.

Three layers, each enough to stop what the others might miss:

1. **Compile time.** RestrictedPython's policy (no ``_``-prefixed names or attributes, no
   frame/code/generator introspection attributes, no ``exec``/``eval``) plus our rules:
   imports only from ``ALLOWED_IMPORTS``; no classes, ``with``, ``finally``, bare
   ``except`` or catching ``BaseException``; no dangerous builtins by name (``open``,
   ``getattr``, ``type``, ...); no ``.format``/``.format_map``/``.mro`` attributes. The
   ``*``, ``**``, ``<<``, ``+`` and ``%`` operators, augmented assignments and f-string
   format specs are rewritten into size-checking helpers.
2. **Reachable objects.** The code sees a curated builtins dict, curated stand-ins for the
   allowed modules (a module-private ``random.Random``; counted, size-checked itertools)
   and objects it is handed. Attribute access goes through ``_getattr_``, which allows
   public attributes of plain data types, our stand-in modules, and objects whose class
   lists them in ``__sandbox_attrs__`` (so a world's API opts in, name by name); anything
   else (a numpy array's ``tofile``, ``api.env``) is refused. Nothing reachable opens a
   file, a socket or a process.
3. **Run time.** Every call into sandboxed code (module load, ``call``, each generator
   ``next``/``send``) runs under a :class:`Limits` meter: a ``sys.settrace`` tracer that
   counts line events in frames compiled from sandboxed source (file names starting with
   ``<skill:``), and checks wall time, call depth and peak memory. On a breach the
   tracer raises ``_Abort``, a ``BaseException`` the skill cannot name or catch: bare
   ``except``, ``BaseException`` and ``finally`` are refused at compile time, and the
   abort is sticky (any sandboxed code the same call reaches afterwards aborts again).

   Trusted code runs with no tracer at all: a world API's methods (and the generators they
   return, the primitives) reach skills wrapped so that each call and each step *lifts*
   the meter (``sys.settrace(None)``) and restores it afterwards; under any tracer CPython
   3.11 runs every frame on its slow path. Sandboxed code that trusted code calls back
   (a callback, a generator it iterates, a key function) resumes the meter itself: the
   compiler puts an entry check at the start of every function and lambda and in every
   loop iteration (``for``, ``while``, each comprehension clause), and sandboxed code
   cannot run for long without looping or calling. The check reads one shared flag and
   is the only way back to unmetered speed, and it only ever switches metering *on*.

Classes are not allowed in skills: they bring dunder methods, metaclasses and descriptors
into reach, and skills need only functions, generators, dicts and lists.
"""

from __future__ import annotations

import ast
import collections
import functools
import heapq
import itertools
import math
import operator
import random
import re
import statistics
import sys
import threading
import time
import types
import typing
from dataclasses import dataclass

from RestrictedPython import RestrictingNodeTransformer
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, copy_locations

from rlgpt_cli.errors import SandboxError

__all__ = [
    "ALLOWED_IMPORTS",
    "FILENAME_PREFIX",
    "Limits",
    "SandboxedGenerator",
    "SandboxedModule",
    "SkillRaised",
    "check_source",
    "load_module",
]

# Every code object compiled here has a file name with this prefix; the tracer counts
# only frames whose code has it.
FILENAME_PREFIX = "<skill:"

ALLOWED_IMPORTS = frozenset(
    {"math", "random", "collections", "itertools", "heapq", "functools", "statistics", "typing"}
)

# Refused by name at compile time (most are simply absent from the builtins too; naming
# them gives the model a clear reason instead of a NameError at run time).
FORBIDDEN_NAMES = frozenset(
    {
        "open", "eval", "exec", "compile", "globals", "locals", "vars", "dir", "getattr",
        "setattr", "delattr", "hasattr", "type", "object", "breakpoint", "input", "help",
        "memoryview", "super", "bytearray", "bytes", "classmethod", "staticmethod",
        "property", "exit", "quit", "BaseException", "GeneratorExit", "KeyboardInterrupt",
        "SystemExit", "__builtins__",
    }
)

# Attributes refused everywhere: string formatting reaches attributes by name
# ("{0.__class__}".format(x)), mro() reaches BaseException and object.
FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "mro"}) | INSPECT_ATTRIBUTES

_EXCEPTIONS = (
    Exception, ArithmeticError, AssertionError, AttributeError, IndexError, KeyError,
    LookupError, NameError, NotImplementedError, OverflowError, RecursionError,
    RuntimeError, StopIteration, TypeError, UnboundLocalError, ValueError,
    ZeroDivisionError,
)


@dataclass(frozen=True)
class Limits:
    """Caps applied to each call into sandboxed code (a load, a call, one next/send)."""

    max_lines: int = 200_000  # line events executed in sandboxed frames
    max_seconds: float = 2.0  # wall time of the call, including trusted code it calls
    max_depth: int = 100  # nested sandboxed frames (kept well under Python's recursion limit)
    max_items: int = 1_000_000  # length of one string, list, tuple, range or deque
    max_int_bits: int = 100_000  # size of one integer
    max_memory_mb: int = 512  # growth of the process's peak memory during the call
    max_format_width: int = 1000  # width or precision in a format spec


DEFAULT_LIMITS = Limits()


class SkillRaised(SandboxError):
    """Sandboxed code raised an ordinary exception (a bug in the skill, not a breach)."""

    def __init__(self, message: str, exc_type: str, lineno: int | None):
        super().__init__(message)
        self.exc_type = exc_type
        self.lineno = lineno


class _Abort(BaseException):
    """Raised by the meter into sandboxed code. Not an Exception subclass, and skills can
    neither name it nor catch it, so it unwinds straight out to the caller."""


# ---------------------------------------------------------------------------------------
# Compile time


_GUARDED_BINOPS = {
    ast.Add: "_rl_add_",
    ast.Mult: "_rl_mul_",
    ast.Pow: "_rl_pow_",
    ast.LShift: "_rl_lshift_",
    ast.Mod: "_rl_mod_",
}
_AUGOPS = {
    ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/=", ast.FloorDiv: "//=",
    ast.Mod: "%=", ast.Pow: "**=", ast.LShift: "<<=", ast.RShift: ">>=", ast.BitAnd: "&=",
    ast.BitOr: "|=", ast.BitXor: "^=", ast.MatMult: "@=",
}


def _call(name: str, args: list, like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, like)
    copy_locations(node.func, like)
    return node


def _entry_test(like: ast.AST) -> ast.expr:
    """``_rl_lifted_[0] and _rl_enter_()``: falsy, after resuming a lifted meter."""
    lifted = ast.Subscript(ast.Name("_rl_lifted_", ast.Load()), ast.Constant(0), ast.Load())
    test = ast.BoolOp(ast.And(), [lifted, _call("_rl_enter_", [], like)])
    for node in ast.walk(test):
        if "lineno" in node._attributes:
            copy_locations(node, like)
    return test


def _entry_check(like: ast.AST) -> ast.stmt:
    stmt = ast.Expr(_entry_test(like))
    copy_locations(stmt, like)
    return stmt


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus our rules and rewrites (see the module docstring)."""

    def visit_Import(self, node):
        for alias in node.names:
            self._check_module(node, alias.name)
        return super().visit_Import(node)

    def visit_ImportFrom(self, node):
        if node.level:
            self.error(node, "relative imports are not allowed")
        else:
            self._check_module(node, node.module or "")
        return super().visit_ImportFrom(node)

    def _check_module(self, node, name):
        if name not in ALLOWED_IMPORTS:
            allowed = ", ".join(sorted(ALLOWED_IMPORTS))
            self.error(node, f'importing "{name}" is not allowed (allowed: {allowed})')

    def visit_Name(self, node):
        if node.id in FORBIDDEN_NAMES:
            self.error(node, f'"{node.id}" is not available in skills')
        return super().visit_Name(node)

    def visit_Attribute(self, node):
        if node.attr in ("format", "format_map"):
            self.error(node, f'".{node.attr}" is not allowed in skills (use f-strings)')
        elif node.attr == "mro":
            self.error(node, '".mro" is not allowed in skills')
        return super().visit_Attribute(node)

    def visit_ClassDef(self, node):
        self.error(node, "classes are not allowed in skills; use functions and dicts")
        return node

    def visit_With(self, node):
        self.error(node, '"with" is not allowed in skills')
        return node

    def visit_Try(self, node):
        if node.finalbody:
            self.error(node, '"finally" is not allowed in skills')
        for handler in node.handlers:
            if handler.type is None:
                self.error(handler, 'bare "except:" is not allowed; catch Exception')
            else:
                names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                if not all(isinstance(n, ast.Name) for n in names):
                    self.error(handler, "except clauses may only name exception classes")
        return super().visit_Try(node)

    # Entry checks (see the module docstring and _Meter.resume): every function entry and every loop
    # iteration first asks whether the meter is lifted, and resumes it if so. Sandboxed code
    # cannot run unboundedly without a loop or a call, so none runs unmetered.

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _entry_check(node.body[0]))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        node.body = ast.BoolOp(ast.Or(), [_entry_test(node.body), node.body])
        copy_locations(node.body, node)
        return node

    def visit_comprehension(self, node):
        node = super().visit_comprehension(node)
        node.ifs.insert(0, ast.UnaryOp(ast.Not(), _entry_test(node.target)))
        copy_locations(node.ifs[0], node.target)
        return node

    def visit_For(self, node):
        node = super().visit_For(node)
        node.body.insert(0, _entry_check(node))
        return node

    def visit_While(self, node):
        # The check also gives `while True: pass`, which compiles to a jump onto itself
        # that CPython never reports as a line event, a first instruction to jump back to.
        node = super().visit_While(node)
        node.body.insert(0, _entry_check(node))
        return node

    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        helper = _GUARDED_BINOPS.get(type(node.op))
        if helper is None:
            return node
        return _call(helper, [node.left, node.right], node)

    def visit_AugAssign(self, node):
        # RestrictedPython refuses `counts[k] += 1`, which models write all the time:
        # rewrite it to one call that reads, combines (size-checked) and writes the item.
        if isinstance(node.target, ast.Subscript):
            target = node.target
            obj = self.visit(target.value)
            key = self.visit(target.slice)
            value = self.visit(node.value)
            op = ast.Constant(_AUGOPS[type(node.op)])
            stmt = ast.Expr(_call("_rl_augitem_", [obj, key, op, value], node))
            copy_locations(stmt, node)
            return stmt
        return super().visit_AugAssign(node)

    def visit_FormattedValue(self, node):
        # f"{x:>{n}}" can ask for a gigabyte of padding: route specs through a checker.
        node = super().visit_FormattedValue(node)
        if node.format_spec is None:
            return node
        conversion = chr(node.conversion) if node.conversion != -1 else ""
        checked = _call("_rl_format_", [node.value, ast.Constant(conversion), node.format_spec], node)
        new = ast.FormattedValue(value=checked, conversion=-1, format_spec=None)
        copy_locations(new, node)
        return new


def _compile(source: str, filename: str) -> tuple[types.CodeType | None, list[str]]:
    try:
        tree = ast.parse(source, filename, "exec")
    except SyntaxError as exc:
        return None, [f"Line {exc.lineno}: SyntaxError: {exc.msg}"]
    errors: list[str] = []
    _Policy(errors, [], {}).visit(tree)
    if errors:
        return None, errors
    try:
        return compile(tree, filename, "exec"), []
    except (SyntaxError, ValueError) as exc:  # e.g. `yield` outside a function
        return None, [f"Line {getattr(exc, 'lineno', '?')}: {type(exc).__name__}: {exc}"]


def check_source(source: str, filename: str = "<skill:check>") -> list[str]:
    """Reasons the source would be refused (one line each); empty when it is acceptable."""
    return _compile(source, _filename(filename))[1]


def _filename(name: str) -> str:
    return name if name.startswith(FILENAME_PREFIX) else f"{FILENAME_PREFIX}{name}>"


# ---------------------------------------------------------------------------------------
# Run time: the meter


try:
    import resource

    def _peak_rss_mb() -> float:
        # ru_maxrss is in KiB on Linux, bytes on macOS.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024

except ImportError:  # Windows: no cheap peak-memory reading; size caps still apply

    def _peak_rss_mb() -> float:
        return 0.0


class _Meter:
    """Runs one call with the tracer installed; see the module docstring."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.lifted = False
        self.aborted: str | None = None

    def run(self, func, *args, **kwargs):
        limits = self.limits
        self.max_lines = limits.max_lines
        self.lines = 0
        self.depth = 0
        self.aborted = None
        self.deadline = time.perf_counter() + limits.max_seconds
        self.memory_ceiling = _peak_rss_mb() + limits.max_memory_mb
        meters = _meters()
        meters.append(self)
        was_lifted = self.lifted
        self._set_lifted(False)
        previous = sys.gettrace()
        sys.settrace(self._on_call)
        try:
            return func(*args, **kwargs)
        finally:
            sys.settrace(previous)
            self._set_lifted(was_lifted)
            meters.pop()

    def _abort(self, reason: str):
        # Sticky: from now on every sandboxed line, call and entry check of this run aborts
        # again (CPython drops the tracer when it raises; the entry checks still fire).
        self.aborted = reason
        self.max_lines = -1
        self._set_lifted(True)
        raise _Abort(reason)

    def _on_call(self, frame, event, arg):
        if not frame.f_code.co_filename.startswith(FILENAME_PREFIX):
            return None  # trusted code: no line events
        self.depth += 1
        if self.depth > self.limits.max_depth:
            self._abort(f"recursion deeper than {self.limits.max_depth} calls")
        self._on_event(frame, "line", None)
        return self._on_event

    def _on_event(self, frame, event, arg):
        # Inlined checks: this runs for every line of sandboxed code.
        if event == "line":
            self.lines = lines = self.lines + 1
            if lines > self.max_lines:
                self._abort(self.aborted or f"step cap exceeded ({self.limits.max_lines} lines in one call)")
            if not lines & 15:
                # Clock and memory every 16 lines: the size caps bound what one line can
                # do in C, so 16 lines cannot overshoot by much.
                if time.perf_counter() > self.deadline:
                    self._abort(f"time cap exceeded ({self.limits.max_seconds:g} s in one call)")
                if _peak_rss_mb() > self.memory_ceiling:
                    self._abort(f"memory cap exceeded ({self.limits.max_memory_mb} MB in one call)")
        elif event == "return":
            self.depth -= 1
            # Counted frames, and only they, carry our tracer (resume() relies on it); a
            # generator frame that yields is counted again when it is resumed.
            frame.f_trace = None
        return self._on_event

    # Lifting: trusted world code runs with no tracer at all (under any tracer CPython 3.11
    # runs every frame on its slow path, doubling the cost of path-finding), and sandboxed
    # code entered meanwhile resumes the meter through its entry checks.

    def _set_lifted(self, lifted: bool) -> None:
        if lifted != self.lifted:
            with _LIFTED_LOCK:
                _LIFTED[0] += 1 if lifted else -1
            self.lifted = lifted

    def lift(self) -> tuple:
        """Switch metering off for a trusted call; returns what :meth:`restore` needs."""
        saved = (sys.gettrace(), self.lifted)
        sys.settrace(None)
        self._set_lifted(True)
        return saved

    def restore(self, saved: tuple) -> None:
        tracer, lifted = saved
        self._set_lifted(lifted or self.aborted is not None)
        sys.settrace(tracer)

    def resume(self, frame) -> None:
        """Sandboxed code reached an entry check while lifted: count the sandboxed frames
        entered since the lift (they have no tracer yet), and meter again."""
        if self.aborted is not None:
            raise _Abort(self.aborted)
        self._set_lifted(False)
        while frame is not None:
            if frame.f_code.co_filename.startswith(FILENAME_PREFIX):
                if frame.f_trace is not None:
                    break  # counted before the lift, and so is everything above it
                frame.f_trace = self._on_event
                self.depth += 1
            frame = frame.f_back
        sys.settrace(self._on_call)
        if self.depth > self.limits.max_depth:
            self._abort(f"recursion deeper than {self.limits.max_depth} calls")


# How many meters are lifted right now (any thread): the entry checks read this one item,
# so code that is being metered pays one list lookup per loop iteration and call.
_LIFTED = [0]
_LIFTED_LOCK = threading.Lock()
_THREAD = threading.local()


def _meters() -> list[_Meter]:
    """This thread's meters, innermost last (a trusted call may run another module)."""
    try:
        return _THREAD.meters
    except AttributeError:
        _THREAD.meters = []
        return _THREAD.meters


def _enter() -> None:
    """``_rl_enter_``: an entry check found some meter lifted; resume this thread's."""
    meters = _meters()
    if meters and meters[-1].lifted:
        meters[-1].resume(sys._getframe(1))


def _lifted_call(func, *args, **kwargs):
    meters = _meters()
    if not meters:
        return func(*args, **kwargs)
    meter = meters[-1]
    saved = meter.lift()
    try:
        return func(*args, **kwargs)
    finally:
        meter.restore(saved)


class _TrustedCall:
    """A trusted world API method as sandboxed code gets it: it runs with the meter lifted,
    and a generator it returns (a primitive) runs lifted at every step too."""

    __slots__ = ("_func",)

    def __init__(self, func):
        self._func = func

    def __call__(self, *args, **kwargs):
        result = _lifted_call(self._func, *args, **kwargs)
        return _TrustedGenerator(result) if isinstance(result, _GENERATOR) else result


class _TrustedGenerator:
    """A trusted generator stepped from sandboxed code (``yield from api.collect(...)``)."""

    __slots__ = ("_gen",)

    def __init__(self, gen):
        self._gen = gen

    def __iter__(self):
        return self

    def __next__(self):
        return _lifted_call(self._gen.send, None)

    def send(self, value):
        return _lifted_call(self._gen.send, value)

    def throw(self, *args):
        return _lifted_call(self._gen.throw, *args)

    def close(self):
        return _lifted_call(self._gen.close)


# ---------------------------------------------------------------------------------------
# Run time: guards and the restricted environment


def _too_big(what: str) -> SandboxError:
    return SandboxError(f"{what} is too large for a skill")


_SEQUENCES = (str, bytes, list, tuple, collections.deque)


class _Guards:
    """The size-checking helpers the compiled code calls, bound to one module's limits."""

    def __init__(self, limits: Limits):
        self.limits = limits

    def items(self, n: int, what: str = "result") -> None:
        if n > self.limits.max_items:
            raise _too_big(f"{what} of {n} items")

    def int_bits(self, bits: int) -> None:
        if bits > self.limits.max_int_bits:
            raise _too_big(f"integer of about {bits} bits")

    def add(self, a, b):
        if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
            self.items(len(a) + len(b))
        return a + b

    def mul(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            self.int_bits(a.bit_length() + b.bit_length())
        elif isinstance(a, _SEQUENCES) and isinstance(b, int):
            self.items(len(a) * b)
        elif isinstance(b, _SEQUENCES) and isinstance(a, int):
            self.items(len(b) * a)
        return a * b

    def pow(self, a, b, mod=None):
        if mod is not None:
            return pow(a, b, mod)  # modular: result smaller than mod
        if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
            self.int_bits(b * a.bit_length())
        return a**b

    def lshift(self, a, b):
        if isinstance(a, int) and isinstance(b, int) and a:
            self.int_bits(a.bit_length() + b)
        return a << b

    _PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")

    def mod(self, a, b):
        if isinstance(a, (str, bytes)):
            text = a.decode("latin-1") if isinstance(a, bytes) else a
            for width, precision in self._PERCENT_SPEC.findall(text):
                for number in (width, precision):
                    if number == "*" or (number and int(number) > self.limits.max_format_width):
                        raise _too_big("%-format width")
        return a % b

    def format(self, value, conversion: str, spec: str) -> str:
        for number in re.findall(r"\d+", spec):
            if int(number) > self.limits.max_format_width:
                raise _too_big(f"format width {number}")
        if conversion:
            value = {"r": repr, "s": str, "a": ascii}[conversion](value)
        return format(value, spec)

    def inplace(self, op: str, x, y):
        if type(x) in _NUMBERS and type(y) in _NUMBERS and op in _CHEAP_IOPS:
            return _IOPS[op](x, y)  # the common `n += 1`: no size to check
        guarded = {"+=": self.add, "*=": self.mul, "**=": self.pow, "<<=": self.lshift, "%=": self.mod}
        if op in guarded:
            if op in ("+=", "*=") and isinstance(x, (list, collections.deque)):
                guarded[op](x, y)  # size check only: lists keep in-place semantics
                return _IOPS[op](x, y)
            return guarded[op](x, y)
        return _IOPS[op](x, y)

    def augitem(self, obj, key, op: str, value):
        _write(obj)[key] = self.inplace(op, obj[key], value)

    def range(self, *args):
        try:
            r = range(*args)
            n = len(r)
        except OverflowError:
            raise _too_big("range") from None
        self.items(n, "range")
        return r

    def round(self, number, ndigits=None):
        if ndigits is not None and abs(ndigits) > self.limits.max_format_width:
            raise _too_big("round() precision")
        return round(number, ndigits) if ndigits is not None else round(number)

    def sum(self, iterable, start=0):
        if not isinstance(start, (int, float)):
            raise TypeError("sum() in skills adds numbers only")
        return sum(iterable, start)

    def join(self, sep):
        def join(iterable):
            parts = list(iterable)
            size = sum(len(p) for p in parts if isinstance(p, (str, bytes))) + len(sep) * len(parts)
            self.items(size, "joined string")
            return sep.join(parts)

        return join

    def replace(self, s):
        def replace(old, new, count=-1):
            n = s.count(old) if count < 0 else min(count, s.count(old))
            self.items(len(s) + n * (len(new) - len(old)), "string")
            return s.replace(old, new, count)

        return replace

    def pad(self, s, name):
        method = getattr(s, name)

        def pad(width, *args):
            self.items(width, "padded string")
            return method(width, *args)

        return pad

    def expandtabs(self, s):
        def expandtabs(tabsize=8):
            self.items(len(s) + s.count("\t" if isinstance(s, str) else b"\t") * tabsize, "string")
            return s.expandtabs(tabsize)

        return expandtabs

    def extend(self, seq, name):
        method = getattr(seq, name)

        def extend(iterable):
            items = list(iterable)
            self.items(len(seq) + len(items), "sequence")
            return method(items)

        return extend


_NUMBERS = frozenset({int, float, bool})
_CHEAP_IOPS = frozenset({"+=", "-=", "/=", "//="})
_IOPS = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand,
    "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}

_DICT_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))
_DATA_TYPES = (
    str, bytes, int, float, bool, complex, list, tuple, dict, set, frozenset, range, slice,
    collections.deque,
) + _DICT_VIEWS
_GENERATOR = types.GeneratorType
# What runs Python frames when called (C functions run at full speed under the tracer anyway).
_PYTHON_CALLABLES = (types.MethodType, types.FunctionType)
# Methods that return something much bigger than their inputs, or hand out raw bytes.
_BLOCKED = {
    str: {"translate", "maketrans", "encode"},
    bytes: {"translate", "maketrans", "decode"},
    int: {"to_bytes"},
    collections.Counter: {"elements"},
}
_EXPOSED_TYPES = frozenset(
    {bool, int, float, str, list, tuple, dict, set, frozenset, slice, collections.deque,
     collections.Counter, collections.defaultdict, collections.OrderedDict}
) | frozenset(_EXCEPTIONS)
# numpy arrays and scalars a world may hand over: read-only, bounded-size methods only.
_NUMPY_ATTRS = frozenset(
    {"shape", "ndim", "size", "tolist", "item", "sum", "min", "max", "any", "all",
     "argmax", "argmin", "mean", "copy", "flatten"}
)


def _write(obj):
    """Item assignment is allowed on lists and dicts (and their kin); nothing else."""
    if isinstance(obj, (list, dict, collections.deque)):
        return obj
    raise TypeError(f"skills may not assign to {type(obj).__name__} objects")


def _make_getattr(guards: _Guards, modules: frozenset[int]):
    # The decision depends only on (type, name) for everything but modules and classes,
    # so it is cached: attribute access is the most frequent guarded operation.
    rules: dict = {}

    def guarded_getattr(obj, name):
        if not isinstance(name, str) or name.startswith("_") or name in FORBIDDEN_ATTRIBUTES:
            raise AttributeError(f'"{name}" is not accessible from skills')
        cls = type(obj)
        rule = rules.get((cls, name))
        if rule is None:
            rule = rules[(cls, name)] = _attribute_rule(cls, name)
        if rule is _PLAIN:
            return getattr(obj, name)
        if rule is _TRUSTED:  # a world API's attribute: its methods run with the meter lifted
            value = getattr(obj, name)
            return _TrustedCall(value) if isinstance(value, _PYTHON_CALLABLES) else value
        if rule is _MODULE:
            if id(obj) not in modules:
                raise AttributeError("modules other than the allowed imports are not accessible")
            return getattr(obj, name)
        if rule is _CLASS:
            if obj not in _EXPOSED_TYPES or name in _GUARDED_METHODS or name in _blocked_names(obj):
                raise AttributeError(f'"{getattr(obj, "__name__", "?")}.{name}" is not accessible from skills')
            return getattr(obj, name)
        if isinstance(rule, str):
            raise AttributeError(rule)
        return rule(guards, obj, name)

    return guarded_getattr


_PLAIN, _MODULE, _CLASS, _TRUSTED = object(), object(), object(), object()
# Methods of strings and sequences that can grow a result far beyond their inputs.
_GUARDED_METHODS = {
    "join": lambda g, obj, name: g.join(obj),
    "replace": lambda g, obj, name: g.replace(obj),
    "ljust": _Guards.pad, "rjust": _Guards.pad, "center": _Guards.pad, "zfill": _Guards.pad,
    "expandtabs": lambda g, obj, name: g.expandtabs(obj),
    "extend": _Guards.extend, "extendleft": _Guards.extend,
}


def _attribute_rule(cls, name: str):
    """What `obj.name` does for objects of type ``cls``: plain access, a guarded wrapper,
    a module or class check, or (a string) the reason it is refused."""
    refused = f'"{cls.__name__}.{name}" is not accessible from skills'
    if issubclass(cls, types.ModuleType):
        return _MODULE
    if issubclass(cls, type):
        return _CLASS
    if issubclass(cls, BaseException):
        return _PLAIN if name in ("args", "value") else refused
    if issubclass(cls, _GENERATOR):
        return _PLAIN if name in ("send", "close", "throw") else refused
    if issubclass(cls, _DATA_TYPES):
        if name in _blocked_names(cls):
            return refused
        if name in _GUARDED_METHODS and hasattr(cls, name):
            return _GUARDED_METHODS[name]
        return _PLAIN
    if issubclass(cls, _TrustedGenerator):
        return _PLAIN if name in ("send", "close", "throw") else refused
    allowed = getattr(cls, "__sandbox_attrs__", None)
    if allowed is not None:
        return _TRUSTED if name in allowed else refused
    if cls.__module__ == "numpy":
        return _PLAIN if name in _NUMPY_ATTRS else refused
    return refused


def _blocked_names(cls) -> set[str]:
    blocked: set[str] = set()
    for base, names in _BLOCKED.items():
        if issubclass(cls, base):
            blocked |= names
    return blocked


# Counted stand-ins for itertools and friends: compiled as sandboxed code so the meter
# counts every item they produce (a C-level `list(itertools.count())` would never stop).
_STDLIB_SOURCE = '''
def count(start=0, step=1):
    n = start
    while True:
        yield n
        n += step

def cycle(iterable):
    saved = list(iterable)
    while saved:
        for element in saved:
            yield element

def repeat(obj, times=None):
    if times is None:
        while True:
            yield obj
    for i in range(times):
        yield obj

def product(*iterables, repeat=1):
    pools = [tuple(pool) for pool in iterables]
    range(sum([len(pool) for pool in pools]) * repeat)
    for item in real_product(*pools, repeat=repeat):
        yield item

def permutations(iterable, r=None):
    for item in real_permutations(tuple(iterable), r):
        yield item

def combinations(iterable, r):
    for item in real_combinations(tuple(iterable), r):
        yield item

def combinations_with_replacement(iterable, r):
    for item in real_combinations_with_replacement(tuple(iterable), r):
        yield item

def accumulate(iterable, func=None, initial=None):
    iterator = iter(iterable)
    total = initial
    if initial is None:
        for total in iterator:
            break
        else:
            return
    yield total
    for element in iterator:
        total = total + element if func is None else func(total, element)
        yield total

def tee(iterable, n=2):
    return real_tee(iterable, len(range(n)))

def choices(population, weights=None, cum_weights=None, k=1):
    return rng_choices(population, weights, cum_weights=cum_weights, k=len(range(k)))

def getrandbits(k):
    if k > 4096:
        raise ValueError("getrandbits() is limited to 4096 bits in skills")
    return rng_getrandbits(k)

def factorial(n):
    if n > 2000:
        raise ValueError("factorial() is limited to n <= 2000 in skills")
    return real_factorial(n)

def comb(n, k):
    if n > 10000:
        raise ValueError("comb() is limited to n <= 10000 in skills")
    return real_comb(n, k)

def perm(n, k=None):
    if n > 2000:
        raise ValueError("perm() is limited to n <= 2000 in skills")
    return real_perm(n, k)

def prod(iterable, start=1):
    total = start
    for element in iterable:
        total = total * element
    return total
'''


@functools.cache
def _stdlib_code() -> types.CodeType:
    code, errors = _compile(_STDLIB_SOURCE, f"{FILENAME_PREFIX}stdlib>")
    assert code is not None, errors
    return code


def _module(name: str, attrs: dict) -> types.ModuleType:
    # A distinct __name__ so `from collections import abc` cannot fall back to sys.modules.
    mod = types.ModuleType(f"rlgpt-sandbox.{name}")
    mod.__dict__.update(attrs)
    return mod


def _public(mod, names) -> dict:
    return {n: getattr(mod, n) for n in names}


def _build_modules(lib: dict, rng: random.Random) -> dict[str, types.ModuleType]:
    capped_math = ("factorial", "comb", "perm", "prod")
    math_names = [n for n in dir(math) if not n.startswith("_") and n not in capped_math]
    return {
        "math": _module("math", {**_public(math, math_names), **{n: lib[n] for n in capped_math}}),
        "random": _module(
            "random",
            {
                **{n: getattr(rng, n) for n in (
                    "random", "uniform", "randint", "randrange", "choice", "shuffle", "sample",
                    "gauss", "normalvariate", "triangular", "betavariate", "expovariate", "seed",
                )},
                "choices": lib["choices"],
                "getrandbits": lib["getrandbits"],
            },
        ),
        "collections": _module(
            "collections",
            _public(collections, ["deque", "Counter", "defaultdict", "OrderedDict"]),
        ),
        "itertools": _module(
            "itertools",
            {
                **_public(itertools, [
                    "chain", "compress", "dropwhile", "filterfalse", "groupby", "islice",
                    "pairwise", "starmap", "takewhile", "zip_longest",
                ]),
                **{n: lib[n] for n in (
                    "count", "cycle", "repeat", "product", "permutations", "combinations",
                    "combinations_with_replacement", "accumulate", "tee",
                )},
            },
        ),
        "heapq": _module("heapq", _public(heapq, [
            "heappush", "heappop", "heapify", "heapreplace", "heappushpop", "nlargest",
            "nsmallest", "merge",
        ])),
        "functools": _module(
            "functools", _public(functools, ["reduce", "partial", "lru_cache", "cache", "cmp_to_key"])
        ),
        "statistics": _module("statistics", _public(statistics, [
            "mean", "fmean", "median", "median_low", "median_high", "mode", "multimode",
            "stdev", "pstdev", "variance", "pvariance",
        ])),
        "typing": _module("typing", _public(typing, [
            "Any", "Callable", "Dict", "Generator", "Iterable", "Iterator", "List", "Mapping",
            "Optional", "Sequence", "Set", "Tuple", "Union",
        ])),
    }


def _printer(output: list[str], max_lines: int = 200, max_chars: int = 2000):
    """RestrictedPython's `print` hook, collecting (bounded) output on the module."""

    class Printer:
        def __init__(self, _getattr_=None):
            pass

        def __call__(self):
            return "\n".join(output)

        def _call_print(self, *objects, sep=" ", end="\n", file=None, flush=False):
            output.append((str(sep).join(str(o) for o in objects))[:max_chars])
            del output[:-max_lines]

    return Printer


def _iter(obj):
    # One-argument iter() only: iter(callable, sentinel) loops in C, out of the meter's reach.
    return iter(obj)


def _apply(func, *args, **kwargs):
    return func(*args, **kwargs)


def _environment(name: str, limits: Limits, seed: int | None, output: list[str]) -> dict:
    guards = _Guards(limits)
    rng = random.Random(seed)
    safe = {
        "True": True, "False": False, "None": None,
        "abs": abs, "all": all, "any": any, "bin": bin, "bool": bool, "callable": callable,
        "chr": chr, "dict": dict, "divmod": divmod, "enumerate": enumerate, "filter": filter,
        "float": float, "frozenset": frozenset, "hash": hash, "hex": hex, "int": int,
        "isinstance": isinstance, "issubclass": issubclass, "iter": _iter, "len": len,
        "list": list, "map": map, "max": max, "min": min, "next": next, "oct": oct, "ord": ord,
        "pow": guards.pow, "range": guards.range, "repr": repr, "reversed": reversed,
        "round": guards.round, "set": set, "slice": slice, "sorted": sorted, "str": str,
        "sum": guards.sum, "tuple": tuple, "zip": zip,
    }
    safe.update({exc.__name__: exc for exc in _EXCEPTIONS})
    env: dict = {
        "__builtins__": safe,
        "__name__": f"skill_{name}",
        "_getiter_": iter,
        "_getitem_": operator.getitem,
        "_write_": _write,
        "_apply_": _apply,
        "_print_": _printer(output),
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": guards.inplace,
        "_rl_add_": guards.add,
        "_rl_mul_": guards.mul,
        "_rl_pow_": guards.pow,
        "_rl_lshift_": guards.lshift,
        "_rl_mod_": guards.mod,
        "_rl_format_": guards.format,
        "_rl_augitem_": guards.augitem,
        "_rl_lifted_": _LIFTED,
        "_rl_enter_": _enter,
    }
    # The counted stand-ins run under the same guards, in their own namespace.
    lib = dict(env)
    lib.update(
        rng_choices=rng.choices,
        rng_getrandbits=rng.getrandbits,
        real_product=itertools.product,
        real_permutations=itertools.permutations,
        real_combinations=itertools.combinations,
        real_combinations_with_replacement=itertools.combinations_with_replacement,
        real_tee=itertools.tee,
        real_factorial=math.factorial,
        real_comb=math.comb,
        real_perm=math.perm,
    )
    exec(_stdlib_code(), lib)
    modules = _build_modules(lib, rng)
    env["_getattr_"] = _make_getattr(guards, frozenset(id(m) for m in modules.values()))
    lib["_getattr_"] = env["_getattr_"]

    def guarded_import(module, globals=None, locals=None, fromlist=(), level=0):
        if level or module not in modules:
            raise ImportError(f'importing "{module}" is not allowed in skills')
        return modules[module]

    safe["__import__"] = guarded_import
    return env


# ---------------------------------------------------------------------------------------
# Public API


class SandboxedModule:
    """A compiled, loaded piece of untrusted code. Call into it only through its methods,
    which apply the limits; never call the functions it defines directly."""

    def __init__(self, name: str, code: types.CodeType, limits: Limits, seed: int | None,
                 functions: dict | None = None):
        self.name = name
        self.filename = code.co_filename
        self.limits = limits
        self.output: list[str] = []  # what the code printed (last lines only)
        self._globals = _environment(name, limits, seed, self.output)
        # Trusted callables offered by name (public names only: the policy refuses the rest).
        self._globals.update({k: v for k, v in (functions or {}).items() if not k.startswith("_")})
        self._meter = _Meter(limits)
        self._run(exec, code, self._globals)

    def has(self, name: str) -> bool:
        return callable(self._globals.get(name)) and not name.startswith("_")

    def value(self, name: str, default=None):
        """A module-level value (data, such as a SKILL dict), not a function to call."""
        value = self._globals.get(name, default)
        if callable(value):
            raise SandboxError(f"{self.name}: {name} is a function; use call() or start()")
        return value

    def call(self, function: str, *args, **kwargs):
        """Call a plain function defined by the code, under the limits."""
        return self._run(self._function(function), *args, **kwargs)

    def start(self, function: str, *args, **kwargs) -> "SandboxedGenerator":
        """Call a generator function (like a skill's ``act``); step it with next()/send()."""
        gen = self._run(self._function(function), *args, **kwargs)
        if not isinstance(gen, (types.GeneratorType, _TrustedGenerator)):
            raise SandboxError(f"{self.name}: {function}() must be a generator (use yield)")
        return SandboxedGenerator(self, gen)

    def _function(self, name: str):
        if not self.has(name):
            raise SandboxError(f"{self.name}: no function named {name!r}")
        return self._globals[name]

    def _run(self, func, *args, **kwargs):
        try:
            return self._meter.run(func, *args, **kwargs)
        except _Abort as exc:
            raise SandboxError(f"{self.name}: stopped: {exc}") from None
        except SandboxError as exc:
            raise SandboxError(f"{self.name}: stopped: {exc.message}") from None
        except (StopIteration, GeneratorExit):
            raise
        except Exception as exc:
            raise _raised(self.name, self.filename, exc) from exc


def _raised(name: str, filename: str, exc: BaseException) -> SkillRaised:
    lineno = None  # the innermost line of the skill's own file
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    where = f" (line {lineno})" if lineno else ""
    return SkillRaised(f"{name}: {type(exc).__name__}: {exc}{where}", type(exc).__name__, lineno)


class SandboxedGenerator:
    """A running sandboxed generator; each next()/send() runs under the module's limits.

    After the code is stopped or raises, the generator is finished: further calls raise
    StopIteration.
    """

    def __init__(self, module: SandboxedModule, gen: types.GeneratorType):
        self._module = module
        self._gen: types.GeneratorType | None = gen

    def __iter__(self):
        return self

    def __next__(self):
        return self.send(None)

    def send(self, value):
        if self._gen is None:
            raise StopIteration
        try:
            return self._module._run(self._gen.send, value)
        except BaseException:
            self._gen = None
            raise

    def close(self) -> None:
        # Closing throws GeneratorExit into the generator; it can run no `finally`, but it
        # is still sandboxed code, so it runs metered.
        if self._gen is not None:
            gen, self._gen = self._gen, None
            try:
                self._module._run(gen.close)
            except SandboxError:
                pass


def load_module(
    source: str,
    name: str,
    limits: Limits | None = None,
    seed: int | None = None,
    functions: dict | None = None,
) -> SandboxedModule:
    """Compile (refusing with SandboxError listing the reasons) and run the module body.

    ``seed`` seeds the module's private ``random``; ``None`` seeds it from the OS.
    ``functions`` are trusted callables the code may call by name.
    """
    code, errors = _compile(source, _filename(name))
    if errors:
        raise SandboxError(f"{name} refused by the sandbox: {'; '.join(errors)}")
    return SandboxedModule(name, code, limits or DEFAULT_LIMITS, seed, functions)
