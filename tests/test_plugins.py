"""The plugin host: entry points, RLGPT_LOAD_PLUGINS, plugin files, built-ins, listing."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rlgpt_cli import hookspecs, plugins

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


@pytest.fixture
def pm(fresh_pm, monkeypatch):
    """A fresh plugin manager without the built-in plugins."""
    monkeypatch.setattr(plugins, "DEFAULT_PLUGINS", [])
    return fresh_pm


def hookspec_names():
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]


def test_every_hook_has_a_docstring_and_is_documented():
    docs = DOCS.read_text()
    names = hookspec_names()
    assert {"register_skills", "register_worlds", "register_commands", "register_models"} <= set(names)
    for name in names:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert f"### {name}(" in docs, f"{name} is not documented in docs/plugins.md"


WORLD_PLUGIN = textwrap.dedent(
    """
    from rlgpt_cli.hookspecs import hookimpl

    @hookimpl
    def register_worlds(register):
        register("{world}", dict, description="test world")
    """
)


def make_distribution(root: Path, dist: str, module: str, world: str) -> None:
    """A tiny installed distribution: a module plus a dist-info with an rlgpt entry point."""
    (root / f"{module}.py").write_text(WORLD_PLUGIN.replace("{world}", world))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[rlgpt]\n{module} = {module}\n")


@pytest.fixture
def distributions(tmp_path, monkeypatch):
    make_distribution(tmp_path, "rlgpt-alpha", "rlgpt_alpha", "alpha")
    make_distribution(tmp_path, "rlgpt-beta", "rlgpt_beta", "beta")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def registered_worlds():
    worlds = {}
    plugins.call_hook("register_worlds", lambda name, factory, **kw: worlds.setdefault(name, kw))
    return worlds


def test_entry_points_load(pm, distributions):
    assert set(registered_worlds()) >= {"alpha", "beta"}
    listed = {p["name"]: p for p in plugins.list_plugins()}
    assert listed["rlgpt_alpha"] == {"name": "rlgpt_alpha", "hooks": ["register_worlds"],
                                     "package": "rlgpt-alpha", "version": "1.2.3"}


def test_entry_point_look_finds_only_declared_groups(tmp_path):
    make_distribution(tmp_path, "rlgpt-alpha", "rlgpt_alpha", "alpha")
    other = tmp_path / "other"
    other.mkdir()
    (other / "tool-1.0.dist-info").mkdir()
    (other / "tool-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\ntool = tool:main\n")
    assert plugins.any_declares_entry_points("rlgpt", [str(tmp_path)])
    assert not plugins.any_declares_entry_points("rlgpt", [str(other), str(tmp_path / "missing")])
    assert plugins.any_declares_entry_points("console_scripts", [str(other)])
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(b"PK")  # a zip on the path: importlib.metadata must look inside
    assert plugins.any_declares_entry_points("rlgpt", [str(other), str(archive)])


def test_without_plugins_the_metadata_scan_is_skipped():
    # The fast commands' start: no distribution on this path declares an rlgpt entry point.
    code = (
        "import sys, rlgpt_cli.plugins as p\n"
        "p.load_plugins()\n"
        "assert 'importlib.metadata' not in sys.modules\n"
        "assert p.pm.get_plugin('rlgpt_cli.default_plugins.worlds') is not None\n"
    )
    src = str(Path(__file__).resolve().parent.parent / "src")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": src, "RLGPT_HOME": "/nonexistent"})


def test_load_plugins_env_limits_packages(pm, distributions, monkeypatch):
    monkeypatch.setenv("RLGPT_LOAD_PLUGINS", "rlgpt-beta, not-installed")
    assert set(registered_worlds()) == {"beta"}
    assert {p["name"] for p in plugins.list_plugins()} == {"rlgpt_beta"}
    assert plugins.list_plugins()[0]["version"] == "1.2.3"


def test_load_plugins_empty_env_loads_none(pm, distributions, monkeypatch):
    monkeypatch.setenv("RLGPT_LOAD_PLUGINS", "")
    assert registered_worlds() == {}


def test_plugin_files_directory(pm, tmp_path, monkeypatch):
    monkeypatch.setenv("RLGPT_LOAD_PLUGINS", "")
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "gamma.py").write_text(WORLD_PLUGIN.replace("{world}", "gamma"))
    (folder / "notes.txt").write_text("ignored")
    plugins.load_plugins(folder)
    assert registered_worlds() == {"gamma": {"description": "test world"}}
    assert [p["name"] for p in plugins.list_plugins()] == ["rlgpt_plugin_file.gamma"]


def test_broken_plugin_file_is_a_clear_error(pm, tmp_path):
    from rlgpt_cli.errors import UsageError

    (tmp_path / "bad.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UsageError, match=r"plugin file .*bad.py failed to load: RuntimeError: boom"):
        plugins.load_plugin_files(tmp_path)


def test_default_plugins_are_registered(pm, tmp_path, monkeypatch):
    monkeypatch.setenv("RLGPT_LOAD_PLUGINS", "")
    (tmp_path / "rlgpt_builtin_delta.py").write_text(WORLD_PLUGIN.replace("{world}", "delta"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "DEFAULT_PLUGINS", ["rlgpt_builtin_delta"])
    assert set(registered_worlds()) == {"delta"}


def test_commands_hook_gets_the_app(pm, tmp_path, monkeypatch):
    monkeypatch.setenv("RLGPT_LOAD_PLUGINS", "")
    (tmp_path / "cmds.py").write_text(
        "from rlgpt_cli.hookspecs import hookimpl\n\n@hookimpl\ndef register_commands(app):\n    app.append('hello')\n"
    )
    plugins.load_plugins(tmp_path)
    app = []
    plugins.register_commands(app)
    assert app == ["hello"]


def test_library_skills_come_through_the_hook(fresh_pm, tmp_path, monkeypatch):
    from rlgpt_cli.library import Library

    monkeypatch.setenv("RLGPT_LOAD_PLUGINS", "")
    library = Library(tmp_path / "lib", plugins=True)
    library.add_code_skill(
        'SKILL = {"name": "chop", "description": "chop a tree"}\n\ndef act(api):\n    yield "do"\n'
    )
    provided, stored = plugins.provided_skills(library=library)
    assert list(stored) == ["chop"] and "chop" not in provided
    assert provided["collect_wood"].provenance == {"source": "builtin"}  # the pack, through its plugin
    names = [s.name for s in library.list()]
    assert "chop" in names and "collect_wood" in names
    # A stored skill hides an offered one of the same name only if it keeps its contract (params, effects).
    library.add_code_skill('SKILL = {"name": "collect_wood", "description": "mine"}\n\ndef act(api):\n    yield "do"\n')
    assert library.get("collect_wood").provenance == {"source": "builtin"}
    assert library.get("collect_wood@2").description == "mine"
    library.add_code_skill('SKILL = {"name": "collect_wood", "description": "mine too", "params": {"n": 1},\n'
                           '         "effects": {"inventory": {"wood": 1}}}\n\ndef act(api, n=1):\n    yield "do"\n')
    assert library.get("collect_wood").description == "mine too"


def test_import_is_cheap():
    code = (
        "import sys, rlgpt_cli.plugins as p\n"
        "heavy = [m for m in ('torch', 'litellm', 'RestrictedPython', 'typer', 'numpy') if m in sys.modules]\n"
        "assert not heavy and not p._loaded, (heavy, p._loaded)\n"
    )
    src = str(Path(__file__).resolve().parent.parent / "src")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": src})
