"""`rlgpt skills`: the skill library (stored code skills and policies) and the built-in pack."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Optional

import typer

from rlgpt_cli.commands import state
from rlgpt_cli.errors import LibraryError, UsageError
from rlgpt_cli.output import columns, console, emit
from rlgpt_cli.workspace import open_library
from rlgpt_cli.settings import LIMITS

skills_app = typer.Typer(
    help="The skill library: code skills and trained policies, built in or learned.", no_args_is_help=True
)


class Kind(str, enum.Enum):
    code = "code"
    policy = "policy"


def _complete_names(ctx: typer.Context, incomplete: str) -> list[str]:
    # Completion parses arguments without running the app's callback, so settings come from
    # the root's parsed --library (if typed) and the environment; it must never fail loudly.
    from rlgpt_cli.settings import Settings

    try:
        settings = Settings.resolve(library=ctx.find_root().params.get("library"))
        names = {s.name for s in open_library(settings).list()}
    except Exception:
        return []
    return sorted(n for n in names if n.startswith(incomplete))


def _source(skill, library) -> str:
    # By where the files are, not by provenance: an exported built-in imported into the
    # library keeps its "builtin" provenance but is a stored skill.
    if skill.path and library.skills_dir in skill.path.parents:
        return "library"
    return "builtin" if skill.provenance.get("source") == "builtin" else "plugin"


def _record(skill, library) -> dict:
    return {**skill.to_dict(), "source": _source(skill, library)}


def _rate(metrics: dict) -> str:
    rate = metrics.get("success_rate")
    return f"{rate:.0%}" if isinstance(rate, (int, float)) else ""


NAME = typer.Argument(..., help="Skill name.", autocompletion=_complete_names)
VERSION = typer.Option(None, "--version", min=1, max=LIMITS["version"][1], help="A version number (default: the running one; or NAME@N).")


@skills_app.command("list")
def list_(
    ctx: typer.Context,
    kind: Optional[Kind] = typer.Option(None, "--kind", help="Only code skills or only policies."),
    world: Optional[str] = typer.Option(None, "--world", "-w", help="Only skills for this world (default: the global --world or RLGPT_WORLD if given, else every world)."),
    all_versions: bool = typer.Option(False, "--all-versions", help="Every version, not only the running one."),
) -> None:
    """List skills: the running version of each (stored and built in); --all-versions adds candidates."""
    st = state(ctx)
    library = open_library(st.settings)
    world = world or (st.settings.world if st.settings.given("world") else None)  # as in `tasks list`
    skills = library.list(kind=kind.value if kind else None, world=world, all_versions=all_versions)

    def human(rows):
        # A working version that does not run is a candidate (run it with NAME@N).
        columns(["name", "ver", "kind", "world", "success", "episodes", "status", "source"],
                [[s["name"], s["version"], s["kind"], s["world"], _rate(s["metrics"]), s["metrics"].get("episodes", ""),
                  "candidate" if s["status"] == "ok" and not s["best"] else s["status"], s["source"]] for s in rows])

    emit(st, [_record(s, library) for s in skills], human)


@skills_app.command("show")
def show(ctx: typer.Context, name: str = NAME, version: Optional[int] = VERSION) -> None:
    """Show one skill: description, pre/postconditions, metrics, provenance and, for code, its source."""
    st = state(ctx)
    library = open_library(st.settings)
    skill = library.get(name, version)
    data = _record(skill, library)
    if skill.kind == "code" and skill.status == "ok":
        data["code"] = skill.files()["skill.py"].decode("utf-8")

    def human(d):
        c = console()
        c.print(f"{d['name']} v{d['version']}: {d['kind']} skill for {d['world']} ({d['source']})",
                style="bold", markup=False)
        if d["status"] != "ok":
            c.print(f"{d['status']}: {d['problem']}", style="red", markup=False)
        c.print(d["description"], markup=False)
        for key in ("preconditions", "effects", "params", "metrics", "provenance"):
            if d[key]:
                c.print(f"{key}: {d[key]}", markup=False)
        c.print(f"sha256: {d['sha256']}\npath: {d['path']}", markup=False)
        if d.get("code"):
            c.print()
            c.print(d["code"].rstrip("\n"), markup=False)

    emit(st, data, human)


@skills_app.command("rm")
def rm(ctx: typer.Context, name: str = NAME,
       version: Optional[int] = typer.Option(None, "--version", min=1, max=LIMITS["version"][1], help="Only this version (default: all).")) -> None:
    """Remove a stored skill (every version, or one). Built-in skills cannot be removed."""
    st = state(ctx)
    library = open_library(st.settings)
    source = _source(library.get(name), library)  # NotFound (with nearest names) if unknown
    if source != "library":
        raise UsageError(f"{name} is a {'built-in' if source == 'builtin' else 'plugin'} skill; "
                         "only stored skills can be removed")
    library.remove(name, version)
    what = f"{name} v{version}" if version else f"{name} (all versions)"
    emit(st, {"removed": name, "version": version}, lambda d: console().print(f"Removed {what}", markup=False))


@skills_app.command("export")
def export(
    ctx: typer.Context,
    name: str = NAME,
    output: Path = typer.Option(..., "--output", "-o", dir_okay=False, help="Archive to write (.zip or .tar.gz)."),
    version: Optional[int] = VERSION,
) -> None:
    """Write a skill version to a portable archive (files, metadata, metrics, hash)."""
    st = state(ctx)
    library = open_library(st.settings)
    skill = library.get(name, version)
    path = library.export(name, output, skill.version)
    emit(st, {"name": name, "version": skill.version, "path": str(path)},
         lambda d: console().print(f"Exported {name} v{d['version']} to {d['path']}", markup=False))


@skills_app.command("import")
def import_(
    ctx: typer.Context,
    archive: Path = typer.Argument(..., exists=True, dir_okay=False, help="An archive from `rlgpt skills export`."),
) -> None:
    """Add a skill from an archive, as the next version of its name (after the same checks as a new skill)."""
    st = state(ctx)
    library = open_library(st.settings)
    skill = library.import_(archive)
    emit(st, _record(skill, library), lambda d: console().print(f"Imported {d['name']} v{d['version']}", markup=False))


@skills_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check every skill: file hashes, loadability, sandbox rules. Exits 7 if any is broken."""
    st = state(ctx)
    report = open_library(st.settings).verify()
    broken = [r for r in report if r["status"] != "ok"]

    def human(rows):
        c = console()
        for r in broken:
            c.print(f"broken: {r['name']} v{r['version']}: {r['problem']}", markup=False)
        if not broken:
            c.print(f"{len(rows)} skills ok")

    emit(st, report, human)
    if broken:
        names = ", ".join(f"{r['name']} v{r['version']}" for r in broken)
        raise LibraryError(f"{len(broken)} of {len(report)} skills broken: {names}")


@skills_app.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Rebuild the library manifest from the skill folders (after a crash or a hand edit)."""
    st = state(ctx)
    library = open_library(st.settings)
    problems = library.rebuild()
    stored = [s for s in library.list(all_versions=True) if _source(s, library) == "library"]

    def human(d):
        c = console()
        for problem in d["problems"]:
            c.print(f"skipped: {problem}", markup=False)
        c.print(f"Rebuilt the manifest: {d['versions']} stored skill versions")

    emit(st, {"versions": len(stored), "problems": problems}, human)


def register(app: typer.Typer) -> None:
    app.add_typer(skills_app, name="skills")
