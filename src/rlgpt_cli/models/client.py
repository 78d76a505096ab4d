"""Every model call rlgpt makes goes through ``ModelClient``, and through litellm (except the
built-in offline model's, which rlgpt answers itself: see ``offline_provider``).

It adds what litellm leaves to the caller: retries with backoff on transient faults,
structured answers validated against a pydantic schema (with repair turns), a disk cache,
cost and call budgets, and a record of every call in the run store.

litellm is imported on the first call, never at import time (it takes seconds).
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from rlgpt_cli.errors import BudgetExceeded, ModelError, RlgptError
from rlgpt_cli.models.cache import DiskCache, cache_key
from rlgpt_cli.models.offline_provider import PROVIDER
from rlgpt_cli.models.offline_provider import answer as offline_answer
from rlgpt_cli.models.offline_provider import usage as offline_usage
from rlgpt_cli.settings import OLLAMA_PREFIXES

if TYPE_CHECKING:
    from pydantic import BaseModel

    from rlgpt_cli.settings import Settings
    from rlgpt_cli.store import Store

_FENCED_JSON = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)
_FENCED_PYTHON = re.compile(r"```(?:python|py|Python)[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)
# litellm prefixes its messages with its own class names; users need the provider's words.
_LITELLM_PREFIX = re.compile(r"^(litellm\.\w+:\s*)?(\w+Error:\s*)?(\w+Exception\s*-\s*)?")
BACKOFF_CAP_S = 30.0


@dataclass
class ModelResult:
    model: str
    text: str
    parsed: "BaseModel | None"
    cached: bool
    cost_usd: float
    tokens_in: int
    tokens_out: int
    latency_s: float


@dataclass
class _Reply:
    text: str
    cost_usd: float
    tokens_in: int
    tokens_out: int
    latency_s: float
    served_model: str | None = None  # the model the provider says answered
    messages: list[dict[str, Any]] | None = None  # what was sent, for the run store


class InvalidAnswer(ValueError):
    """The answer is not JSON, or not JSON the schema accepts."""


def parse_structured(text: str, schema: "type[BaseModel]") -> "BaseModel":
    """The schema instance in ``text``: plain JSON, a ```json fence, or the outermost {...}.

    For a schema with a ``code_field`` (code skills, reward code), the code may instead be in
    a ```python block beside the JSON, or be the whole answer.
    """
    from pydantic import ValidationError

    fenced = [m.strip() for m in _FENCED_JSON.findall(text)]
    candidates = [("the answer", text.strip()), *(("its ```json block", f) for f in fenced)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(("its {...} part", text[start : end + 1]))
    code_field = getattr(schema, "code_field", None)
    code = next((m.strip("\n") for m in _FENCED_PYTHON.findall(text)), None) if code_field else None
    data, first_error = None, None
    for where, candidate in candidates:
        try:
            data = json.loads(candidate)
            break
        except ValueError as exc:
            # The most telling error is the one of the most JSON-like candidate: a fence, or braces.
            if where != "the answer" or first_error is None:
                first_error = f"{where} is not valid JSON: {exc}"
    if data is None and code is not None:
        data = {}
    if data is None:
        raise InvalidAnswer(first_error if "{" in text else "the answer contains no JSON object")
    if code is not None and isinstance(data, dict) and not str(data.get(code_field) or "").strip():
        data[code_field] = code
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()[:8]
        ]
        raise InvalidAnswer(f"the JSON does not match schema {schema.__name__}: " + "; ".join(problems)) from None


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    text = _LITELLM_PREFIX.sub("", text) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _import_litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    from rlgpt_cli import plugins

    # litellm prints "Give Feedback / Get Help" banners to stdout on errors; our errors
    # are reported once, on one line, by the CLI.
    litellm.suppress_debug_info = True
    # litellm's own response objects trip pydantic's serializer warnings, from its logging
    # threads too, so a scoped catch_warnings cannot silence them: noise for our users.
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
    plugins.call_hook("register_models", functools.partial(_add_provider, litellm))
    return litellm


def _add_provider(litellm, provider: str, handler) -> None:
    """Route ``provider/...`` model names to ``handler`` (a plugin's ``litellm.CustomLLM``)."""
    others = [item for item in litellm.custom_provider_map if item.get("provider") != provider]
    litellm.custom_provider_map = [*others, {"provider": provider, "custom_handler": handler}]


class ModelClient:
    """Calls one model (``settings.model``) for the agents.

    ``retries``: attempts after the first on 429, 5xx, timeouts and connection errors.
    ``max_calls``: requests sent to the model (retries and repair turns count; cache hits
    do not). ``max_cost``: USD; the call that crosses it returns nothing and raises
    ``BudgetExceeded``, but its answer is cached so a re-run with a larger budget gets it
    free. ``repairs``: extra turns that show the model its invalid answer and the error.
    ``api_base``/``api_key`` are passed to litellm (else it reads the provider's usual
    environment variables). ``num_ctx``: the context size for Ollama models (``ollama/``,
    ``ollama_chat/``), which otherwise cut long prompts at the server's default (2048
    tokens on older servers); other providers do not take it. ``sleep`` is injectable so
    tests do not wait.
    """

    def __init__(
        self,
        settings: "Settings",
        store: "Store | None" = None,
        max_cost: float | None = None,
        max_calls: int | None = None,
        timeout: float = 60,
        retries: int = 3,
        cache: bool = True,
        *,
        repairs: int = 2,
        api_base: str | None = None,
        api_key: str | None = None,
        num_ctx: int | None = None,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.model = settings.model
        self.store = store
        self.max_cost = max_cost
        self.max_calls = max_calls
        self.timeout = timeout
        self.retries = retries
        self.repairs = repairs
        self.api_base = api_base
        self.api_key = api_key
        self.num_ctx = num_ctx
        self.backoff_s = backoff_s
        self.sleep = sleep
        # The offline model is deterministic and free; caching it would only replay stale
        # answers after its answerers change.
        self.offline = self.model.startswith(f"{PROVIDER}/")
        self.cache = DiskCache(settings.home / "cache" / "models") if cache and not self.offline else None
        self.calls = 0
        self.cost_usd = 0.0

    # public API

    def prompt(self, name: str, context: dict[str, Any], *, validate: Callable[[Any], None] | None = None,
               **params: Any) -> ModelResult:
        """Render template ``name`` with ``context`` and ask for its declared schema.

        The template's ``temperature`` and ``max_tokens`` header values are the defaults of
        ``params``; ``validate`` is passed to :meth:`complete`.
        """
        from rlgpt_cli.models.prompts import load_prompt, render
        from rlgpt_cli.models.schemas import SCHEMAS

        template = load_prompt(name, self.settings.home)
        schema = SCHEMAS[template.schema] if template.schema else None
        return self.complete(name, render(name, context, self.settings.home), schema, validate=validate,
                             **{**template.params, **params})

    def complete(
        self,
        prompt_name: str,
        messages: list[dict[str, Any]],
        schema: "type[BaseModel] | None" = None,
        *,
        validate: Callable[[Any], None] | None = None,
        **params: Any,
    ) -> ModelResult:
        """Ask the model; with ``schema``, return only an answer that validates against it.

        ``validate(parsed)`` may raise ``InvalidAnswer`` for what a schema cannot express (a
        plan naming a skill the library lacks): the model gets a repair turn like for a schema
        error. ``params`` (temperature, max_tokens, ...) go to litellm and into the cache key.
        With a schema, providers that support structured output get it as ``response_format``.
        """
        if schema is not None and "response_format" not in params and _supports_schema(self.model):
            params = {**params, "response_format": {"type": "json_schema", "json_schema": {
                "name": schema.__name__, "schema": schema.model_json_schema(), "strict": False}}}
        key = None
        if self.cache is not None:
            options = {**params, "api_base": self.api_base}
            if self.num_ctx and self.model.startswith(OLLAMA_PREFIXES):
                options["num_ctx"] = self.num_ctx  # a cut prompt is another prompt
            key = cache_key(self.model, messages, schema.__name__ if schema else None, options)
            hit = self._from_cache(prompt_name, key, schema, messages, validate)
            if hit is not None:
                return hit

        convo = list(messages)
        total = _Reply("", 0.0, 0, 0, 0.0)
        for _ in range(self.repairs + 1):
            reply = self._send(prompt_name, convo, params)
            total = _Reply(
                reply.text,
                total.cost_usd + reply.cost_usd,
                total.tokens_in + reply.tokens_in,
                total.tokens_out + reply.tokens_out,
                total.latency_s + reply.latency_s,
                served_model=reply.served_model,
            )
            parsed, problem = None, None
            if schema is not None:
                try:
                    parsed = parse_structured(reply.text, schema)
                    if validate is not None:
                        validate(parsed)
                except InvalidAnswer as exc:
                    problem = str(exc)
            self._record(prompt_name, reply, error=f"invalid answer: {problem}" if problem else None)
            if problem is None:
                if key is not None:
                    self._to_cache(key, prompt_name, total)
                self._check_cost()
                return ModelResult(
                    self.model, reply.text, parsed, False, total.cost_usd, total.tokens_in, total.tokens_out, total.latency_s
                )
            self._check_cost()
            convo += [
                {"role": "assistant", "content": reply.text},
                {
                    "role": "user",
                    "content": f"Your answer was not valid: {problem}\n"
                    f"Answer again with only the corrected JSON object for schema {schema.__name__}.",
                },
            ]
        raise ModelError(
            f"model {self.model} answered with invalid JSON/schema for {prompt_name} "
            f"after {self.repairs} repair turns: {problem}"
        )

    # internals

    def _from_cache(self, prompt_name: str, key: str, schema, messages: list[dict[str, Any]],
                    validate=None) -> ModelResult | None:
        entry = self.cache.get(key)
        if entry is None:
            return None
        parsed = None
        if schema is not None:
            try:
                parsed = parse_structured(entry["text"], schema)
                if validate is not None:
                    validate(parsed)
            except InvalidAnswer:
                return None  # cached under an older schema; ask again
        started = time.perf_counter()
        reply = _Reply(entry["text"], 0.0, 0, 0, 0.0, served_model=entry.get("served_model"), messages=messages)
        self._record(prompt_name, reply, error=None, cache_hit=True)
        return ModelResult(self.model, entry["text"], parsed, True, 0.0, 0, 0, time.perf_counter() - started)

    def _to_cache(self, key: str, prompt_name: str, reply: _Reply) -> None:
        entry = {
            "model": self.model,
            "prompt": prompt_name,
            "text": reply.text,
            "tokens_in": reply.tokens_in,
            "tokens_out": reply.tokens_out,
            "cost_usd": reply.cost_usd,
            "served_model": reply.served_model,
            "created_at": time.time(),
        }
        try:
            self.cache.put(key, entry)
        except OSError:
            pass  # a cache that cannot be written must not lose an answer already paid for

    def _record(self, prompt_name: str, reply: _Reply, error: str | None, cache_hit: bool = False) -> None:
        if self.store is None:
            return
        self.store.record_model_call(
            self.model,
            prompt=prompt_name,
            tokens_in=reply.tokens_in,
            tokens_out=reply.tokens_out,
            cost_usd=reply.cost_usd,
            latency_s=reply.latency_s,
            cache_hit=cache_hit,
            error=error,
            messages=reply.messages,
            response=reply.text or None,  # None: no answer came (an error)
            served_model=reply.served_model,
        )

    def _check_calls(self) -> None:
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise BudgetExceeded(f"model call budget reached: {self.calls} of at most {self.max_calls} calls made")

    def _check_cost(self) -> None:
        if self.max_cost is not None and self.cost_usd > self.max_cost:
            raise BudgetExceeded(f"model cost budget exceeded: ${self.cost_usd:.4f} spent, limit ${self.max_cost:.4f}")

    def _backoff(self, attempt: int) -> float:
        base = self.backoff_s * 2**attempt
        return min(BACKOFF_CAP_S, base + random.uniform(0, base))  # jitter spreads parallel retries

    def _send(self, prompt_name: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> _Reply:
        """One request, retried on transient faults; recorded whatever happens."""
        if self.offline:
            return self._send_offline(prompt_name, messages)
        litellm = _import_litellm()
        kwargs = dict(params)
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if self.num_ctx and self.model.startswith(OLLAMA_PREFIXES):
            kwargs["num_ctx"] = self.num_ctx
        attempt = 0
        while True:
            self._check_calls()
            self._check_cost()
            self.calls += 1
            started = time.perf_counter()
            try:
                response = litellm.completion(
                    model=self.model,
                    messages=messages,
                    timeout=self.timeout,
                    max_retries=0,  # the retries are ours: one policy, every attempt recorded
                    **kwargs,
                )
                reply = self._reply(litellm, response, time.perf_counter() - started, messages)
            except Exception as exc:
                latency = time.perf_counter() - started
                own = _own_error(exc)
                if own is not None:
                    message = own.message
                elif isinstance(exc, litellm.Timeout):
                    message = f"no answer within {self.timeout:g} s"
                else:
                    message = _one_line(exc)
                self._record(prompt_name, _Reply("", 0.0, 0, 0, latency, messages=messages), error=message)
                if own is not None:
                    raise own from exc
                local = _raised_before_sending(exc)
                if local or not _transient(litellm, exc):
                    status = None if local else getattr(exc, "status_code", None)
                    raise ModelError(
                        f"model {self.model} request failed{f' (HTTP {status})' if status else ''}: {message}"
                    ) from exc
                if attempt == self.retries:
                    raise ModelError(
                        f"model {self.model} failed after {attempt + 1} attempts: {message}"
                    ) from exc
                self.sleep(self._backoff(attempt))
                attempt += 1
                continue
            self.cost_usd += reply.cost_usd
            return reply

    def _send_offline(self, prompt_name: str, messages: list[dict[str, Any]]) -> _Reply:
        """The built-in offline model, asked here (see ``offline_provider``): no retries, since
        it has no transient faults; an answerer's failure is recorded and raised."""
        self._check_calls()
        self.calls += 1
        started = time.perf_counter()
        try:
            text = offline_answer(self.model.split("/", 1)[1], messages)
        except RlgptError as exc:
            self._record(prompt_name, _Reply("", 0.0, 0, 0, time.perf_counter() - started, messages=messages),
                         error=exc.message)
            raise
        tokens_in, tokens_out = offline_usage(messages, text)
        return _Reply(text, 0.0, tokens_in, tokens_out, time.perf_counter() - started,
                      served_model=self.model, messages=messages)

    def _reply(self, litellm, response, latency: float, messages: list[dict[str, Any]]) -> _Reply:
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        if cost is None and not self.offline:
            try:
                cost = litellm.completion_cost(completion_response=response)
            except Exception:  # litellm raises for models it has no price for: local, custom
                cost = 0.0
        return _Reply(
            text=text,
            cost_usd=float(cost or 0.0),
            tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
            tokens_out=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_s=latency,
            served_model=getattr(response, "model", None) or None,
            messages=messages,
        )


def _supports_schema(model: str) -> bool:
    """Whether litellm knows the model to take a JSON schema as ``response_format``."""
    if model.startswith(f"{PROVIDER}/"):
        return False
    litellm = _import_litellm()
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # litellm raises for models missing from its table: local, custom
        return False


def _chain(exc: BaseException | None):
    """An exception and the ones it was raised from or during."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _raised_before_sending(exc: BaseException) -> bool:
    """A bare openai.OpenAIError comes before any request (missing key, bad configuration).

    litellm reports it as an HTTP 500, but no server answered and retrying cannot help.
    """
    import openai

    return any(type(e) is openai.OpenAIError for e in _chain(exc))


def _transient(litellm, exc: BaseException) -> bool:
    """Worth retrying: rate limits, server faults, timeouts, connection failures."""
    transient = (
        litellm.RateLimitError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
        litellm.Timeout,
        litellm.APIConnectionError,
    )
    return isinstance(exc, transient) or (getattr(exc, "status_code", None) or 0) >= 500


def _own_error(exc: BaseException) -> RlgptError | None:
    """An rlgpt error (from the offline provider) that litellm wrapped; it is not retried."""
    return next((e for e in _chain(exc) if isinstance(e, RlgptError)), None)
