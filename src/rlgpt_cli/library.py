"""The skill library: code skills and RL policies on disk, versioned, hashed, and exposed as
pluggy plugins.

Layout under a library directory::

    manifest.json                 name -> versions (hash, metadata, metrics) and the running one
    library.lock                  flock'ed by every writer
    skills/<name>/v<N>/skill.py   a code skill (its SKILL = {...} literal carries metadata)
    skills/<name>/v<N>/skill.json, policy.pt, config.json      a policy skill
    skills/<name>/v<N>/meta.json  provenance, metrics and the recorded hash (rebuilds the manifest)

The skills a library offers come through the ``register_skills`` hook, as simonw/llm builds
its model registry from its hook: the built-in pack, installed packages and
``RLGPT_HOME/plugins/*.py`` files register theirs, and the library registers its stored
skills through the same hook call. Running skills is ``rlgpt_cli.runner``'s job; this module
only stores and lists them.

Which version runs. Each name has one running version (``Skill.best``); the others are
candidates, listed and runnable with a pin (``name@N``). A stored version records in
``metrics["promotion"]`` whether it was promoted (it beat the version running then, judged
by ``runner.promotion``, or its name had none); the newest promoted version runs. A name
whose stored versions are all candidates runs its provided (built-in or plugin) skill; a
stored version with no promotion record (older libraries, imports) runs as before, by
measured success rate, and hides a provided skill only when it keeps that skill's contract
(``contract``: parameter names and effects). Stored versions of a provided name are numbered
after the provided one (the built-in ``collect_wood`` is v1, the first stored version v2).

Skill files are untrusted, LLM-written code. They are never imported: metadata is read with
``ast.literal_eval``; ``act`` runs only in the sandbox, and only when the files still match
the hash recorded when the skill was added. Policy weights load with
``torch.load(weights_only=True)``.

Writers take an exclusive lock and write each file atomically (temp file, fsync,
``os.replace``); a new version is staged in a temporary folder and renamed into place
before the manifest is replaced, so a crash at any point leaves the previous state; what a
killed writer left (staging and trash folders, temp files) the next writer removes under the
lock. Any OS error reading or writing the folder is a one-line ``LibraryError`` (exit 7).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import os
import pprint
import re
import shutil
import time
import uuid
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rlgpt_cli.atomic import _fsync_dir, atomic_write
from rlgpt_cli.errors import LibraryError, NotFound, SandboxError, UsageError, nearest
from rlgpt_cli.hookspecs import hookimpl
from rlgpt_cli.times import iso_utc

if TYPE_CHECKING:  # RestrictedPython loads only when code is checked or run
    from rlgpt_cli import sandbox

MANIFEST_FORMAT = 1
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
CODE_FILES = ("skill.py",)
POLICY_FILES = ("config.json", "policy.pt", "skill.json")
ARCHIVE_META = "rlgpt-skill.json"
# Largest archive member we accept (policy weights); everything else is small text.
MAX_WEIGHTS_BYTES = 512 * 1024 * 1024
MAX_TEXT_BYTES = 1024 * 1024
DEFAULT_WORLD = "crafter"


@dataclass
class Skill:
    """One version of a skill, as the planner, runner and CLI see it."""

    name: str
    version: int
    kind: str  # "code" | "policy"
    world: str
    description: str  # what the planner reads
    preconditions: dict = field(default_factory=dict)  # e.g. {"inventory": {"wood": 1}, "nearby": ["table"]}
    effects: dict = field(default_factory=dict)  # e.g. {"inventory": {"wood_pickaxe": 1}}
    params: dict = field(default_factory=dict)  # name -> default value
    provenance: dict = field(default_factory=dict)  # model, prompt, plan id, training run id, or "builtin"
    metrics: dict = field(default_factory=dict)  # success_rate, episodes, seeds, steps_trained
    created_at: str = ""
    sha256: str = ""
    path: Path | None = None  # the version's folder (None for plugin-provided skills)
    best: bool = False
    status: str = "ok"  # "ok" | "broken"
    problem: str = ""
    # A trusted generator function ``entry(api, **params)``, only for skills that installed
    # packages or plugin files register (trusted code the user installed); every other skill
    # runs from its files, code skills in the sandbox.
    entry: Callable | None = None
    # An unsaved code skill's source (a candidate being judged before it is stored).
    source: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path) if self.path else None
        data.pop("entry")
        data.pop("source")
        return data

    def files(self) -> dict[str, bytes]:
        """The skill's hashed files, read once (refusing a broken skill)."""
        if self.source is not None:
            return {"skill.py": self.source.encode("utf-8")}
        if self.path is None:
            raise LibraryError(f"skill {self.name} has no files")
        names = CODE_FILES if self.kind == "code" else POLICY_FILES
        try:
            files = {n: (self.path / n).read_bytes() for n in names}
        except OSError as exc:
            raise LibraryError(f"skill {self.name} v{self.version} is broken: {exc.strerror}: {exc.filename}") from None
        if self.sha256 and content_hash(files) != self.sha256:
            raise LibraryError(
                f"skill {self.name} v{self.version} is broken: its files do not match the recorded hash (tampered?)"
            )
        return files

    def load(self, limits: sandbox.Limits | None = None, seed: int | None = None,
             functions: dict | None = None) -> sandbox.SandboxedModule:
        """Compile and load a code skill in the sandbox, after checking its hash; ``functions``
        are trusted callables it may call by name (the runner's ``skill``)."""
        if self.kind != "code":
            raise LibraryError(f"skill {self.name} is a {self.kind} skill, not code")
        source = self.files()["skill.py"].decode("utf-8")
        from rlgpt_cli import sandbox
        return sandbox.load_module(source, f"{self.name}@v{self.version}", limits=limits, seed=seed,
                                   functions=functions)

    def load_policy(self) -> tuple[dict, dict]:
        """A policy skill's ``(state_dict, config)``; the learn module builds the network."""
        if self.kind != "policy":
            raise LibraryError(f"skill {self.name} is a {self.kind} skill, not a policy")
        files = self.files()
        return _load_weights(files["policy.pt"], self.name), json.loads(files["config.json"])


