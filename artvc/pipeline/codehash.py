"""Transitive code hashes: a function's source plus the user code it reaches, found by static analysis.

A *piece* is one top-level statement of a user module that binds a name: a ``def`` (with its decorators), a
``class`` (its whole source, so methods reached through ``self.`` count), or an assignment (a module-level
constant). Starting from a function, every name loaded in the reached pieces (body, decorators, default values,
annotations, class bases) is resolved against its module's top-level bindings and imports (``import a.b as
m`` + ``m.f``, ``from .x import y``, relative imports, re-exports through a package's ``__init__``, ``from x
import *``), and followed transitively into modules whose file lies inside the workspace root and outside
site-packages, virtual environments, the standard library and art itself. Names are not scoped: a local
variable that shares a top-level name pulls that piece in (a harmless over-approximation).

The result is ``{"module:qualname": blake3 of the piece's source}`` (a module used as a value, not through an
attribute, is one piece ``"module:*"`` holding its whole text) and a code hash over that sorted map. Nothing is
imported: files are found on the workspace root, ``sys.modules`` and ``sys.path`` and parsed. Parsed modules
are cached per process by (path, mtime_ns, size, inode), trusted only once the file is older than the read
by 100 ms (the stat cache's racy-clean rule), so an edit in the same clock tick is never missed.
"""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.util
import inspect
import json
import os
import re
import sys
import sysconfig
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..objstore.hashing import hash_bytes
from .errors import SpecError

__all__ = ["call_closure", "function_closure"]

Chain = tuple[str, ...]
_RACY_NS = 100_000_000
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # the line breaks the parser counts, kept
_EXCLUDED_DIRS = frozenset({"site-packages", "dist-packages", ".venv", "__pypackages__", ".git", ".art"})
_ART_PACKAGE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class _Import:
    """What an import binds: ``module`` itself (``attr`` None) or the attribute ``attr`` of ``module``."""

    module: str
    attr: str | None = None


@dataclass(slots=True)
class _Module:
    """A parsed user module: its top-level bindings, imports and (lazily) the names each piece loads."""

    name: str
    path: Path
    package: bool
    text: str
    defs: dict[str, list[ast.stmt]]
    imports: dict[str, _Import]
    stars: list[str]
    refs: dict[int, list[Chain]] = field(default_factory=dict)
    digests: dict[int, str] = field(default_factory=dict)
    lines: list[str] | None = None
    sig: tuple[int, int, int] = (0, 0, 0)  # mtime_ns, size, inode when parsed
    recorded: int = 0  # the wall clock (ns) when it was read

    def digest(self, node: ast.stmt) -> str:
        """blake3 of the statement's text (cached with the parsed module)."""
        found = self.digests.get(id(node))
        if found is None:
            found = self.digests[id(node)] = str(hash_bytes(self.source(node).encode()))
        return found

    def source(self, node: ast.stmt) -> str:
        """The statement's text as ``ast.get_source_segment(padded=True)`` gives it; a decorated def or class
        starts at its first decorator (dedented)."""
        if self.lines is None:
            self.lines = _LINES.findall(self.text)
        lines, end = self.lines, node.end_lineno or node.lineno
        decorators = getattr(node, "decorator_list", [])
        if decorators:
            first = min(d.lineno for d in decorators)
            return textwrap.dedent("".join(lines[first - 1 : end]).rstrip("\r\n"))
        if node.end_col_offset is None:
            return ""
        first_line = lines[node.lineno - 1].encode()
        if node.lineno == end:
            return first_line[node.col_offset : node.end_col_offset].decode()
        pad = "".join(c if c.isspace() else " " for c in first_line[: node.col_offset].decode())
        middle = "".join(lines[node.lineno : end - 1])
        return (
            pad
            + first_line[node.col_offset :].decode()
            + middle
            + lines[end - 1].encode()[: node.end_col_offset].decode()
        )

    def chains(self, node: ast.stmt) -> list[Chain]:
        found = self.refs.get(id(node))
        if found is None:
            collector = _Names()
            collector.visit(node)
            found = self.refs[id(node)] = sorted(set(collector.chains))
        return found


class _Names(ast.NodeVisitor):
    """Collect the dotted names loaded in a tree: ``m.f`` gives ("m", "f"), ``x`` gives ("x",)."""

    def __init__(self) -> None:
        self.chains: list[Chain] = []

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attrs: list[str] = []
        cur: ast.expr = node
        while isinstance(cur, ast.Attribute):
            attrs.append(cur.attr)
            cur = cur.value
        if isinstance(cur, ast.Name):
            self.chains.append((cur.id, *reversed(attrs)))
        else:
            self.visit(cur)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.chains.append((node.id,))


