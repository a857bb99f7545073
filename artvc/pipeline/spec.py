"""``art.toml``: load and validate the stages, and add one (``art stage add``).

Format (docs/pipelines.md)::

    [stages.NAME]
    cmd = "python src/train.py"        # or: call = "package.module:function"
    deps = ["data/prepared", "src/train.py"]
    outs = ["models/model.pkl"]
    metrics = ["eval/metrics.json"]    # outputs that hold metrics (JSON/YAML/TOML/CSV): art metrics show/diff
    params = ["params.yaml:train.C"]   # FILE:KEY.PATH; a bare KEY is looked up in params.yaml or params.toml
    code = ["src/common.py"]           # extra files whose content is part of the code hash
    plots = ["eval/roc.csv", {path = "eval/loss.csv", x = "epoch", y = "loss"}]  # outputs drawn by art plots

Validation is strict and happens at load: one precise error for the first problem found.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UnsafePathError
from ..objstore.codec import MAX_TOML_BYTES
from ..workspace.paths import check_relpath
from . import templates
from .errors import SpecError
from .plots import PlotSpec, make_spec

PIPELINE_NAME = "art.toml"
DEFAULT_PARAMS = "params.toml"
# a bare param KEY is looked up in these (params.yaml first; a key in both is an error, see params.resolve)
DEFAULT_PARAMS_FILES = ("params.yaml", "params.toml")
STAGE_KEYS = frozenset({"cmd", "call", "deps", "outs", "metrics", "plots", "params", "code", "desc", "resources"})
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(@[A-Za-z0-9_.+-]{1,150})?$")  # NAME@KEY: expanded
_CALL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
_LINE = re.compile(r"line (\d+)")


@dataclass(frozen=True, slots=True)
class ParamRef:
    """One listed parameter: a dotted ``key`` inside params ``file``.

    ``bare`` is true when art.toml named no file: ``file`` is then ``params.toml`` until
    ``params.ParamsReader.resolve`` picks params.yaml or params.toml by where the key is.
    """

    file: str
    key: str
    bare: bool = False

    def __str__(self) -> str:
        return self.key if self.bare else f"{self.file}:{self.key}"


@dataclass(frozen=True, slots=True)
class Stage:
    """One pipeline stage as declared (paths are repo-relative POSIX).

    ``outs`` holds every output, the ``metrics`` files included (they are stored, cached and restored like any
    other output); ``metrics`` says which of them hold metrics.
    """

    name: str
    cmd: str | None
    call: str | None
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params: tuple[ParamRef, ...]
    code: tuple[str, ...]
    desc: str = ""
    metrics: tuple[str, ...] = ()
    plots: tuple[PlotSpec, ...] = ()  # their paths are also in ``outs``
    # what a worker must offer to run it (``--executor dask``: Dask worker resources); in neither the run key
    # nor staleness, and ignored by the local executor
    resources: tuple[tuple[str, float], ...] = ()

    @property
    def command(self) -> str:
        """What the stage runs, for display: the shell command or ``call module:function``."""
        return self.cmd if self.cmd is not None else f"call {self.call}"


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The validated stages of ``art.toml`` in file order (templates expanded), plus the line of each stage's
    header (an expanded stage has its template's)."""

    stages: dict[str, Stage]
    lines: dict[str, int]
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # foreach/matrix name -> its stages

    def resolve(self, names: Iterable[str]) -> tuple[str, ...]:
        """Stage names with each foreach/matrix name replaced by its expanded stages (others kept as given)."""
        return tuple(n for name in names for n in ((name,) if name in self.stages else self.groups.get(name, (name,))))


def parse_param(text: str) -> ParamRef:
    """Parse ``FILE:KEY`` (or a bare ``KEY``: params.yaml or params.toml, decided when the value is read).

    Raises:
        SpecError: when the file or key part is empty.
    """
    file, sep, key = text.rpartition(":")
    if not sep:
        file = DEFAULT_PARAMS
    if not key or not file or any(not part for part in key.split(".")):
        raise SpecError(f"malformed param {text!r}", hint="write params as FILE:KEY, e.g. params.yaml:train.lr")
    return ParamRef(file, key, bare=not sep)