def candidate_skill(source: str) -> Skill:
    """An unsaved code skill, judged in the sandbox before it is stored (refused code raises
    LibraryError or, from the runner, SandboxError)."""
    meta = parse_code_skill(source)
    return Skill(name=meta["name"], version=0, kind="code", world=meta["world"], description=meta["description"],
                 preconditions=meta["preconditions"], effects=meta["effects"], params=meta["params"],
                 source=source)


def content_hash(files: dict[str, bytes]) -> str:
    """sha256 over a skill's files, by sorted name (length-prefixed, so unambiguous)."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def contract(skill: Skill) -> tuple:
    """What callers of a skill rely on: its parameter names and the items and stations its
    effects name (not their counts, which follow the parameters)."""
    effects = {key: tuple(sorted(value)) for key, value in (skill.effects or {}).items()
               if isinstance(value, (dict, list)) and value}
    return tuple(sorted(skill.params or {})), tuple(sorted(effects.items()))


def split_pin(ref: str) -> tuple[str, int | None]:
    """``"collect_iron@2"`` → ``("collect_iron", 2)``; ``"collect_iron"`` → ``("collect_iron", None)``."""
    name, at, pin = str(ref).partition("@")
    if not at:
        return name, None
    if not pin.isdigit() or int(pin) < 1:
        raise UsageError(f"skill pin {ref!r} must be NAME@N with a version number N >= 1")
    return name, int(pin)


def renamed_source(source: str, name: str) -> str:
    """A code skill's file with its ``SKILL`` metadata saying ``name`` (the model's code above it
    is untouched, so its line numbers stay)."""
    meta = parse_code_skill(source)
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "SKILL" for t in n.targets))
    lines = source.splitlines(keepends=True)
    literal = "SKILL = " + pprint.pformat({**meta, "name": name}, sort_dicts=False, width=100) + "\n"
    return "".join(lines[: node.lineno - 1]) + literal + "".join(lines[node.end_lineno:])


def parse_code_skill(source: str) -> dict:
    """Metadata from a code skill's ``SKILL = {...}`` literal, without executing anything.

    Raises LibraryError when the literal or the ``act`` generator is missing or malformed.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise LibraryError(f"skill source does not parse: line {exc.lineno}: {exc.msg}") from None
    meta = None
    act = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SKILL" for t in node.targets):
            try:
                meta = ast.literal_eval(node.value)
            except ValueError:
                raise LibraryError("SKILL must be a literal dict (no names or calls)") from None
        elif isinstance(node, ast.FunctionDef) and node.name == "act":
            act = node
    if not isinstance(meta, dict):
        raise LibraryError("skill source has no SKILL = {...} dict")
    if act is None or not any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(act)):
        raise LibraryError("skill source has no act(api, **params) generator (a def act that yields)")
    return _validate_meta(meta)