# -- finding and parsing modules -------------------------------------------------------------------------------

_cache: dict[Path, tuple[tuple[int, int, int], int, _Module]] = {}
_cache_lock = threading.Lock()


def _parse(name: str, path: Path, display: str) -> _Module:
    """Parse ``path`` (cached per process while its stat is unchanged and not racy)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise SpecError(f"cannot read {display}: {exc.strerror or exc}") from exc
    sig = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _cache.get(path)
    if hit is not None and hit[0] == sig and sig[0] + _RACY_NS < hit[1] and hit[2].name == name:
        return hit[2]
    recorded = time.time_ns()
    try:
        text = importlib.util.decode_source(path.read_bytes())
        tree = ast.parse(text, filename=str(path))
    except OSError as exc:
        raise SpecError(f"cannot read {display}: {exc.strerror or exc}") from exc
    except (SyntaxError, ValueError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise SpecError(
            f"cannot parse {display}: {getattr(exc, 'msg', None) or exc}{where}",
            hint="fix the syntax of that module: art hashes the code a stage reaches by parsing it",
        ) from exc
    module = _Module(name, path, path.name == "__init__.py", text, {}, {}, [], sig=sig, recorded=recorded)
    _bind(module, tree.body)
    with _cache_lock:
        _cache[path] = (sig, recorded, module)
    return module


def _bind(module: _Module, body: list[ast.stmt]) -> None:
    """Record the names ``body`` binds at module level (also inside top-level if / try / with blocks)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            module.defs.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        module.defs.setdefault(name.id, []).append(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    module.imports[alias.asname] = _Import(alias.name)
                else:
                    top = alias.name.partition(".")[0]
                    module.imports[top] = _Import(top)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node.module, node.level)
            for alias in node.names:
                if alias.name == "*":
                    module.stars.append(base)
                else:
                    module.imports[alias.asname or alias.name] = _Import(base, alias.name)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                _bind(module, getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                _bind(module, handler.body)


def _absolute(module: _Module, name: str | None, level: int) -> str:
    if not level:
        return name or ""
    parts = module.name.split(".")
    if not module.package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, name] if name else parts)


