"""Plots: what a stage's ``plots`` entry declares (``PlotSpec``) and the bounded loading of their data.

A plot is a data file (CSV, TSV, or JSON holding a list of records) drawn with a template (``line``,
``scatter``, ``bar``, ``confusion``), or an image file (PNG, JPEG, SVG) shown as it is. ``plotsrender``
turns loaded plots into one self-contained HTML page; ``plotscollect`` finds them in the workspace or at git
revisions.

Everything read is bounded: a data file over ``MAX_DATA_SIZE`` bytes, more than ``MAX_ROWS`` rows, or an
image over ``MAX_IMAGE_SIZE`` bytes is refused with one error naming the file (and the line, for a value
that is not a number).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import PipelineError

TEMPLATES = ("line", "scatter", "bar", "confusion")
DATA_FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json"}
IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".svg": "svg"}
SPEC_KEYS = ("path", "x", "y", "template", "title", "x_label", "y_label")
MAX_DATA_SIZE = 16 << 20  # bytes of one data file
MAX_IMAGE_SIZE = 16 << 20  # bytes of one image
MAX_ROWS = 100_000  # records of one data file
MAX_CLASSES = 100  # distinct labels on either axis of a confusion matrix
MAX_Y = 16  # y fields of one plot
MAX_TEXT = 200  # characters of a title, label or field name


class PlotsError(PipelineError):
    """A plot cannot be drawn: its data does not parse, is too large, or lacks the fields it names."""


@dataclass(frozen=True, slots=True)
class PlotSpec:
    """One plot as declared: the file, its template (``image`` for an image file), and the fields drawn.

    ``x`` None: the first field (the row number when the data has a single field); ``y`` empty: the last field.
    """

    path: str
    template: str = "line"
    x: str | None = None
    y: tuple[str, ...] = ()
    title: str = ""
    x_label: str = ""
    y_label: str = ""

    @property
    def is_image(self) -> bool:
        return self.template == "image"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "template": self.template,
            "x": self.x,
            "y": list(self.y),
            "title": self.title or self.path,
        }


def suffix_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def kind_of(path: str) -> str | None:
    """``data`` or ``image`` by the file's extension; None when neither."""
    suffix = suffix_of(path)
    return "data" if suffix in DATA_FORMATS else "image" if suffix in IMAGE_FORMATS else None


def make_spec(path: str, entry: dict[str, Any] | None = None) -> PlotSpec:
    """Validate one ``plots`` entry (the table's keys other than ``path``) for the file ``path``.

    Raises:
        ValueError: the reason, to follow "plot PATH: " (the caller names the stage and line).
    """
    entry = dict(entry or {})
    unknown = sorted(set(entry) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known keys: {', '.join(SPEC_KEYS)})")
    kind = kind_of(path)
    if kind is None:
        wanted = ", ".join(sorted({*DATA_FORMATS, *IMAGE_FORMATS}))
        raise ValueError(f"not a data file or an image by its extension (one of {wanted})")
    texts = {}
    for key in ("x", "template", "title", "x_label", "y_label"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value or len(value) > MAX_TEXT):
            raise ValueError(f"'{key}' must be a non-empty string of at most {MAX_TEXT} characters")
        texts[key] = value
    y = entry.get("y", [])
    if isinstance(y, str):
        y = [y]
    if not isinstance(y, list) or not all(isinstance(v, str) and v and len(v) <= MAX_TEXT for v in y):
        raise ValueError("'y' must be a field name or a list of field names")
    if len(set(y)) != len(y) or len(y) > MAX_Y:
        raise ValueError(f"'y' must name distinct fields, at most {MAX_Y}")
    if kind == "image":
        drawn = [k for k in ("x", "template", "x_label", "y_label") if texts[k] is not None] + (["y"] if y else [])
        if drawn:
            raise ValueError(f"'{drawn[0]}' applies to data files, not to images")
        return PlotSpec(path, "image", title=texts["title"] or "")
    template = texts["template"] or "line"
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r} (one of {', '.join(TEMPLATES)})")
    if template == "confusion" and len(y) > 1:
        raise ValueError("a confusion matrix takes one 'y' field (the predicted class)")
    return PlotSpec(
        path, template, texts["x"], tuple(y), texts["title"] or "", texts["x_label"] or "", texts["y_label"] or ""
    )