def _validate_meta(meta: dict) -> dict:
    name = meta.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise LibraryError(f"skill name {name!r} is invalid (lowercase letters, digits, _; starting with a letter)")
    if not isinstance(meta.get("description"), str) or not meta["description"].strip():
        raise LibraryError(f"skill {name} needs a description")
    clean = {
        "name": name,
        "description": meta["description"].strip(),
        "world": meta.get("world", DEFAULT_WORLD),
        "preconditions": meta.get("preconditions", {}),
        "effects": meta.get("effects", {}),
        "params": meta.get("params", {}),
    }
    if not isinstance(clean["world"], str):
        raise LibraryError(f"skill {name}: world must be a string")
    for key in ("preconditions", "effects", "params"):
        if not isinstance(clean[key], dict):
            raise LibraryError(f"skill {name}: {key} must be a dict")
    try:
        json.dumps(clean)
    except (TypeError, ValueError):
        raise LibraryError(f"skill {name}: metadata must be JSON-serialisable") from None
    return clean


def _load_weights(data: bytes, name: str) -> dict:
    import torch

    try:
        with warnings.catch_warnings():  # torch warns on stderr about odd pickles: the error says it
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch's refusal is a paragraph of advice around one fact: keep the fact, on one line.
        text = " ".join(str(exc).split())
        fact = text.partition("WeightsUnpickler error:")[2].partition("Check the documentation")[0].strip()
        raise LibraryError(f"policy {name}: weights do not load safely: {type(exc).__name__}: "
                           f"{(fact or text or 'no data')[:200]}") from None
    if not isinstance(state, dict):
        raise LibraryError(f"policy {name}: weights must be a state_dict (a dict of tensors)")
    return state


def _now() -> str:
    return iso_utc(time.time())


# ---------------------------------------------------------------------------------------
# Safe writes


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float):
    """The library's writer lock (an OS file lock, released by the OS if the holder dies)."""
    from filelock import FileLock, Timeout

    lock = FileLock(path, timeout=timeout)
    try:
        lock.acquire(poll_interval=0.02)
    except Timeout:
        raise LibraryError(f"library is locked by another process ({path})") from None
    try:
        yield
    finally:
        lock.release()


# ---------------------------------------------------------------------------------------
# The library


