"""Global options before or after the subcommand, and where they clash with a command's own."""

from __future__ import annotations

import json

import pytest

from fake_openai import FakeOpenAI
from rlgpt_cli.cli import build_command, hoist_global_options


@pytest.fixture(scope="module")
def command():
    return build_command()


@pytest.mark.parametrize(
    "argv, expected",
    [
        # after the task's words, and between them: the words stay the task's, in order
        (["plan", "obtain", "diamond", "--model", "openai/gpt-4o"],
         ["--model", "openai/gpt-4o", "plan", "obtain", "diamond"]),
        (["plan", "obtain", "-m", "x/y", "diamond"], ["-m", "x/y", "plan", "obtain", "diamond"]),
        (["plan", "make", "-m", "offline/x"], ["-m", "offline/x", "plan", "make"]),
        (["plan", "x", "--model=openai/a"], ["--model=openai/a", "plan", "x"]),
        # nested commands, flags and values
        (["skills", "--json", "list", "-v"], ["--json", "-v", "skills", "list"]),
        (["logs", "show", "3", "-q", "--seed=1"], ["-q", "--seed=1", "logs", "show", "3"]),
        # every command lists --json among its own options, and takes it there
        (["logs", "show", "3", "--json"], ["logs", "show", "3", "--json"]),
        (["plan", "x", "--seed", "4", "--timeout", "5"], ["--seed", "4", "--timeout", "5", "plan", "x"]),
        # a command's own option of the same name stays its own
        (["learn", "--seed", "3", "-s", "harvest_log", "-q"], ["-q", "learn", "--seed", "3", "-s", "harvest_log"]),
        (["tasks", "list", "--world", "minedojo", "-m", "x"], ["-m", "x", "tasks", "list", "--world", "minedojo"]),
        (["skills", "show", "craft", "--version", "2", "-w", "crafter"],
         ["-w", "crafter", "skills", "show", "craft", "--version", "2"]),
        # an own option's value is never taken for a global option
        (["run", "x", "--seeds", "-q"], ["run", "x", "--seeds", "-q"]),
        # nothing moves after `--`, or when the command is unknown, or in front
        (["plan", "--", "-m", "x"], ["plan", "--", "-m", "x"]),
        (["no-such", "--json"], ["no-such", "--json"]),
        (["--world", "tiny", "plan", "x"], ["--world", "tiny", "plan", "x"]),
        # --help and --version after a command are the command's
        (["plan", "--help"], ["plan", "--help"]),
    ],
)
def test_hoisting(command, argv, expected):
    assert hoist_global_options(command, argv) == expected


def test_options_after_the_subcommand_take_effect(cli):
    data = cli("plan", "obtain", "diamond", "--world", "crafter", "--model", "rlgpt/offline", "--json").json()
    assert data["task"] == "collect_diamond" and data["model"] == "rlgpt/offline"
    assert cli("skills", "list", "--json").json()  # the built-in pack, as JSON
    r = cli("logs", "list", "--seed", "-3")
    assert r.exit_code == 2 and "seed must be a non-negative integer" in r.stderr


def test_world_before_or_after_tasks_list_means_the_same(cli):
    after = cli("tasks", "list", "--world", "minedojo", "--json").json()
    before = cli("--world", "minedojo", "tasks", "list", "--json").json()
    assert after == before and {t["world"] for t in after} == {"minedojo"}
    # without --world (flag or RLGPT_WORLD) it lists every world's tasks
    assert {t["world"] for t in cli("tasks", "list", "--json").json()} == {"crafter", "minedojo"}


def test_learn_seed_is_its_own(cli, isolated_home):
    # learn's --seed is the training seed; refused values are refused by learn, not the global
    r = cli("learn", "--subtask", "harvest_log", "--seed", "-1")
    assert r.exit_code == 2 and "--seed" in r.stderr


def test_model_after_the_task_reaches_the_provider(cli, monkeypatch):
    plan = cli("plan", "obtain", "wood", "--json").json()["plan"]
    with FakeOpenAI([json.dumps(plan)]) as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        r = cli("plan", "obtain", "wood", "--model", "openai/gpt-4o", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["model"] == "openai/gpt-4o"
    assert server.requests[0]["model"] == "gpt-4o"


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--timeout", "99999"], ["--retries", "-1"], ["--retries", "11"],
                                  ["--num-ctx", "10"], ["logs", "list", "--timeout", "nan"]])
def test_absurd_model_options_are_refused(cli, args):
    r = cli(*args, "logs", "list") if args[0] != "logs" else cli(*args)
    assert r.exit_code == 2, r.stderr


