"""Every distribution rlgpt's code imports is declared in pyproject.toml: an import that only
works because some other package happens to pull it in breaks on the next upgrade."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Import names of optional extras that are not installed here (MineDojo needs Python <= 3.9).
NOT_INSTALLABLE = {"minedojo": "minedojo"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_normalise(re.match(r"[A-Za-z0-9_.\-]+", r).group()) for r in requirements}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level() -> set[str]:
    names = set()
    for path in (ROOT / "src" / "rlgpt_cli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "rlgpt_cli"}


def test_every_imported_distribution_is_declared():
    owners = packages_distributions()
    declared = _declared()
    missing = {}
    for name in sorted(_imported_top_level()):
        dists = owners.get(name) or [NOT_INSTALLABLE.get(name, f"<unknown: {name}>")]
        if not any(_normalise(d) in declared for d in dists):
            missing[name] = dists
    assert missing == {}


def test_the_check_sees_an_undeclared_import(monkeypatch):
    # yaml is PyYAML's: drop it from the declarations and the check must name it.
    real = _declared()
    monkeypatch.setattr(sys.modules[__name__], "_declared", lambda: real - {"pyyaml"})
    try:
        test_every_imported_distribution_is_declared()
    except AssertionError as exc:
        assert "yaml" in str(exc)
    else:
        raise AssertionError("an undeclared import went unnoticed")
