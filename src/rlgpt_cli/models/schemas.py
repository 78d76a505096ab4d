"""What the agents answer: pydantic models the model's JSON is validated against.

Strict where a wrong value would break a later stage (kinds, names, positive step counts,
code that defines the right function), forgiving where a model is merely sloppy: stray
whitespace, ``"Code"`` for ``"code"``, a single string where a list is expected, code
wrapped in a Markdown fence, unknown extra keys (ignored).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SKILL_NAME = r"^[a-z][a-z0-9_]*$"
SKILL_PIN = r"^[a-z][a-z0-9_]*(@[1-9][0-9]*)?$"  # a skill name, or NAME@N for version N
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*?)\n?```$", re.DOTALL)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def _listify(value: Any) -> Any:
    """A lone string where a list of strings is expected becomes a one-item list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


def _unfence(value: Any) -> Any:
    """Models often wrap code in a ```python fence; the code is what is inside."""
    if isinstance(value, str):
        match = _FENCE.match(value.strip())
        if match:
            return match.group(1)
    return value


def _keyword(value: Any) -> Any:
    """'Code', ' RL ', 'rl-config' → 'code', 'rl', 'rl_config'."""
    if isinstance(value, str):
        return re.sub(r"[\s-]+", "_", value.strip().lower())
    return value


class SubAction(_Answer):
    """One step of a plan, and how it will be solved."""

    name: str = Field(pattern=SKILL_NAME, description="short snake_case name, e.g. collect_wood")
    kind: Literal["code", "rl", "reuse"]
    reason: str = Field(default="", description="why this kind: codable, needs learning, or already in the library")
    skill: str | None = Field(default=None, pattern=SKILL_PIN,
                              description="the library skill to run (kind reuse only); NAME@N pins a version")
    params: dict[str, Any] = Field(default_factory=dict, description='arguments for the skill, e.g. {"count": 3}')
    preconditions: list[str] = Field(default_factory=list, description='facts needed first, e.g. "wood >= 1", "near table"')
    effects: list[str] = Field(default_factory=list, description='facts true afterwards, e.g. "wood_pickaxe >= 1"')
    success: str = Field(default="", description='the runner\'s check, e.g. "inventory wood_pickaxe >= 1"')

    _kind = field_validator("kind", mode="before")(_keyword)
    _skill = field_validator("skill", mode="before")(_keyword)
    _lists = field_validator("preconditions", "effects", mode="before")(_listify)

    @field_validator("params", mode="before")
    @classmethod
    def _no_params(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("success")
    @classmethod
    def _check_language(cls, value: str) -> str:
        from rlgpt_cli.runner import checks

        return str(checks.parse(value))  # CheckError is a ValueError: pydantic reports it

    @field_validator("name", mode="before")
    @classmethod
    def _snake(cls, value: Any) -> Any:
        return _keyword(value)

    @model_validator(mode="after")
    def _reuse_names_a_skill(self) -> "SubAction":
        if self.kind == "reuse" and not self.skill:
            raise ValueError(f"sub-action {self.name!r} has kind reuse but names no skill")
        return self


class Plan(_Answer):
    """The slow agent's decomposition of a task."""

    task: str = Field(min_length=1)
    subactions: list[SubAction] = Field(min_length=1)
    notes: str = ""


class CodeAnswer(_Answer):
    """The fast agent's code skill for a ``code`` sub-action.

    ``source`` defines the generator ``act(api, **params)``; rlgpt writes the ``SKILL``
    metadata block of the skill file from the other fields.
    """

    # A model may put the code in a ```python block beside the JSON (models.client.parse_structured).
    code_field: ClassVar[str] = "source"

    # Optional: rlgpt names the skill after its sub-action and describes it when the model does not.
    skill: str | None = Field(default=None, pattern=SKILL_NAME)
    description: str = ""
    preconditions: list[str] = Field(default_factory=list)
    effects: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict, description="keyword parameters of act() and their defaults")
    source: str = Field(min_length=1)

    _lists = field_validator("preconditions", "effects", mode="before")(_listify)
    _code = field_validator("source", mode="before")(_unfence)

    @field_validator("skill", mode="before")
    @classmethod
    def _snake(cls, value: Any) -> Any:
        return _keyword(value)

    @field_validator("source")
    @classmethod
    def _defines_act(cls, value: str) -> str:
        if not re.search(r"^def act\(\s*api\b", value, re.MULTILINE):
            raise ValueError("source must define a top-level generator `def act(api, ...)`")
        return value