@pytest.mark.parametrize("var, value, message", [
    ("RLGPT_TIMEOUT", "abc", "RLGPT_TIMEOUT must be a number, got 'abc'"),
    ("RLGPT_TIMEOUT", "0.1", "RLGPT_TIMEOUT must be between 1 and 3600, got 0.1"),
    ("RLGPT_RETRIES", "2.5", "RLGPT_RETRIES must be an integer, got '2.5'"),
    ("RLGPT_NUM_CTX", "99", "RLGPT_NUM_CTX must be between 256 and 1048576, got 99"),
])
def test_absurd_model_settings_in_the_environment_are_refused(cli, monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    r = cli("logs", "list")
    assert r.exit_code == 2 and r.stderr == f"Error: {message}\n"


def test_model_options_reach_the_client(monkeypatch):
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.workspace import model_client

    default = model_client(Settings.resolve())
    assert (default.timeout, default.retries, default.num_ctx) == (60, 3, None)
    monkeypatch.setenv("RLGPT_TIMEOUT", "20")
    monkeypatch.setenv("RLGPT_RETRIES", "1")
    assert model_client(Settings.resolve()).timeout == 20  # env over default
    client = model_client(Settings.resolve(timeout=5, num_ctx=8192))  # flag over env
    assert (client.timeout, client.retries, client.num_ctx) == (5, 1, 8192)


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
@pytest.mark.parametrize("model, sent", [("ollama_chat/llama3", True), ("ollama/llama3", True), ("openai/gpt-4o", False)])
def test_num_ctx_goes_to_ollama_models_only(tmp_path, model, sent):
    from rlgpt_cli.errors import ModelError
    from rlgpt_cli.models import ModelClient
    from rlgpt_cli.settings import Settings

    with FakeOpenAI(["fine"]) as server:
        base = server.url if model.startswith("openai/") else server.url.removesuffix("/v1")
        client = ModelClient(Settings(model=model, home=tmp_path), api_base=base, api_key="sk-test",
                             num_ctx=8192, retries=0, cache=False)
        try:
            client.complete("critic", [{"role": "user", "content": "hi"}])
        except ModelError:
            pass  # the stand-in speaks OpenAI's protocol, not Ollama's: only the request matters
    body = server.requests[0]
    assert (body.get("options", {}).get("num_ctx") == 8192) is sent
    assert "num_ctx" not in body


def test_num_ctx_is_noted_as_ignored_for_other_models(cli):
    r = cli("logs", "list", "--num-ctx", "4096", "-m", "openai/gpt-4o")
    assert r.exit_code == 0
    assert "note: --num-ctx applies to ollama/ and ollama_chat/ models only; ignored for openai/gpt-4o" in r.stderr
    assert "note" not in cli("logs", "list", "--num-ctx", "4096", "-m", "ollama/llama3").stderr


def test_help_is_readable_and_lists_json(cli):
    plan = cli("plan", "--help").stdout
    assert "Usage: rlgpt plan [OPTIONS] TASK..." in plan
    assert "<list[str]>" not in plan and "{words}" not in plan and "<bool>" not in plan
    assert "--max-cost MAX_COST" in plan and "--json" in plan and "-m/--model" in plan
    for args in (["skills", "list"], ["logs", "show"], ["tasks", "show"], ["models", "alias"], ["doctor"]):
        text = cli(*args, "--help").stdout
        assert "--json" in text and "<bool>" not in text, args
    assert "[NAME]" in cli("models", "default", "--help").stdout
    top = cli("--help").stdout
    assert "--timeout SECONDS" in top and "<bool>" not in top and "<str>" not in top


def test_json_given_to_the_subcommand_itself(capsys):
    from rlgpt_cli.cli import build_command

    # parsed by the subcommand (no argv rewriting), it still switches to JSON
    build_command().main(["tasks", "show", "collect", "wood", "--json"], prog_name="rlgpt", standalone_mode=False)
    assert json.loads(capsys.readouterr().out)["name"] == "collect_wood"


def test_tasks_show_takes_several_words(cli):
    assert cli("tasks", "show", "obtain", "diamond", "--json").json()["name"] == "collect_diamond"
    assert cli("tasks", "show", "obtain diamond", "--json").json()["kind"] == "achievement"


def test_tasks_list_is_grouped_and_fits_80_columns(cli):
    out = cli("tasks", "list").stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    total = len(cli("tasks", "list", "--json").json())
    assert len(lines) < total + 20  # one line per task, plus a heading and a header per group
    for heading in ("crafter: achievement tasks (22)", "crafter: composite tasks", "minedojo: item tasks"):
        assert heading in out
    kinds = {t["name"]: t["kind"] for t in cli("tasks", "list", "-w", "crafter", "--json").json()}
    assert kinds["collect_wood"] == "achievement" and kinds["all_achievements"] == "composite"


def test_fast_paths_import_nothing_heavy():
    import subprocess
    import sys

    heavy = ["pydantic", "markdown_it", "rich.markdown", "rich.traceback", "torch", "litellm", "typer.rich_utils"]
    code = ("import sys\nfrom rlgpt_cli.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            f"sys.stderr.write('HEAVY=' + ','.join(m for m in {heavy!r} if m in sys.modules) + '\\n')\n")
    for args in (["--help"], ["--version"], ["skills", "list"], ["plan", "--help"], ["logs", "list"]):
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert [ln for ln in r.stderr.splitlines() if ln.startswith("HEAVY=")] == ["HEAVY="], (args, r.stderr[-2000:])


def test_a_built_in_command_is_built_alone_with_the_same_options():
    from rlgpt_cli.cli import COMMAND_MODULES, build_command

    full = build_command()
    assert set(full.commands) >= set(COMMAND_MODULES)
    assert build_command(only="").commands == {}
    for name in COMMAND_MODULES:
        alone = build_command(only=name)
        assert list(alone.commands) == [name]

        def shape(cmd):
            if hasattr(cmd, "commands"):
                return {k: shape(v) for k, v in cmd.commands.items()} | {"": sorted(p.name for p in cmd.params)}
            return sorted((p.name, tuple(p.opts)) for p in cmd.params)

        assert shape(alone.commands[name]) == shape(full.commands[name])
        assert sorted(p.name for p in alone.params) == sorted(p.name for p in full.params)
