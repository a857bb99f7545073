"""The layer and library-confinement rules (docs/design.md, docs/style.md), enforced with import-linter, ruff and
mypy."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_import_layers_and_confinements():
    """`lint-imports` exactly as a contributor runs it, from the checkout (the package is laid out as installed)."""
    r = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout, r.stdout


def test_ruff_is_clean():
    r = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format_is_clean():
    """The whole tree is `ruff format`ted; run `ruff format .` before committing."""
    r = subprocess.run(
        [str(BIN / "ruff"), "format", "--no-cache", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    """`mypy` as a contributor runs it from the checkout (config: [tool.mypy] in pyproject.toml), with its cache
    outside the checkout (tests never write there), shared by the runs of this module."""
    cache = tmp_path_factory.mktemp("mypy-cache")

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [str(BIN / "mypy"), "--cache-dir", str(cache), *args]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)

    return run


@pytest.mark.slow
def test_mypy_is_clean(mypy):
    """Zero errors: strict for artvc.objstore, default rules elsewhere; run `mypy` before committing."""
    r = mypy()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("Success: no issues found"), r.stdout


@pytest.mark.slow
def test_mypy_is_strict_for_the_object_store_only(mypy, tmp_path):
    """The config really applies the strict flags to artvc.objstore.* and not to the other layers: the same
    unannotated function, added (as a shadow file) to one module of each, is an error in the object store only."""
    untyped = "\n\ndef _untyped(x):\n    return x\n"
    shadows = []
    for name, module in (("objstore", "artvc/objstore/faults.py"), ("workspace", "artvc/workspace/runs.py")):
        shadow = tmp_path / f"{name}.py"
        shadow.write_text((ROOT / module).read_text() + untyped)
        shadows += ["--shadow-file", module, str(shadow)]
    r = mypy(*shadows)
    errors = [line for line in r.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, r.stdout + r.stderr
    assert errors[0].startswith("artvc/objstore/faults.py:") and "[no-untyped-def]" in errors[0], errors


def import_cycles() -> list[frozenset[str]]:
    """Strongly connected groups of artvc modules that import each other (imports for type checking excluded)."""
    import grimp

    graph = grimp.build_graph("artvc", cache_dir=None, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(root: str) -> None:  # iterative Tarjan
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, edges = work[-1]
            for w in edges:
                if not w.startswith("artvc"):
                    continue
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        group.add(w)
                        if w == v:
                            break
                    if len(group) > 1:
                        found.append(frozenset(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles():
    cycles = [sorted(c) for c in import_cycles()]
    assert cycles == [], f"modules that import each other: {cycles}"


def test_state_db_sql_lives_only_in_state_db_class():
    """``workspace/state.py`` (``StateDB``, with its base ``FolderState`` in ``state_folders.py``) runs every
    statement on ``.art/state.db``; the other layers above the object store ask it (the store's own index is
    objstore's business)."""
    pkg = Path(__file__).resolve().parent.parent / "artvc"
    offenders = [
        str(p.relative_to(pkg))
        for p in sorted(pkg.rglob("*.py"))
        if p.parts[len(pkg.parts)] != "objstore"
        and p not in (pkg / "workspace" / "state.py", pkg / "workspace" / "state_folders.py")
        and any(s in p.read_text() for s in (".db.execute", ".executemany(", "repo.state.db", "sqlite3.connect"))
    ]
    assert offenders == []