class Library:
    """A skill library folder, plus the skills it is offered: read-only built-in skill folders
    (provenance ``builtin``) and, with ``plugins``, every skill the ``register_skills`` hook
    provides (the built-in pack, installed packages, plugin files).

    Built-in folders hold ``<name>.py`` code skills and ``<name>/`` policy folders
    (skill.json, config.json, policy.pt). Which version of a name runs: see the module's docstring.
    """

    def __init__(self, path: Path | str, builtin_dirs: tuple[Path | str, ...] | list = (), lock_timeout: float = 10.0,
                 plugins: bool = False):
        self.path = Path(path)
        self.builtin_dirs = [Path(d) for d in builtin_dirs]
        self.plugins = plugins
        self.lock_timeout = lock_timeout
        self.skills_dir = self.path / "skills"
        self.manifest_path = self.path / "manifest.json"
        self.lock_path = self.path / "library.lock"

    # -- reading --------------------------------------------------------------------------

    def _read_manifest(self) -> dict:
        try:
            raw = self.manifest_path.read_bytes()
        except FileNotFoundError:
            return {"format": MANIFEST_FORMAT, "skills": {}}
        except OSError as exc:
            raise self._unusable(exc, "read") from None
        try:
            manifest = json.loads(raw)
            _check_manifest(manifest)
        except ValueError as exc:
            raise LibraryError(
                f"library manifest {self.manifest_path} is corrupt ({exc}); "
                "run `rlgpt skills rebuild` to rebuild it from the skill folders"
            ) from None
        return manifest

    def _unusable(self, exc: OSError, doing: str) -> LibraryError:
        """An OS error reading or writing the library folder, as one line naming the folder."""
        why = "a file is in its place or on its path" if isinstance(exc, NotADirectoryError) or self.path.is_file() \
            else f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror or str(exc)
        return LibraryError(f"library {self.path} cannot be {'read' if doing == 'read' else 'written'} ({why}); "
                            "give a writable folder with --library or RLGPT_LIBRARY")

    def _skill(self, name: str, version: str, record: dict, best: int | None) -> Skill:
        skill = Skill(
            name=name,
            version=int(version),
            path=self.skills_dir / name / f"v{version}",
            best=int(version) == best,
            **{k: record[k] for k in _RECORD_KEYS if k in record},
        )
        self._check_integrity(skill)
        return skill

    @staticmethod
    def _check_integrity(skill: Skill) -> None:
        try:
            skill.files()
        except LibraryError as exc:
            skill.status, skill.problem = "broken", exc.message

    def _library_skills(self) -> dict[str, list[Skill]]:
        skills = {}
        for name, entry in self._read_manifest()["skills"].items():
            best = entry.get("best")
            versions = sorted(entry["versions"].items(), key=lambda item: int(item[0]))
            skills[name] = [self._skill(name, v, record, best) for v, record in versions]
        return skills

    def _builtin_skills(self) -> dict[str, list[Skill]]:
        skills: dict[str, list[Skill]] = {}
        for directory in self.builtin_dirs:
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                skill = self._builtin_skill(path)
                if skill is not None and skill.name not in skills:
                    skills[skill.name] = [skill]
        return skills

    def _builtin_skill(self, path: Path) -> Skill | None:
        try:
            if path.suffix == ".py" and path.is_file():
                source = path.read_bytes()
                meta = parse_code_skill(source.decode("utf-8"))
                files, kind = {"skill.py": source}, "code"
            elif (path / "skill.json").is_file():
                files = {n: (path / n).read_bytes() for n in POLICY_FILES}
                meta, kind = _validate_meta(json.loads(files["skill.json"])), "policy"
            else:
                return None
        except (OSError, ValueError, LibraryError) as exc:
            name = path.stem
            problem = exc.message if isinstance(exc, LibraryError) else str(exc)
            return Skill(name=name, version=1, kind="code", world="", description="", provenance={"source": "builtin"},
                         status="broken", problem=f"built-in skill {path}: {problem}")
        # Built-in code skills sit directly in the pack folder: give them a private view. Their
        # created_at is their file's time: when this copy of the package was built or installed.
        return _BuiltinSkill(
            **meta, version=1, kind=kind, provenance={"source": "builtin"}, sha256=content_hash(files),
            created_at=iso_utc((path if kind == "code" else path / "skill.json").stat().st_mtime),
            path=path if kind == "policy" else path.parent, best=True, builtin_file=path if kind == "code" else None,
        )

    @hookimpl
    def register_skills(self, register):
        """The stored skills (every version), handed over like any plugin's."""
        for versions in self._library_skills().values():
            for skill in versions:
                register(skill)

    def _offered(self) -> tuple[dict[str, Skill], dict[str, list[Skill]]]:
        """``(provided, stored)``: the offered skill of each name (built-in folders, then
        plugins), and the stored versions of each name."""
        provided = {name: versions[0] for name, versions in self._builtin_skills().items()}
        if not self.plugins:
            return provided, self._library_skills()
        from rlgpt_cli import plugins

        offered, stored = plugins.provided_skills(library=self)
        return {**provided, **offered}, stored

    def _merged(self) -> dict[str, list[Skill]]:
        """Every skill by name: its versions (the provided one first), exactly one running."""
        provided, stored = self._offered()
        return {name: _versions(provided.get(name), stored.get(name, [])) for name in {*provided, *stored}}

    def list(self, kind: str | None = None, world: str | None = None, all_versions: bool = False) -> list[Skill]:
        """Skills sorted by name: the running version of each (or every version)."""
        merged = self._merged()
        found = []
        for name in sorted(merged):
            versions = merged[name]
            chosen = versions if all_versions else [next((s for s in versions if s.best), versions[-1])]
            found += [s for s in chosen if (kind is None or s.kind == kind) and (world is None or s.world == world)]
        return found

    def get(self, name: str, version: int | None = None) -> Skill:
        """One skill: the running version, unless ``version`` is given or ``name`` is pinned
        (``collect_iron@2``); NotFound names the nearest names, or the versions there are."""
        name, pin = split_pin(name)
        if pin is not None and version not in (None, pin):
            raise UsageError(f"skill {name}@{pin} pins version {pin}, but version {version} was asked for")
        version = version or pin
        merged = self._merged()
        if name not in merged:
            raise NotFound(f"no skill named {name!r}{nearest(name, merged)}")
        versions = merged[name]
        if version is None:
            return next((s for s in versions if s.best), versions[-1])
        for skill in reversed(versions):
            if skill.version == version:
                return skill
        known = ", ".join(str(s.version) for s in versions)
        raise NotFound(f"skill {name} has no version {version} (versions: {known})")

    def running(self, name: str) -> Skill | None:
        """The version of ``name`` that runs now, or None when no skill has that name."""
        try:
            return self.get(name)
        except NotFound:
            return None

    def verify(self) -> list[dict]:
        """Every stored version (and built-in) checked: hash, sandbox rules, loadability."""
        report = []
        for skill in self.list(all_versions=True):
            if skill.status == "ok":
                try:
                    files = skill.files()
                    if skill.kind == "code":
                        source = files["skill.py"].decode("utf-8")
                        parse_code_skill(source)
                        from rlgpt_cli import sandbox
                        reasons = sandbox.check_source(source, f"{skill.name}@v{skill.version}")
                        if reasons:
                            raise LibraryError("sandbox refuses it: " + "; ".join(reasons))
                    else:
                        json.loads(files["config.json"])
                        _validate_meta(json.loads(files["skill.json"]))
                        # The hash only says the files are the ones recorded: load the weights too.
                        _load_weights(files["policy.pt"], f"{skill.name} v{skill.version}")
                except (LibraryError, UnicodeDecodeError, ValueError) as exc:
                    skill.status = "broken"
                    skill.problem = exc.message if isinstance(exc, LibraryError) else f"unloadable: {exc}"
            report.append({"name": skill.name, "version": skill.version, "kind": skill.kind,
                           "status": skill.status, "problem": skill.problem})
        return report

    # -- writing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self):
        """Hold the writer lock; any OS error inside (a read-only or full disk, a file where a
        folder should be) ends as one LibraryError line, after the atomic writes left the
        previous state."""
        try:
            self.skills_dir.mkdir(parents=True, exist_ok=True)
            with _file_lock(self.lock_path, self.lock_timeout):
                self._clean_leftovers()
                yield
        except OSError as exc:
            raise self._unusable(exc, "write") from None

    def check_writable(self) -> None:
        """A LibraryError now, before any work, when a save at the end could not be written
        (cleaning killed writers' leftovers on the way)."""
        with self._writing():
            pass

    def _clean_leftovers(self) -> None:
        """Remove what killed writers left: staged versions, removed folders, temp files.

        Called with the writer lock held. Every writer stages, trashes and writes temp files
        only while it holds the lock, and removes its own before it lets go; so whatever is
        here now belongs to a writer that died holding it (the OS released its lock)."""
        doomed = [*self.skills_dir.glob(".trash-*"), *self.skills_dir.glob("*/.staging-*")]
        for path in doomed:
            shutil.rmtree(path, ignore_errors=True)
        for tmp in [*self.path.glob(f".{self.manifest_path.name}.*.tmp"), *self.skills_dir.glob("*/v*/.*.tmp")]:
            tmp.unlink(missing_ok=True)

    def _write_manifest(self, manifest: dict) -> None:
        atomic_write(self.manifest_path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())

    def _next_version(self, manifest: dict, name: str) -> int:
        # Folders count too: a crash after the rename but before the manifest update leaves
        # an orphan version that `rebuild` recovers, and that must not be overwritten. A
        # provided skill's number counts as well, so a pin names one skill.
        known = [int(v) for v in manifest["skills"].get(name, {}).get("versions", {})]
        on_disk = [int(p.name[1:]) for p in (self.skills_dir / name).glob("v*") if p.name[1:].isdigit()]
        offered = self._offered()[0].get(name)
        return max(known + on_disk + ([offered.version] if offered else []), default=0) + 1

    def _store(self, meta: dict, kind: str, files: dict[str, bytes],
               metrics: dict | None, provenance: dict | None) -> Skill:
        record = {
            "kind": kind,
            "world": meta["world"],
            "description": meta["description"],
            "preconditions": meta["preconditions"],
            "effects": meta["effects"],
            "params": meta["params"],
            "provenance": dict(provenance or {}),
            "metrics": dict(metrics or {}),
            "created_at": _now(),
            "sha256": content_hash(files),
        }
        name = meta["name"]
        with self._writing():
            manifest = self._read_manifest()
            version = self._next_version(manifest, name)
            skill_dir = self.skills_dir / name
            skill_dir.mkdir(exist_ok=True)
            staging = skill_dir / f".staging-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                for filename, data in {**files, "meta.json": _meta_json(name, version, record)}.items():
                    atomic_write(staging / filename, data)
                os.rename(staging, skill_dir / f"v{version}")
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            _fsync_dir(skill_dir)
            entry = manifest["skills"].setdefault(name, {"versions": {}})
            entry["versions"][str(version)] = record
            entry["best"] = _running_version(entry["versions"])
            try:
                self._write_manifest(manifest)
            except OSError:  # a full disk: the version it never recorded goes, the library is as it was
                shutil.rmtree(skill_dir / f"v{version}", ignore_errors=True)
                raise
        return self.get(name, version)

    def add_code_skill(self, source: str, metrics: dict | None = None, provenance: dict | None = None) -> Skill:
        """Store a code skill (as the next version of its name), after the sandbox accepts it."""
        meta = parse_code_skill(source)
        from rlgpt_cli import sandbox
        reasons = sandbox.check_source(source, meta["name"])
        if reasons:
            raise SandboxError(f"skill {meta['name']} refused by the sandbox: {'; '.join(reasons)}")
        return self._store(meta, "code", {"skill.py": source.encode("utf-8")}, metrics, provenance)

    def add_policy_skill(
        self,
        name: str,
        weights: bytes | Path | str | dict,
        config: dict,
        *,
        description: str,
        world: str = DEFAULT_WORLD,
        preconditions: dict | None = None,
        effects: dict | None = None,
        params: dict | None = None,
        metrics: dict | None = None,
        provenance: dict | None = None,
    ) -> Skill:
        """Store a trained policy: weights (a state_dict, its torch.save bytes, or a file
        path), and its config (observation, action space and macro-actions, reward code)."""
        meta = _validate_meta({"name": name, "description": description, "world": world,
                               "preconditions": preconditions or {}, "effects": effects or {}, "params": params or {}})
        if isinstance(weights, dict):
            import torch

            buffer = io.BytesIO()
            torch.save(weights, buffer)
            weights = buffer.getvalue()
        elif isinstance(weights, (str, Path)):
            weights = Path(weights).read_bytes()
        _load_weights(weights, name)  # refuse what would not load safely later
        reward_code = config.get("reward_code")
        if isinstance(reward_code, str):
            from rlgpt_cli import sandbox
            reasons = sandbox.check_source(reward_code, f"{name}-reward")
            if reasons:
                raise SandboxError(f"policy {name}: reward code refused by the sandbox: {'; '.join(reasons)}")
        try:
            config_bytes = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
        except (TypeError, ValueError):
            raise LibraryError(f"policy {name}: config must be JSON-serialisable") from None
        files = {
            "policy.pt": weights,
            "config.json": config_bytes,
            "skill.json": (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode(),
        }
        return self._store(meta, "policy", files, metrics, provenance)

    def update_metrics(self, name: str, version: int, metrics: dict) -> Skill:
        """Record new measurements for a version (and re-pick the running version: a
        ``promotion`` record decides it, see the module's docstring)."""
        with self._writing():
            manifest = self._read_manifest()
            entry = manifest["skills"].get(name)
            if entry is None or str(version) not in entry["versions"]:
                raise NotFound(f"no stored skill {name} v{version}")
            record = entry["versions"][str(version)]
            record["metrics"] = {**record.get("metrics", {}), **metrics}
            entry["best"] = _running_version(entry["versions"])
            atomic_write(self.skills_dir / name / f"v{version}" / "meta.json", _meta_json(name, version, record))
            self._write_manifest(manifest)
        return self.get(name, version)

    def remove(self, name: str, version: int | None = None) -> None:
        """Delete a skill (every version, or one). Built-in skills cannot be removed."""
        with self._writing():
            manifest = self._read_manifest()
            entry = manifest["skills"].get(name)
            if entry is None:
                raise NotFound(f"no stored skill named {name!r}{nearest(name, manifest['skills'])}")
            if version is None:
                del manifest["skills"][name]
                doomed = self.skills_dir / name
            else:
                if entry["versions"].pop(str(version), None) is None:
                    raise NotFound(f"skill {name} has no version {version}")
                if entry["versions"]:
                    entry["best"] = _running_version(entry["versions"])
                else:
                    del manifest["skills"][name]
                doomed = self.skills_dir / name / f"v{version}"
            # Manifest first: a crash before the folder is gone leaves an orphan, never a
            # manifest entry pointing at missing files.
            self._write_manifest(manifest)
            trash = self.skills_dir / f".trash-{uuid.uuid4().hex}"
            if doomed.exists():
                os.rename(doomed, trash)
                shutil.rmtree(trash, ignore_errors=True)

    def rebuild(self) -> list[str]:
        """Rebuild manifest.json from the version folders' meta.json files.

        Returns one line per folder that could not be used. Hashes come from meta.json (as
        recorded when the skill was added), so a tampered file stays broken.
        """
        problems = []
        with self._writing():
            skills: dict = {}
            for version_dir in sorted(self.skills_dir.glob("*/v*")):
                name, number = version_dir.parent.name, version_dir.name[1:]
                if not number.isdigit():
                    continue
                try:
                    meta = json.loads((version_dir / "meta.json").read_bytes())
                    record = {k: meta[k] for k in _RECORD_KEYS}
                    _check_manifest({"skills": {name: {"versions": {str(int(number)): record}}}})
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    problems.append(f"{name}/v{number}: meta.json unusable ({type(exc).__name__}: {exc})")
                    continue
                skills.setdefault(name, {"versions": {}})["versions"][str(int(number))] = record
            for entry in skills.values():
                entry["best"] = _running_version(entry["versions"])
            self._write_manifest({"format": MANIFEST_FORMAT, "skills": skills})
        return problems

    # -- portable archives ----------------------------------------------------------------

    def export(self, name: str, path: Path | str, version: int | None = None) -> Path:
        """Write one skill version to a ``.zip`` or ``.tar.gz`` archive."""
        skill = self.get(name, version)
        files = skill.files()
        meta = {k: v for k, v in skill.to_dict().items() if k in _RECORD_KEYS}
        meta.update(name=skill.name, version=skill.version, format=MANIFEST_FORMAT)
        members = {ARCHIVE_META: json.dumps(meta, indent=2, sort_keys=True).encode(),
                   **{f"files/{n}": data for n, data in files.items()}}
        import tarfile  # archives only here and in reading them: not on every command's start
        import zipfile

        path = Path(path)
        buffer = io.BytesIO()
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for member, data in members.items():
                    archive.writestr(member, data)
        elif path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
                for member, data in members.items():
                    info = tarfile.TarInfo(member)
                    info.size = len(data)
                    info.mtime = int(time.time())
                    archive.addfile(info, io.BytesIO(data))
        else:
            raise LibraryError(f"archive {path} must end in .zip or .tar.gz")
        atomic_write(path, buffer.getvalue())
        return path

    def import_(self, path: Path | str) -> Skill:
        """Add a skill from an exported archive, as the next version of its name.

        Members are read into memory, never extracted, and only the expected names are
        accepted; the files must match the archive's recorded hash and pass the same checks
        as a new skill.
        """
        members = _read_archive(Path(path))
        if ARCHIVE_META not in members:
            raise LibraryError(f"{path} is not an rlgpt skill archive (no {ARCHIVE_META})")
        try:
            meta = json.loads(members.pop(ARCHIVE_META))
            kind = meta["kind"]
        except (ValueError, KeyError, TypeError):
            raise LibraryError(f"{path}: {ARCHIVE_META} is not valid") from None
        files = {name.removeprefix("files/"): data for name, data in members.items()}
        expected = CODE_FILES if kind == "code" else POLICY_FILES if kind == "policy" else None
        if expected is None or sorted(files) != sorted(expected):
            raise LibraryError(f"{path}: a {kind} skill archive must hold exactly {', '.join(expected or ())}")
        if content_hash(files) != meta.get("sha256"):
            raise LibraryError(f"{path}: files do not match the archive's recorded hash")
        provenance = {**meta.get("provenance", {}), "imported_from": Path(path).name}
        # A promotion was judged against another library's versions: here it is not judged.
        metrics = {k: v for k, v in (meta.get("metrics") or {}).items() if k != "promotion"}
        if kind == "code":
            return self.add_code_skill(files["skill.py"].decode("utf-8"), metrics, provenance)
        info = _validate_meta(json.loads(files["skill.json"]))
        return self.add_policy_skill(
            info["name"], files["policy.pt"], json.loads(files["config.json"]), description=info["description"],
            world=info["world"], preconditions=info["preconditions"], effects=info["effects"], params=info["params"],
            metrics=metrics, provenance=provenance,
        )


_RECORD_KEYS = ("kind", "world", "description", "preconditions", "effects", "params", "provenance", "metrics",
                "created_at", "sha256")
_ARCHIVE_MEMBERS = {ARCHIVE_META} | {f"files/{n}" for n in CODE_FILES + POLICY_FILES}


@dataclass
class _BuiltinSkill(Skill):
    """A skill from the read-only built-in pack: its code file is ``<name>.py``."""

    builtin_file: Path | None = None

    def files(self) -> dict[str, bytes]:
        if self.builtin_file is None:
            return super().files()
        try:
            files = {"skill.py": self.builtin_file.read_bytes()}
        except OSError as exc:
            raise LibraryError(f"built-in skill {self.name} is unreadable: {exc.strerror}") from None
        if content_hash(files) != self.sha256:
            raise LibraryError(f"built-in skill {self.name} changed while running")
        return files

    def to_dict(self) -> dict:
        data = super().to_dict()
        data.pop("builtin_file")
        data["path"] = str(self.builtin_file or self.path)
        return data


def _check_manifest(manifest) -> None:
    """ValueError saying what is wrong when ``manifest`` is not of the shape writers make."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("skills"), dict):
        raise ValueError("no skills table")
    for name, entry in manifest["skills"].items():
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValueError(f"skill name {name!r} is invalid")
        if not isinstance(entry, dict) or not isinstance(entry.get("versions"), dict) or not entry["versions"]:
            raise ValueError(f"{name} has no versions table")
        if entry.get("best") is not None and type(entry["best"]) is not int:
            raise ValueError(f"{name}: best must be a version number")
        for version, record in entry["versions"].items():
            if not (isinstance(version, str) and version.isdigit() and int(version) >= 1):
                raise ValueError(f"{name}: version {version!r} is not a number >= 1")
            if not isinstance(record, dict) or record.get("kind") not in ("code", "policy"):
                raise ValueError(f"{name} v{version}: kind must be code or policy")
            for key in ("world", "description"):
                if not isinstance(record.get(key), str):
                    raise ValueError(f"{name} v{version}: {key} must be a string")
            for key in ("created_at", "sha256"):
                if not isinstance(record.get(key, ""), str):
                    raise ValueError(f"{name} v{version}: {key} must be a string")
            for key in ("preconditions", "effects", "params", "provenance", "metrics"):
                if not isinstance(record.get(key, {}), dict):
                    raise ValueError(f"{name} v{version}: {key} must be an object")


def _meta_json(name: str, version: int, record: dict) -> bytes:
    return (json.dumps({"name": name, "version": version, **record}, indent=2, sort_keys=True) + "\n").encode()


def _promotion(record: dict) -> dict | None:
    promotion = (record.get("metrics") or {}).get("promotion")
    return promotion if isinstance(promotion, dict) else None


def _best_measured(versions: dict) -> int:
    """The version with the highest measured success rate; the newest breaks ties and
    wins when nothing was measured."""

    def score(item):
        number, record = item
        rate = record.get("metrics", {}).get("success_rate")
        return (rate if isinstance(rate, (int, float)) else -1.0, int(number))

    return int(max(versions.items(), key=score)[0])


def _running_version(versions: dict) -> int | None:
    """The stored version that runs: the newest promoted one (each promoted version beat the
    one running before it); else, among versions never judged, the best measured; else None
    (only candidates: the provided skill of the name runs, or the best measured candidate)."""
    promoted = [int(n) for n, r in versions.items() if (_promotion(r) or {}).get("promoted") is True]
    if promoted:
        return max(promoted)
    unjudged = {n: r for n, r in versions.items() if _promotion(r) is None}
    return _best_measured(unjudged) if unjudged else None


def _versions(offered: Skill | None, stored: list[Skill]) -> list[Skill]:
    """A name's versions with exactly one running (``best``): the running stored version,
    unless it was never judged and changes the provided skill's contract; else the provided
    skill; else the best measured stored version."""
    running = next((s for s in stored if s.best), None)
    if running is not None and offered is not None and running.metrics.get("promotion") is None \
            and contract(running) != contract(offered):
        running = None
    if running is None and offered is None and stored:
        records = {str(s.version): {"metrics": s.metrics} for s in stored}
        running = next(s for s in stored if s.version == _best_measured(records))
    stored = [replace(s, best=s is running) for s in stored]
    if offered is None or (running is not None and offered.version in {s.version for s in stored}):
        return stored
    # A stored version that took the provided one's number (older libraries) wins a pin: see get.
    return [replace(offered, best=running is None), *stored]


def _read_archive(path: Path) -> dict[str, bytes]:
    def check(name: str, size: int, regular: bool) -> None:
        if name not in _ARCHIVE_MEMBERS or not regular:
            raise LibraryError(f"{path}: archive member {name!r} is not allowed (unexpected name, path or type)")
        limit = MAX_WEIGHTS_BYTES if name.endswith(".pt") else MAX_TEXT_BYTES
        if size > limit:
            raise LibraryError(f"{path}: archive member {name!r} is too large ({size} bytes)")

    import tarfile
    import zipfile

    members: dict[str, bytes] = {}
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    check(info.filename, info.file_size, not info.is_dir())
                    data = archive.read(info)
                    check(info.filename, len(data), True)
                    members[info.filename] = data
        elif tarfile.is_tarfile(path):
            with tarfile.open(path, "r:*") as archive:
                for info in archive:
                    check(info.name, info.size, info.isreg())
                    members[info.name] = archive.extractfile(info).read()
        else:
            raise LibraryError(f"{path} is not a .zip or .tar.gz archive")
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise LibraryError(f"{path}: cannot read archive: {exc}") from None
    return members