class Termination(_Answer):
    """When an RL episode ends.

    ``success`` is a Python boolean expression over ``obs`` and ``info`` (the symbolic
    observation and step info after a step), e.g. ``info["inventory"]["wood"] >= 1``;
    the episode ends as a success when it is true, and as a failure after
    ``max_episode_steps`` steps.
    """

    success: str = Field(min_length=1)
    max_episode_steps: int = Field(default=1000, gt=0)


class RLConfig(_Answer):
    """The fast agent's RL configuration for an ``rl`` sub-action.

    ``reward_code`` defines ``def reward(prev, obs, info) -> float``, called after every
    step: ``prev`` and ``obs`` are the symbolic observations before and after the step
    (dicts with ``inventory``, ``view``, ``daylight``, ``facing``, ``pos``, ``sleeping``;
    see docs/CONTRACTS.md) — symbolic even when the policy observes pixels — and ``info``
    is the step's info dict (``achievements`` and ``inventory`` by name, ``unlocked``:
    achievements unlocked by this step). Its return value is the step's reward.
    ``macro_actions`` are library skill names added to the action space, each run as one
    temporally extended action; ``macro_params`` gives some of them parameters over their
    skill's defaults (e.g. ``{"collect_wood": {"n": 3}}``).
    """

    code_field: ClassVar[str] = "reward_code"

    subtask: str = Field(min_length=1)
    macro_actions: list[str] = Field(default_factory=list)
    macro_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    reward_code: str = Field(min_length=1)
    termination: Termination
    total_steps: int = Field(default=100_000, gt=0)
    notes: str = ""

    _macros = field_validator("macro_actions", mode="before")(_listify)
    _code = field_validator("reward_code", mode="before")(_unfence)

    @field_validator("termination", mode="before")
    @classmethod
    def _bare_condition(cls, value: Any) -> Any:
        return {"success": value} if isinstance(value, str) else value

    @field_validator("reward_code")
    @classmethod
    def _defines_reward(cls, value: str) -> str:
        if not re.search(r"^def reward\(\s*prev\s*,\s*obs\s*,\s*info\s*\)", value, re.MULTILINE):
            raise ValueError("reward_code must define a top-level `def reward(prev, obs, info)`")
        return value

    @model_validator(mode="after")
    def _params_of_macros(self) -> RLConfig:
        stray = sorted(set(self.macro_params) - set(self.macro_actions))
        if stray:
            raise ValueError(f"macro_params names {', '.join(stray)}, which macro_actions does not list")
        return self


class Critique(_Answer):
    """The critic's judgement of an attempt, and which stage should change."""

    success: bool
    score: float = Field(ge=0, le=1, description="0 = nothing worked, 1 = fully solved")
    feedback: str = ""
    suggestions: list[str] = Field(default_factory=list)
    revise: Literal["none", "code", "rl_config", "plan"] = "none"

    _revise = field_validator("revise", mode="before")(_keyword)
    _lists = field_validator("suggestions", mode="before")(_listify)


class TaskCritique(_Answer):
    """The critic's judgement of a whole-task evaluation: which stage of the plan to change, and how."""

    success: bool
    stage: str = ""
    change: Literal["none", "params", "code", "rl", "split", "add"] = "none"
    feedback: str = ""
    suggestions: list[str] = Field(default_factory=list)

    _change = field_validator("change", mode="before")(_keyword)
    _lists = field_validator("suggestions", mode="before")(_listify)


# The names prompt templates declare in their ``schema:`` header.
SCHEMAS: dict[str, type[BaseModel]] = {
    model.__name__: model for model in (Plan, CodeAnswer, RLConfig, Critique, TaskCritique)
}
