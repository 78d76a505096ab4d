"""Prompt templates: loading, listing, rendering into chat messages, and reading them back.

A template is a Markdown file ``prompts/<name>.md`` (a file of the same name in
``<home>/prompts/`` overrides the built-in one)::

    rlgpt-prompt: slow_agent
    schema: Plan
    context: task, world, knowledge, library, feedback
    description: One line for `rlgpt prompts list`.

    --- system ---
    ...text; $task is replaced by the context's "task"...
    --- user ---
    ...

The header ends at the first blank line. ``context`` lists the keys the caller must
provide; ``$placeholders`` (``string.Template``; ``$$`` is a literal dollar, and braces in
code examples need no escaping) may name only those keys. Strings are inserted as they
are, anything else as JSON.

Optional header keys ``temperature`` and ``max_tokens`` are the request's defaults.

``render`` builds two messages; the template header is not part of them. The user message
ends with the whole context as JSON between marker lines that name the prompt, so the
offline model reads exactly what an LLM reads::

      <rlgpt-context prompt="slow_agent">
      {"task": "...", ...}
      </rlgpt-context>

``parse_messages`` recovers ``(name, context)`` from such messages.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlgpt_cli.errors import NotFound, UsageError, nearest

CONTEXT_CLOSE = "</rlgpt-context>"
HEADER_KEY = "rlgpt-prompt"
_CONTEXT_BLOCK = re.compile(
    r'<rlgpt-context(?: prompt="([A-Za-z0-9_.-]+)")?>[ \t]*\n(.*?)\n[ \t]*' + re.escape(CONTEXT_CLOSE), re.DOTALL
)
# Header keys that become the request's parameters, and their types.
_PARAMS = {"temperature": float, "max_tokens": int}
_SECTION = re.compile(r"^--- (system|user) ---[ \t]*$", re.MULTILINE)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class Prompt:
    name: str
    schema: str | None  # a name in rlgpt_cli.models.schemas.SCHEMAS, or None for free text
    description: str
    context: list[str]  # keys render() requires
    system: string.Template
    user: string.Template
    path: Path
    source: str  # "builtin" or "user"
    placeholders: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # temperature, max_tokens from the header

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema": self.schema,
            "description": self.description,
            "context": self.context,
            "placeholders": self.placeholders,
            "params": self.params,
            "source": self.source,
            "path": str(self.path),
            "system": self.system.template,
            "user": self.user.template,
        }


def _home(home: Path | None) -> Path:
    if home is not None:
        return Path(home)
    from rlgpt_cli.settings import Settings

    return Settings.resolve().home


def _dirs(home: Path | None) -> list[tuple[str, Path]]:
    """Template folders, highest precedence first."""
    from rlgpt_cli.resources import builtin_prompts_dir

    return [("user", _home(home) / "prompts"), ("builtin", builtin_prompts_dir())]


def _parse(path: Path, source: str) -> Prompt:
    def bad(why: str) -> UsageError:
        return UsageError(f"prompt template {path}: {why}")

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise bad(f"unreadable ({exc})") from exc
    head, _, body = text.partition("\n\n")
    header: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise bad(f"header line {line!r} is not 'key: value'")
        header[key.strip()] = value.strip()
    name = header.get(HEADER_KEY)
    if name != path.stem:
        raise bad(f"first header line must be '{HEADER_KEY}: {path.stem}'")

    from rlgpt_cli.models.schemas import SCHEMAS

    schema = header.get("schema") or None
    if schema is not None and schema not in SCHEMAS:
        raise bad(f"unknown schema {schema!r}{nearest(schema, SCHEMAS)}")
    context = [k.strip() for k in header.get("context", "").split(",") if k.strip()]

    parts = _SECTION.split(body)
    sections = dict(zip(parts[1::2], (p.strip("\n") for p in parts[2::2])))
    if set(sections) != {"system", "user"} or len(parts) != 5:
        raise bad("needs exactly one '--- system ---' and one '--- user ---' section")
    system, user = string.Template(sections["system"]), string.Template(sections["user"])
    placeholders: list[str] = []
    for label, template in (("system", system), ("user", user)):
        if not template.is_valid():
            raise bad(f"the {label} section has a '$' that is not a $placeholder (write $$ for a dollar)")
        placeholders += [p for p in template.get_identifiers() if p not in placeholders]
    params: dict[str, Any] = {}
    for key, kind in _PARAMS.items():
        if key in header:
            try:
                params[key] = kind(header[key])
            except ValueError:
                raise bad(f"header {key}: {header[key]!r} is not a {kind.__name__}") from None
    undeclared = [p for p in placeholders if p not in context]
    if undeclared:
        raise bad(f"placeholders {', '.join('$' + p for p in undeclared)} are not in its 'context:' header")
    return Prompt(
        name=name,
        schema=schema,
        description=header.get("description", ""),
        context=context,
        system=system,
        user=user,
        path=path,
        source=source,
        placeholders=placeholders,
        params=params,
    )


def list_prompts(home: Path | None = None) -> list[Prompt]:
    """Every template by name; a user template hides the built-in one of the same name."""
    found: dict[str, tuple[str, Path]] = {}
    for source, folder in _dirs(home):
        if folder.is_dir():
            for path in sorted(folder.glob("*.md")):
                if _NAME.match(path.stem):
                    found.setdefault(path.stem, (source, path))
    return [_parse(path, source) for _, (source, path) in sorted(found.items())]


def load_prompt(name: str, home: Path | None = None) -> Prompt:
    for source, folder in _dirs(home):
        path = folder / f"{name}.md"
        if _NAME.match(name) and path.is_file():
            return _parse(path, source)
    known = sorted({p.stem for _, folder in _dirs(home) if folder.is_dir() for p in folder.glob("*.md")})
    raise NotFound(f"no prompt named {name!r}{nearest(name, known)}")


def _json_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "tolist"):  # numpy
        return value.tolist()
    if hasattr(value, "__fspath__"):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    # Anything else would serialise with a memory address and break caching: refuse.
    raise TypeError(f"prompt context value of type {type(value).__name__} is not JSON serialisable")


def context_json(context: dict[str, Any]) -> str:
    """The context as canonical JSON: sorted keys, so equal contexts give equal prompts; one
    line per top-level key and per item of a top-level list, each line without spaces after
    separators (readable, and a fifth fewer tokens: small models have 4k contexts)."""
    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_json_default, separators=(",", ":"))

    lines = []
    for key in sorted(context):
        value = context[key]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            inner = ",\n".join(f"    {dump(v)}" for v in value)
            lines.append(f"  {dump(key)}: [\n{inner}\n  ]")
        else:
            lines.append(f"  {dump(key)}: {dump(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


def render(name: str, context: dict[str, Any], home: Path | None = None) -> list[dict[str, str]]:
    """The chat messages (system, user) for template ``name`` filled from ``context``."""
    prompt = load_prompt(name, home)
    missing = [k for k in prompt.context if k not in context]
    if missing:
        raise UsageError(
            f"prompt {name} needs context keys {', '.join(missing)} (given: {', '.join(sorted(context)) or 'none'})"
        )
    values = {
        k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False, default=_json_default)
        for k, v in context.items()
        if k in prompt.placeholders
    }
    system = prompt.system.substitute(values)
    user = (f"{prompt.user.substitute(values)}\n\n<rlgpt-context prompt=\"{name}\">\n{context_json(context)}\n"
            f"{CONTEXT_CLOSE}\n")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _text(content: Any) -> str:
    """A message's text, also for OpenAI-style lists of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def parse_messages(messages: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any] | None]:
    """Recover ``(prompt name, context)`` from rendered messages; None for what is absent.

    Both come from the last context block of a user message (a repair turn adds messages
    after it).
    """
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        blocks = _CONTEXT_BLOCK.findall(_text(message.get("content")))
        if blocks:
            name, raw = blocks[-1]
            try:
                context = json.loads(raw)
            except json.JSONDecodeError:
                context = None
            return name or None, context if isinstance(context, dict) else None
    return None, None