def load(root: Path, *, check_deps: bool = True) -> Pipeline | None:
    """Load and validate ``root/art.toml``; return None when there is none.

    Raises:
        SpecError: malformed TOML (with its line), unknown keys, bad paths, duplicate or nested outs,
            a dependency that neither exists nor is produced.
        CycleError: when stages depend on each other in a circle.
    """
    path = root / PIPELINE_NAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {PIPELINE_NAME}: {exc}") from exc
    return parse(text, root, check_deps=check_deps)


def parse(text: str, root: Path, *, check_deps: bool = True) -> Pipeline:
    """Validate the text of an ``art.toml`` (see ``load``)."""
    limit = MAX_TOML_BYTES["art.toml"]
    if len(text) > limit:
        raise SpecError(f"{PIPELINE_NAME} is too large ({len(text)} characters, the limit is {limit} bytes)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _LINE.search(str(exc))
        raise SpecError(f"{PIPELINE_NAME} is not valid TOML: {exc}", line=int(m.group(1)) if m else None) from exc
    except RecursionError as exc:
        raise SpecError(f"{PIPELINE_NAME} is not valid TOML: nested too deeply") from exc
    lines = _header_lines(text)
    unknown = set(data) - {"stages", "vars"}
    if unknown:
        raise SpecError(
            f"unknown top-level key {sorted(unknown)[0]!r} in {PIPELINE_NAME}",
            hint="only 'vars' and [stages.NAME] tables belong in art.toml",
        )
    if not isinstance(data.get("stages", {}), dict):
        raise SpecError(f"'stages' in {PIPELINE_NAME} must be a table of [stages.NAME] tables")
    found = templates.expand(data, root, lines, vars_line=_vars_line(text))
    stages = {name: _stage(name, body, found.lines.get(name)) for name, body in found.stages.items()}
    pipeline = Pipeline(stages, found.lines, found.groups)
    validate(pipeline, root, check_deps=check_deps)
    return pipeline


def _header_lines(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    pattern = re.compile(r"^\s*\[\s*stages\s*\.\s*\"?([^\]\"]+?)\"?\s*\]")
    for n, line in enumerate(text.splitlines(), 1):
        m = pattern.match(line)
        if m:
            found.setdefault(m.group(1), n)
    return found


def _vars_line(text: str) -> int | None:
    """The line of the top-level ``vars`` (a key before the first table, or a ``[vars]`` table)."""
    m = re.search(r"\A(?:[^\[]*?\n)?[ \t]*vars[ \t]*=|^[ \t]*\[[ \t]*vars[ \t]*\]", text, re.M | re.S)
    return text.count("\n", 0, m.end()) + 1 if m else None


def _where(name: str, line: int | None) -> str:
    return f"stage {name}" + (f" ({PIPELINE_NAME} line {line})" if line else "")


def _stage(name: str, body: Any, line: int | None) -> Stage:
    where = _where(name, line)
    if not _NAME.match(name):
        raise SpecError(
            f"invalid stage name {name!r}", line=line, hint="stage names use letters, digits, '_', '-' and '.'"
        )
    if not isinstance(body, dict):
        raise SpecError(f"{where} must be a table", line=line)
    unknown = sorted(set(body) - STAGE_KEYS)
    if unknown:
        raise SpecError(
            f"{where}: unknown key {unknown[0]!r}", line=line, hint=f"known keys: {', '.join(sorted(STAGE_KEYS))}"
        )
    cmd, call = body.get("cmd"), body.get("call")
    if (cmd is None) == (call is None):
        raise SpecError(f"{where}: needs exactly one of 'cmd' or 'call'", line=line)
    if cmd is not None and (not isinstance(cmd, str) or not cmd.strip()):
        raise SpecError(f"{where}: 'cmd' must be a non-empty string", line=line)
    if call is not None and (not isinstance(call, str) or not _CALL.match(call)):
        raise SpecError(f"{where}: 'call' must look like 'package.module:function', got {call!r}", line=line)
    desc = body.get("desc", "")
    if not isinstance(desc, str):
        raise SpecError(f"{where}: 'desc' must be a string", line=line)
    params = tuple(_param(p, where, line) for p in _strings(body, "params", where, line))
    outs = _paths(body, "outs", where, line)
    metrics = _paths(body, "metrics", where, line)
    both = next((m for m in metrics if m in outs), None)
    if both:
        raise SpecError(
            f"{where}: {both} is listed in both 'outs' and 'metrics'",
            line=line,
            hint="a metrics file is an output already: list it in 'metrics' only",
        )
    outs += metrics
    plots = _plots(body, where, line)
    both = next((p.path for p in plots if p.path in outs), None)
    if both:
        other = "metrics" if both in metrics else "outs"
        raise SpecError(f"{where}: {both} is listed in both '{other}' and 'plots'", line=line, hint="list it once")
    outs += tuple(p.path for p in plots)  # a plot file is an output: stored, cached and restored like one
    for out in outs:
        _check_out(out, where, line)
    deps, code = _paths(body, "deps", where, line), _paths(body, "code", where, line)
    resources = _resources(body.get("resources"), where, line)
    return Stage(name, cmd, call, deps, outs, params, code, desc, metrics, plots=plots, resources=resources)


def _resources(raw: object, where: str, line: int | None) -> tuple[tuple[str, float], ...]:
    """``resources = {GPU = 1, MEMORY = 16e9}``: names -> positive numbers."""
    if raw is None:
        return ()
    from ..errors import ArtError
    from .executors.protocol import check_resources

    try:
        checked = check_resources(raw, where)
    except ArtError:
        raise SpecError(
            f"{where}: 'resources' must be a table of names to positive numbers, e.g. {{GPU = 1, MEMORY = 16e9}}",
            line=line,
        ) from None
    return tuple(sorted(checked.items()))


def _plots(body: dict, where: str, line: int | None) -> tuple[PlotSpec, ...]:
    """The ``plots`` entries: paths, or tables ``{path, x, y, template, title, x_label, y_label}``."""
    raw = body.get("plots", [])
    if isinstance(raw, (str, dict)):
        raw = [raw]
    if not isinstance(raw, list):
        raise SpecError(f"{where}: 'plots' must be a list of paths or of tables with a 'path'", line=line)
    specs: list[PlotSpec] = []
    for item in raw:
        entry = dict(item) if isinstance(item, dict) else {"path": item}
        path = entry.pop("path", None)
        if not isinstance(path, str) or not path:
            raise SpecError(f"{where}: each entry of 'plots' needs a 'path' (a string)", line=line)
        rel = _paths({"plots": [path]}, "plots", where, line)[0]
        try:
            specs.append(make_spec(rel, entry))
        except ValueError as exc:
            raise SpecError(f"{where}: plot {rel}: {exc}", line=line, hint="see 'Plots' in docs/pipelines.md") from None
    paths = [s.path for s in specs]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise SpecError(f"{where}: {dup!r} is listed twice in 'plots'", line=line)
    return tuple(specs)


def _param(text: str, where: str, line: int | None) -> ParamRef:
    ref = parse_param(text)
    try:
        file = check_relpath(ref.file, where=PIPELINE_NAME)
    except UnsafePathError as exc:
        raise SpecError(
            f"{where}: params file {ref.file!r} must be relative to the workspace root, without '..', "
            "and outside .git/.art",
            line=line,
        ) from exc
    if not file:
        raise SpecError(f"{where}: params file {ref.file!r} is not a file", line=line)
    return ParamRef(file, ref.key, ref.bare)


# files art itself writes or reads as configuration: a stage may not produce them
_OWN_FILES = {PIPELINE_NAME: "it defines the pipeline", "art.lock": "art repro writes it"}


def _check_out(out: str, where: str, line: int | None) -> None:
    """Refuse outputs that would clobber art's own files or that git's ignore file cannot name."""
    from ..workspace.gitignore import check_ignorable
    from ..workspace.pointers import SUFFIX

    name = out.rpartition("/")[2]
    why = (
        _OWN_FILES.get(out)
        or ("art and git keep their ignore lists in it" if name == ".gitignore" else None)
        or ("it would look like an art pointer file" if name.endswith(SUFFIX) else None)
    )
    if why:
        raise SpecError(
            f"{where}: {out} cannot be an output: {why}",
            line=line,
            hint="outputs are the data files or folders the command writes",
        )
    try:
        check_ignorable(out)
    except UnsafePathError as exc:
        raise SpecError(
            f"{where}: output {out!r} cannot be named in a .gitignore (newline, or a carriage return at the end)",
            line=line,
            hint="rename the output",
        ) from exc


def _strings(body: dict, key: str, where: str, line: int | None) -> list[str]:
    value = body.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"{where}: '{key}' must be a list of strings", line=line)
    if len(set(value)) != len(value):
        dup = next(v for v in value if value.count(v) > 1)
        raise SpecError(f"{where}: {dup!r} is listed twice in '{key}'", line=line)
    return value


def _paths(body: dict, key: str, where: str, line: int | None) -> tuple[str, ...]:
    out = []
    for raw in _strings(body, key, where, line):
        try:
            rel = check_relpath(raw.rstrip("/") or "/", where=PIPELINE_NAME)
        except UnsafePathError as exc:
            raise SpecError(
                f"{where}: {key} path {raw!r} must be relative to the workspace root, without '..', "
                "and outside .git/.art",
                line=line,
            ) from exc
        if not rel:
            raise SpecError(
                f"{where}: {key} path {raw!r} is the workspace root itself",
                line=line,
                hint="name the files or folders inside it",
            )
        out.append(rel)
    if len(set(out)) != len(out):
        dup = next(v for v in out if out.count(v) > 1)
        raise SpecError(f"{where}: {dup!r} is listed twice in '{key}'", line=line)
    return tuple(out)


def validate(pipeline: Pipeline, root: Path, *, check_deps: bool = True) -> None:
    """Check outs (no duplicates, no nesting), deps (exist or produced), code files, and cycles.

    Raises:
        SpecError, MissingDependencyError, CycleError: for the first problem found.
    """
    from .dag import Graph
    from .errors import MissingDependencyError

    owner: dict[str, str] = {}
    for stage in pipeline.stages.values():
        for out in stage.outs:
            if out in owner:
                raise SpecError(
                    f"output {out} is declared by two stages: {owner[out]} and {stage.name}"
                    + _lines_of(pipeline, owner[out], stage.name),
                    line=pipeline.lines.get(stage.name),
                    hint="every output has exactly one stage",
                )
            owner[out] = stage.name
            if out in stage.deps:
                raise SpecError(
                    f"{_where(stage.name, pipeline.lines.get(stage.name))}: {out} is both a dep and an out",
                    line=pipeline.lines.get(stage.name),
                )
    for b in sorted(owner):
        parts = b.split("/")
        for i in range(1, len(parts)):
            a = "/".join(parts[:i])
            if a in owner:
                raise SpecError(
                    f"output {b} (stage {owner[b]}) is inside output {a} (stage {owner[a]})"
                    + _lines_of(pipeline, owner[b], owner[a]),
                    line=pipeline.lines.get(owner[b]),
                    hint="outputs may not overlap; declare the directory or the files, not both",
                )
    for stage in pipeline.stages.values():
        _check_places(stage, root, pipeline.lines.get(stage.name))
    graph = Graph(pipeline.stages)
    if not check_deps:
        return
    for stage in pipeline.stages.values():
        for dep in stage.deps:
            if not graph.producers(dep) and not os.path.lexists(root / dep):
                raise MissingDependencyError(stage.name, dep)
        for code in stage.code:
            if not (root / code).is_file():
                raise SpecError(
                    f"{_where(stage.name, pipeline.lines.get(stage.name))}: code file {code} does not exist",
                    line=pipeline.lines.get(stage.name),
                )


def _lines_of(pipeline: Pipeline, *names: str) -> str:
    lines = [str(pipeline.lines[n]) for n in names if n in pipeline.lines]
    return f" ({PIPELINE_NAME} line{'s' if len(lines) > 1 else ''} {' and '.join(lines)})" if lines else ""


def _check_places(stage: Stage, root: Path, line: int | None) -> None:
    """Refuse paths that reach outside the workspace through a symlink, and outputs that are (inside, or
    parents of) artifacts tracked by a pointer file: ``art add`` and ``art repro`` would both own them."""
    from ..workspace.pointers import SUFFIX

    where = _where(stage.name, line)
    real_root = os.path.realpath(root)
    reads = [("deps", p) for p in stage.deps] + [("code", p) for p in stage.code]
    reads += [("params", f) for p in stage.params for f in (DEFAULT_PARAMS_FILES if p.bare else (p.file,))]
    for key, path in reads + [("outs", p) for p in stage.outs]:
        # an output is replaced, so only its folder must be inside; an input is read through every link
        probe = root / path if key != "outs" else (root / path).parent
        real = os.path.realpath(probe)
        if real != real_root and not real.startswith(real_root + os.sep):
            what = "params file" if key == "params" else f"{key} path"
            raise SpecError(
                f"{where}: {what} {path!r} leads outside the workspace through a symlink ({real})",
                line=line,
                hint="keep pipeline files inside the workspace",
            )
    for out in stage.outs:
        parts = out.split("/")
        for i in range(len(parts), 0, -1):
            base = "/".join(parts[:i])
            if os.path.lexists(root / (base + SUFFIX)):
                inside = "" if base == out else f" is inside {base}, which"
                raise SpecError(
                    f"{where}: output {out}{inside} is tracked by {base}{SUFFIX} (art add)",
                    line=line,
                    hint=f"an artifact has one owner: remove {base}{SUFFIX} or pick another output path",
                )


def pointer_overlaps(pipeline: Pipeline, root: Path, names: list[str] | None = None) -> None:
    """Refuse directory outputs that hold pointer files (``art add`` artifacts) among ``names`` (all stages).

    This walks each existing output folder, so only the commands that are about to write outputs call it
    (``art repro`` for the stages it plans, ``art stage add`` for the new stage).

    Raises:
        SpecError: naming the stage, its line, and the first pointer file found.
    """
    from ..workspace.pointers import SUFFIX

    for name in names if names is not None else list(pipeline.stages):
        stage = pipeline.stages[name]
        for out in stage.outs:
            full = root / out
            if not full.is_dir() or full.is_symlink():
                continue
            for dirpath, dirnames, filenames in os.walk(full):
                found = next((f for f in sorted(filenames) if f.endswith(SUFFIX) and len(f) > len(SUFFIX)), None)
                if found:
                    rel = Path(dirpath, found).relative_to(root).as_posix()
                    line = pipeline.lines.get(name)
                    raise SpecError(
                        f"{_where(name, line)}: output {out} contains {rel[: -len(SUFFIX)]}, tracked "
                        f"by {rel} (art add)",
                        line=line,
                        hint=f"an artifact has one owner: remove {rel} or pick another output path",
                    )
                dirnames.sort()


def add_stage(root: Path, name: str, body: dict[str, Any], *, force: bool = False) -> Stage:
    """Add (or with ``force`` replace) stage ``name`` in ``art.toml``, validating the result first.

    The caller holds the repository lock (``art.toml`` is read, changed and replaced).

    Args:
        root: the workspace root.
        name: the stage name.
        body: the stage table (cmd or call, deps, outs, params, code); empty lists are left out.

    Raises:
        SpecError: when the stage exists (without ``force``) or the resulting pipeline is invalid.
    """
    from ..objstore.fileio import atomic_write
    from ..workspace import tomledit

    path = root / PIPELINE_NAME
    text = path.read_text() if path.exists() else ""
    current = parse(text, root, check_deps=False) if text else None
    try:
        doc = tomledit.parse(text)  # keeps the file's comments, blank lines and order
    except ValueError as exc:
        raise SpecError(f"cannot edit {PIPELINE_NAME}: {exc}", hint="fix the file by hand") from exc
    if current is not None and (name in current.stages or name in current.groups) and not force:
        raise SpecError(
            f"stage {name} already exists",
            line=current.lines.get(name),
            hint="use --force to replace it, or pick another name",
        )
    stages = tomledit.child(doc, "stages", holds_tables=True)
    tomledit.set_table(stages, name, {k: v for k, v in body.items() if v not in (None, [], "")})
    new_text = tomledit.dumps(doc, text)
    pipeline = parse(new_text, root)
    pointer_overlaps(pipeline, root, [name])
    atomic_write(path, new_text)
    return pipeline.stages[name]