# -- data ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Table:
    """Loaded records: the field names in order and one tuple of values per row (strings, numbers, None)."""

    fields: list[str]
    rows: list[tuple[Any, ...]]
    lines: list[int] = field(default_factory=list)  # the source line of each row (CSV/TSV), for errors

    def column(self, name: str) -> int:
        return self.fields.index(name)


def load_table(data: bytes, path: str, *, where: str = "") -> Table:
    """Parse a data file's content by its extension (``where`` names the revision in errors).

    Raises:
        PlotsError: too large, not valid CSV/TSV/JSON, not a list of records, or too many rows.
    """
    label = f"{path}{f' ({where})' if where else ''}"
    if len(data) > MAX_DATA_SIZE:
        raise PlotsError(
            f"plot data {label} is {len(data):,} bytes, over the {MAX_DATA_SIZE >> 20} MiB limit",
            hint="plot a summary of the data (fewer rows)",
        )
    fmt = DATA_FORMATS.get(suffix_of(path))
    if fmt is None:
        raise PlotsError(f"plot data {label} is not CSV, TSV or JSON (by its extension)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlotsError(f"plot data {label} is not UTF-8 text (byte {exc.start})") from None
    table = _json(text, label) if fmt == "json" else _csv(text, label, "\t" if fmt == "tsv" else ",")
    if len(table.rows) > MAX_ROWS:
        raise PlotsError(
            f"plot data {label} has more than {MAX_ROWS:,} rows", hint="plot a summary of the data (fewer rows)"
        )
    return table


def _csv(text: str, label: str, delimiter: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    fields: list[str] | None = None
    rows: list[tuple[Any, ...]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if fields is None:
                fields = [f.strip() for f in row]
                if not any(fields):
                    raise PlotsError(f"plot data {label}: the first line must name the fields", hint=_CSV_HINT)
                continue
            if not row or row == [""]:
                continue
            if len(row) != len(fields):
                raise PlotsError(
                    f"plot data {label} line {reader.line_num}: {len(row)} values for {len(fields)} fields",
                    hint=_CSV_HINT,
                )
            rows.append(tuple(_number(v) for v in row))
            lines.append(reader.line_num)
            if len(rows) > MAX_ROWS:
                break
    except csv.Error as exc:
        raise PlotsError(f"plot data {label} line {reader.line_num}: not valid CSV ({exc})", hint=_CSV_HINT) from None
    return Table(fields or [], rows, lines)


_CSV_HINT = "a CSV/TSV plot file has a header line naming the fields, then one line per point"
_JSON_HINT = 'a JSON plot file holds a list of records: [{"x": 1, "y": 0.5}, ...] (or {"name": [records]})'


def _number(text: str) -> Any:
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        return value
    if not math.isfinite(number):
        return None  # nan, inf: a gap, like an empty value
    return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number


def _json(text: str, label: str) -> Table:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlotsError(f"plot data {label} line {exc.lineno}: not valid JSON ({exc.msg})", hint=_JSON_HINT) from None
    except RecursionError:
        raise PlotsError(f"plot data {label}: JSON nested too deeply", hint=_JSON_HINT) from None
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(doc) != 1 or len(lists) != 1:
            raise PlotsError(f"plot data {label}: a JSON object must hold exactly one list of records", hint=_JSON_HINT)
        doc = lists[0]
    if not isinstance(doc, list):
        raise PlotsError(f"plot data {label}: JSON must be a list of records", hint=_JSON_HINT)
    fields: dict[str, None] = {}
    for i, record in enumerate(doc[: MAX_ROWS + 1]):
        if not isinstance(record, dict):
            raise PlotsError(f"plot data {label}: record {i + 1} is not an object", hint=_JSON_HINT)
        for key, value in record.items():
            if value is not None and not isinstance(value, (str, int, float)):
                raise PlotsError(f"plot data {label}: record {i + 1}: {key!r} is not a number or a string")
            fields.setdefault(key, None)
    names = list(fields)
    rows = [tuple(_json_value(r.get(k)) for k in names) for r in doc[: MAX_ROWS + 1]]
    return Table(names, rows)


def _json_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class Series:
    """One line / set of points / bars: a revision's values of one ``y`` field."""

    rev: str
    y: str
    points: list[tuple[Any, float]]
    x: str | None = None  # the x field (None: the row number)


@dataclass(frozen=True, slots=True)
class Confusion:
    """A revision's confusion matrix: ``counts[i][j]`` rows whose actual class is ``labels[i]`` and predicted
    class ``labels[j]``."""

    rev: str
    labels: list[str]
    counts: list[list[int]]


def fields_of(spec: PlotSpec, table: Table, label: str) -> tuple[str | None, list[str]]:
    """The x field (None: the row number) and the y fields a spec draws from ``table``.

    Raises:
        PlotsError: when a named field is missing.
    """
    names = table.fields
    if not names:
        raise PlotsError(f"plot data {label} has no fields", hint=_CSV_HINT)
    for name in [spec.x, *spec.y]:
        if name is not None and name not in names:
            raise PlotsError(
                f"plot {label}: no field {name!r} (fields: {', '.join(names[:20])})",
                hint="fix the plot's 'x'/'y' in art.toml, or pass -x/-y",
            )
    x = spec.x if spec.x is not None else (names[0] if len(names) > 1 else None)
    return x, list(spec.y) or [names[-1]]


def series(spec: PlotSpec, table: Table, rev: str, label: str) -> list[Series]:
    """The points of each y field (x numbers for line/scatter, any value for bar).

    Raises:
        PlotsError: naming the line (CSV/TSV) or record (JSON) of a value that is not a number.
    """
    x_name, y_names = fields_of(spec, table, label)
    xi = None if x_name is None else table.column(x_name)
    out = []
    for name in y_names:
        yi = table.column(name)
        points: list[tuple[Any, float]] = []
        for n, row in enumerate(table.rows):
            xv: Any = n if xi is None else row[xi]
            yv = row[yi]
            if yv is None or yv == "":
                continue  # a gap: a record without this field
            _need_number(yv, name, table, n, label)
            if spec.template != "bar":
                if xv is None or xv == "":
                    continue
                _need_number(xv, x_name or "", table, n, label)
            points.append((xv if spec.template != "bar" else str(xv), float(yv)))
        out.append(Series(rev, name, points, x_name))
    return out


def _need_number(value: Any, name: str, table: Table, n: int, label: str) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return
    where = f"line {table.lines[n]}" if table.lines else f"record {n + 1}"
    raise PlotsError(
        f"plot data {label} {where}: {name} is not a number: {str(value)[:40]!r}",
        hint="line and scatter plots need numbers on both axes, bar plots on y (or pick another field)",
    )


def confusion(spec: PlotSpec, table: Table, rev: str, label: str) -> Confusion:
    """Count (actual, predicted) pairs: ``x`` is the actual class, ``y`` the predicted one.

    Raises:
        PlotsError: more than ``MAX_CLASSES`` classes.
    """
    x_name, y_names = fields_of(spec, table, label)
    if x_name is None:
        raise PlotsError(
            f"plot {label}: a confusion matrix needs two fields (actual and predicted class)",
            hint="set x (actual) and y (predicted) in the plot's entry",
        )
    xi, yi = table.column(x_name), table.column(y_names[0])
    pairs: dict[tuple[str, str], int] = {}
    classes: dict[str, None] = {}
    for row in table.rows:
        a, p = _label(row[xi]), _label(row[yi])
        classes.setdefault(a, None)
        classes.setdefault(p, None)
        if len(classes) > MAX_CLASSES:
            raise PlotsError(
                f"plot {label}: more than {MAX_CLASSES} classes for a confusion matrix",
                hint="check that x and y name the actual and predicted class fields",
            )
        pairs[a, p] = pairs.get((a, p), 0) + 1
    labels = sorted(classes, key=_class_order)
    counts = [[pairs.get((a, p), 0) for p in labels] for a in labels]
    return Confusion(rev, labels, counts)


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)[:MAX_TEXT]


def _class_order(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


# -- images --------------------------------------------------------------------------------------------------

MIME = {"png": "image/png", "jpeg": "image/jpeg", "svg": "image/svg+xml"}


def check_image(data: bytes, path: str, *, where: str = "") -> str:
    """Return the image's MIME type after checking its size and that its content matches its extension.

    Raises:
        PlotsError: too large, or not what its extension says.
    """
    label = f"{path}{f' ({where})' if where else ''}"
    if len(data) > MAX_IMAGE_SIZE:
        raise PlotsError(f"plot image {label} is {len(data):,} bytes, over the {MAX_IMAGE_SIZE >> 20} MiB limit")
    fmt = IMAGE_FORMATS.get(suffix_of(path))
    ok = {
        "png": data.startswith(b"\x89PNG\r\n\x1a\n"),
        "jpeg": data.startswith(b"\xff\xd8\xff"),
        "svg": b"<svg" in data[:4096],
    }.get(fmt or "", False)
    if not ok:
        raise PlotsError(f"plot image {label} is not a {fmt or 'known'} image", hint="PNG, JPEG and SVG are shown")
    return MIME[fmt or "png"]


@dataclass(slots=True)
class Plot:
    """One chart's content across revisions, ready for ``plotsrender.render_html``.

    ``series`` (line, scatter, bar), ``matrices`` (confusion) or ``images`` (rev, MIME type, bytes) hold what
    each revision had; ``notes`` (rev, text) say why a revision has nothing (no such file there, not in the
    local store).
    """

    spec: PlotSpec
    series: list[Series] = field(default_factory=list)
    matrices: list[Confusion] = field(default_factory=list)
    images: list[tuple[str, str, bytes]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    oids: dict[str, str | None] = field(default_factory=dict)  # rev -> the content's id (None: not tracked)

    def add(self, rev: str, data: bytes, *, where: str = "") -> None:
        """Load one revision's content of the plot's file into this plot.

        Raises:
            PlotsError: the content does not parse or breaks a bound.
        """
        label = self.spec.path + (f" ({where})" if where else "")
        if self.spec.is_image:
            self.images.append((rev, check_image(data, self.spec.path, where=where), data))
            return
        table = load_table(data, self.spec.path, where=where)
        if self.spec.template == "confusion":
            self.matrices.append(confusion(self.spec, table, rev, label))
        else:
            self.series.extend(series(self.spec, table, rev, label))

    def as_dict(self) -> dict[str, Any]:
        """The plot for ``--json``: its spec and, per revision, the drawn values (never the image bytes)."""
        revs: dict[str, dict[str, Any]] = {rev: {"rev": rev, "oid": oid} for rev, oid in self.oids.items()}

        def at(rev: str) -> dict[str, Any]:
            return revs.setdefault(rev, {"rev": rev, "oid": self.oids.get(rev)})

        for s in self.series:
            at(s.rev).setdefault("series", []).append({"y": s.y, "points": [list(p) for p in s.points]})
        for m in self.matrices:
            at(m.rev)["matrix"] = {"labels": m.labels, "counts": m.counts}
        for rev, mime, data in self.images:
            at(rev)["image"] = {"type": mime, "size": len(data)}
        for rev, text in self.notes:
            at(rev)["note"] = text
        return {**self.spec.as_dict(), "revisions": list(revs.values())}
