"""How a world describes itself to the agents: its primitive API for the coding prompt, and
its knowledge steps as the one-line facts the slow agent reads. Shared by every world's kit."""

from __future__ import annotations


def knowledge_facts(steps: list[dict]) -> list[str]:
    """One line per knowledge step (``WorldKit.knowledge``'s ``facts``), as the slow agent reads them."""
    return [f"{d['kind']} {d['target']}" + (f" x{d['count']}" if d["count"] > 1 else "")
            + (f" needs {d['preconditions']}" if d["preconditions"] else "")
            + (f" near {', '.join(d['nearby'])}" if d["nearby"] else "") for d in steps]


def describe_api(api_class) -> list[dict[str, str]]:
    """``WorldKit.api_docs`` for a primitive API class: the class docstring, then each public
    method's signature and docstring (``observe`` is the runner's, not the skill's)."""
    import inspect
    import re

    docs = [{"name": "api", "doc": inspect.getdoc(api_class) or ""}]
    for name, fn in inspect.getmembers(api_class, inspect.isfunction):
        if name.startswith("_") or name == "observe":
            continue
        sig = str(inspect.signature(fn)).replace("(self, ", "(").replace("(self)", "()")
        sig = re.sub(r"'([^']*)'", r"\1", sig)  # string annotations read as types: `n: int`, not `n: 'int'`
        docs.append({"name": f"api.{name}{sig}", "doc": inspect.getdoc(fn) or ""})
    return docs