class _Finder:
    """Map module names to source files, and say which files are the user's own code."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.paths: dict[str, Path | None] = {}
        self.absent: list[Path] = []  # files probed under the root that did not exist
        self.excluded = _excluded()

    def locate(self, name: str) -> Path | None:
        if name not in self.paths:
            self.paths[name] = self._locate(name) if name and not name.startswith(".") else None
        return self.paths[name]

    def _locate(self, name: str) -> Path | None:
        base = self.root.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate.resolve()
            self.absent.append(candidate)
        loaded = sys.modules.get(name)
        origin = getattr(loaded, "__file__", None)
        if origin:
            return _source_file(origin)
        parent, _, last = name.rpartition(".")
        if parent:
            parent_path = self.locate(parent)
            if parent_path is None or parent_path.name != "__init__.py":
                return None
            search = [str(parent_path.parent)]
        else:
            search = [p or os.getcwd() for p in sys.path]
        try:
            spec = importlib.machinery.PathFinder.find_spec(last, search)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec else None
        return _source_file(origin) if origin else None

    def is_user(self, path: Path) -> bool:
        """True when ``path`` is inside the root and outside site-packages, venvs, the stdlib and art."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return False
        if any(part in _EXCLUDED_DIRS for part in rel.parts[:-1]):
            return False
        if any(path.is_relative_to(p) for p in self.excluded):
            return False
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            if (parent / "pyvenv.cfg").exists():
                return False
            parent = parent.parent
        return True

    def display(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


@functools.cache
def _excluded() -> tuple[Path, ...]:
    """The standard library, the interpreter's site-packages and art's own package (never user code)."""
    keys = ("stdlib", "platstdlib", "purelib", "platlib")
    found = {Path(p).resolve() for p in (sysconfig.get_paths().get(k) for k in keys) if p}
    return (*sorted(found), _ART_PACKAGE)


def _source_file(origin: str) -> Path | None:
    path = Path(origin)
    if path.suffix != ".py":
        return None
    return path.resolve() if path.is_file() else None


# -- the closure walk ------------------------------------------------------------------------------------------


class _Walk:
    """Breadth of the closure: pieces reached so far, their hashes, and the modules loaded."""

    def __init__(self, root: Path) -> None:
        self.finder = _Finder(root)
        self.modules: dict[str, _Module | None] = {}
        self.pieces: dict[str, str] = {}
        self.seen: set[tuple[str, int]] = set()
        self.whole: set[str] = set()
        self.todo: list[tuple[_Module, ast.stmt]] = []

    def module(self, name: str) -> _Module | None:
        """The parsed module ``name`` when it is user code, else None."""
        if name not in self.modules:
            path = self.finder.locate(name)
            ok = path is not None and self.finder.is_user(path)
            self.modules[name] = _parse(name, path, self.finder.display(path)) if ok and path else None
        return self.modules[name]

    def add(self, module: _Module, node: ast.stmt, qualname: str) -> None:
        if (module.name, id(node)) in self.seen:
            return
        self.seen.add((module.name, id(node)))
        key = f"{module.name}:{qualname}"
        digest = module.digest(node)
        # two statements binding one name (if/else variants): both count, in source order
        old = self.pieces.get(key)
        self.pieces[key] = digest if old is None else str(hash_bytes(f"{old}{digest}".encode()))
        self.todo.append((module, node))

    def run(self) -> None:
        while self.todo:
            module, node = self.todo.pop()
            for chain in module.chains(node):
                self.resolve(module, chain)

    def resolve(self, module: _Module, chain: Chain, depth: int = 0) -> None:
        """Follow ``chain`` (a name and its attributes) from ``module``'s top-level scope."""
        if depth > 50:  # re-export loops (a imports b's name, b imports a's): stop
            return
        head, rest = chain[0], chain[1:]
        if head in module.defs:
            for node in module.defs[head]:
                self.add(module, node, head)
        elif head in module.imports:
            imp = module.imports[head]
            self.attribute(imp.module, ((imp.attr,) if imp.attr else ()) + rest, depth + 1)
        else:
            for star in module.stars:
                target = self.module(star)
                if target is not None and (head in target.defs or head in target.imports):
                    self.resolve(target, chain, depth + 1)
                    return

    def attribute(self, name: str, attrs: Chain, depth: int) -> None:
        """Follow ``attrs`` inside module ``name``: a binding of it, or a submodule."""
        if depth > 50:
            return
        target = self.module(name)
        if not attrs:
            if target is not None and name not in self.whole:
                self.whole.add(name)
                self.pieces[f"{name}:*"] = str(hash_bytes(target.text.encode()))
            return
        head = attrs[0]
        if target is not None and (head in target.defs or head in target.imports):
            self.resolve(target, attrs, depth + 1)
        elif target is not None or self.finder.locate(name) is None:  # a package, or a namespace package
            sub = f"{name}.{head}"
            if self.module(sub) is not None:
                self.attribute(sub, attrs[1:], depth + 1)
            elif target is not None and target.stars:
                self.resolve(target, attrs, depth + 1)

    def result(self) -> tuple[str, dict[str, str]]:
        code = dict(sorted(self.pieces.items()))
        payload = json.dumps(code, sort_keys=True, separators=(",", ":")).encode()
        return str(hash_bytes(payload)), code


# -- entry points ----------------------------------------------------------------------------------------------


def _find(module: _Module, qualname: str, line: int | None = None) -> list[tuple[ast.stmt, str]]:
    """The statements to start from for ``qualname`` in ``module``: (statement, qualname) outermost first.

    A method or a nested function starts from its top-level class or function too (its whole source), since
    it may use what that encloses; ``line`` (the ``def`` line of a live function) picks among candidates.
    """
    parts = [p for p in qualname.split(".") if p != "<locals>"]
    found: list[tuple[ast.stmt, str]] = []
    nodes: list[ast.stmt] = list(module.defs.get(parts[0], []))
    if line is not None and len(nodes) > 1:
        nodes = [n for n in nodes if n.lineno <= line <= (n.end_lineno or n.lineno)] or nodes
    if not nodes:
        return []
    node = nodes[-1]
    found.append((node, parts[0]))
    for depth, part in enumerate(parts[1:], start=2):
        inner = [n for n in _children(node) if getattr(n, "name", None) == part]
        if line is not None and len(inner) > 1:
            inner = [n for n in inner if n.lineno <= line <= (n.end_lineno or n.lineno)] or inner
        if not inner:
            break
        node = inner[-1]
        found.append((node, ".".join(parts[:depth])))
    return found


def _children(node: ast.stmt) -> Iterator[ast.stmt]:
    for child in ast.walk(node):
        if child is not node and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield child


_Closure = tuple[tuple[str, dict[str, str]], tuple[tuple[Path, tuple[int, int, int, int]], ...], tuple[Path, ...]]
_closures: dict[tuple[object, ...], _Closure] = {}


def _fresh(entry: _Closure) -> bool:
    """True while every module the closure read is unchanged (and not racy) and no probed file appeared."""
    for path, (mtime, size, ino, recorded) in entry[1]:
        try:
            st = path.stat()
        except OSError:
            return False
        if (st.st_mtime_ns, st.st_size, st.st_ino) != (mtime, size, ino) or mtime + _RACY_NS >= recorded:
            return False
    return not any(p.exists() for p in entry[2])


def _closure(walk: _Walk, module: _Module, qualname: str, line: int | None) -> tuple[str, dict[str, str]]:
    key = (walk.finder.root, module.path, module.name, qualname, line, tuple(sys.path))
    hit = _closures.get(key)
    if hit is not None and _fresh(hit):
        return hit[0][0], dict(hit[0][1])
    result = _walk_closure(walk, module, qualname, line)
    files = tuple((m.path, (*m.sig, m.recorded)) for m in walk.modules.values() if m is not None)
    _closures[key] = (result, files, tuple(walk.finder.absent))
    return result[0], dict(result[1])


def _walk_closure(walk: _Walk, module: _Module, qualname: str, line: int | None) -> tuple[str, dict[str, str]]:
    starts = _find(module, qualname, line)
    if not starts and qualname:  # a name the module imports (a package re-exporting its function)
        walk.resolve(module, tuple(qualname.split(".")))
    if not starts and not walk.pieces:
        raise SpecError(
            f"cannot find the source of {module.name}:{qualname}: no such top-level name in "
            f"{walk.finder.display(module.path)}",
            hint="'call' names a function defined in a module under the workspace root",
        )
    for node, name in starts:
        walk.add(module, node, name)
    walk.run()
    return walk.result()


def call_closure(call: str, root: Path) -> tuple[str, dict[str, str]]:
    """Return (code hash, {"module:qualname": piece hash}) for a ``call = "module:function"`` stage.

    The module is found under ``root`` (or on ``sys.path``) and parsed, never imported. The function itself is
    always hashed, even from a module outside the root; what it reaches is followed in user code only.

    Raises:
        SpecError: when the module or the function cannot be found, or a reached user module cannot be parsed.
    """
    module_name, _, qualname = call.partition(":")
    walk = _Walk(root)
    path = walk.finder.locate(module_name)
    if path is None:
        raise SpecError(
            f"cannot find the source of {call}: no module named {module_name!r} under the workspace root",
            hint="'call' names a function defined in a module under the workspace root",
        )
    module = _parse(module_name, path, walk.finder.display(path))
    walk.modules[module_name] = module
    return _closure(walk, module, qualname, None)


def function_closure(fn: Callable[..., Any], root: Path) -> tuple[str, dict[str, str]]:
    """Return (code hash, {"module:qualname": piece hash}) for a live function (e.g. a ``@step``'s).

    The function's file is parsed (decorators are unwrapped through ``__wrapped__``); a function of a script
    run as ``__main__`` is named after its module spec, or its path under ``root``.

    Raises:
        SpecError: when the function's source file cannot be found or parsed.
    """
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    source = inspect.getsourcefile(fn) if code is not None else None
    if code is None or source is None or not Path(source).is_file():
        raise SpecError(
            f"cannot find the source of {getattr(fn, '__qualname__', fn)!r}",
            hint="steps must be functions defined in a Python file",
        )
    walk = _Walk(root)
    path = Path(source).resolve()
    name = _module_name(fn, path, walk.finder.root)
    module = _parse(name, path, walk.finder.display(path))
    walk.modules[name] = module
    return _closure(walk, module, fn.__qualname__, code.co_firstlineno)


def _module_name(fn: Callable[..., Any], path: Path, root: Path) -> str:
    name = getattr(fn, "__module__", None) or "__main__"
    if name != "__main__":
        return name
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return str(spec.name)
    try:
        rel = path.with_suffix("").relative_to(root)
    except ValueError:
        return path.stem
    return ".".join(rel.parts)
