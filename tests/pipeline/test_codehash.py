"""Transitive code hashes (artvc/pipeline/codehash.py) on real module trees written to a temp dir."""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import textwrap
from pathlib import Path

import pytest

from artvc.pipeline.codehash import call_closure, function_closure
from artvc.pipeline.errors import SpecError

_names = itertools.count()


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))


def edit(root: Path, rel: str, old: str, new: str) -> None:
    p = root / rel
    text = p.read_text()
    assert old in text, (old, text)
    p.write_text(text.replace(old, new))


STEPS = """\
    import numpy as np

    from . import other
    from .other import remote
    import proj.consts as c

    LIMIT = 10
    UNUSED = 1


    def helper(x):
        return x + LIMIT


    def unrelated():
        return 0


    def make():
        return helper(1) + remote(2) + other.far() + c.K + int(np.zeros(1)[0])
"""

OTHER = """\
    def remote(x):
        return x * 2


    def far():
        return 3


    def not_called():
        return 4
"""


@pytest.fixture
def proj(tmp_path):
    write(tmp_path, {"proj/__init__.py": "", "proj/steps.py": STEPS, "proj/other.py": OTHER})
    write(tmp_path, {"proj/consts.py": "K = 5\nJ = 6\n"})
    return tmp_path


def test_closure_reaches_same_module_other_modules_and_constants(proj):
    code_hash, code = call_closure("proj.steps:make", proj)
    assert sorted(code) == [
        "proj.consts:K",
        "proj.other:far",
        "proj.other:remote",
        "proj.steps:LIMIT",
        "proj.steps:helper",
        "proj.steps:make",
    ]
    assert len(code_hash) == 64
    assert call_closure("proj.steps:make", proj) == (code_hash, code)  # deterministic


@pytest.mark.parametrize(
    ("rel", "old", "new"),
    [
        ("proj/steps.py", "return x + LIMIT", "return x - LIMIT"),  # a helper in the same module
        ("proj/other.py", "return x * 2", "return x * 3"),  # a helper in another module (from .x import y)
        ("proj/other.py", "return 3", "return 7"),  # through a module attribute (from . import other)
        ("proj/steps.py", "LIMIT = 10", "LIMIT = 11"),  # a module-level constant it uses
        ("proj/consts.py", "K = 5", "K = 9"),  # a constant of another module (import a.b as m)
    ],
)
def test_editing_what_the_function_reaches_changes_the_hash(proj, rel, old, new):
    before, _ = call_closure("proj.steps:make", proj)
    edit(proj, rel, old, new)
    assert call_closure("proj.steps:make", proj)[0] != before


@pytest.mark.parametrize(
    ("rel", "old", "new"),
    [
        ("proj/steps.py", "return 0", "return 1"),
        ("proj/steps.py", "UNUSED = 1", "UNUSED = 2"),
        ("proj/other.py", "return 4", "return 5"),
        ("proj/consts.py", "J = 6", "J = 7"),
    ],
)
def test_editing_what_it_does_not_reach_changes_nothing(proj, rel, old, new):
    before = call_closure("proj.steps:make", proj)
    edit(proj, rel, old, new)
    assert call_closure("proj.steps:make", proj) == before


def test_site_packages_and_virtualenvs_inside_the_root_are_not_hashed(tmp_path, monkeypatch):
    site = tmp_path / ".venv/lib/python3.11/site-packages"
    env = tmp_path / "env"
    write(site, {"vendored.py": "def f():\n    return 1\n"})
    write(env, {"pyvenv.cfg": "home = /usr/bin\n", "lib/envlib.py": "def g():\n    return 1\n"})
    write(tmp_path, {"steps.py": "import numpy as np\nimport vendored\nfrom envlib import g\n\n\n"})
    (tmp_path / "steps.py").write_text(
        (tmp_path / "steps.py").read_text() + "def make():\n    return np.ones(1), vendored.f(), g()\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(env / "lib"))
    before = call_closure("steps:make", tmp_path)
    assert list(before[1]) == ["steps:make"]
    edit(site, "vendored.py", "return 1", "return 2")
    edit(env, "lib/envlib.py", "return 1", "return 2")
    assert call_closure("steps:make", tmp_path) == before


def test_recursion_and_import_cycles_terminate(tmp_path):
    write(
        tmp_path,
        {
            "a.py": """\
                import b


                def even(n):
                    return n == 0 or odd(n - 1)


                def odd(n):
                    return n != 0 and even(n - 1) and b.ping(n)
            """,
            "b.py": """\
                import a


                def ping(n):
                    return a.odd(n) or pong(n)


                def pong(n):
                    return ping(n - 1)
            """,
        },
    )
    _, code = call_closure("a:even", tmp_path)
    assert sorted(code) == ["a:even", "a:odd", "b:ping", "b:pong"]
    before = call_closure("a:even", tmp_path)
    edit(tmp_path, "b.py", "ping(n - 1)", "ping(n - 2)")
    assert call_closure("a:even", tmp_path)[0] != before[0]


def test_methods_reached_through_a_class_its_bases_decorators_and_defaults(tmp_path):
    write(
        tmp_path,
        {
            "m.py": """\
                import functools

                from base import Base

                DEFAULT = 3


                def scale(x):
                    return x * 2


                def deco(f):
                    return functools.wraps(f)(f)


                class Model(Base):
                    def fit(self):
                        return self._inner()

                    def _inner(self):
                        return scale(1)


                @deco
                def train(n=DEFAULT):
                    return Model().fit() + n
            """,
            "base.py": "class Base:\n    def common(self):\n        return 1\n",
        },
    )
    _, code = call_closure("m:train", tmp_path)
    assert sorted(code) == ["base:Base", "m:DEFAULT", "m:Model", "m:deco", "m:scale", "m:train"]
    for rel, old, new in [
        ("m.py", "return x * 2", "return x * 5"),  # a function a method calls through self.
        ("m.py", "return scale(1)", "return scale(2)"),  # the class's own method
        ("base.py", "return 1", "return 2"),  # the base class
        ("m.py", "DEFAULT = 3", "DEFAULT = 4"),  # a default value
        ("m.py", "return functools.wraps(f)(f)", "return f"),  # the decorator
        ("m.py", "@deco\n", "@deco\n@deco\n"),  # the decoration itself
    ]:
        before = call_closure("m:train", tmp_path)[0]
        edit(tmp_path, rel, old, new)
        assert call_closure("m:train", tmp_path)[0] != before, (rel, old)
    # a method as the call target: the whole class counts
    assert "m:Model" in call_closure("m:Model.fit", tmp_path)[1]


def test_package_reexport_and_relative_imports(tmp_path):
    write(
        tmp_path,
        {
            "app/__init__.py": "from .core.impl import run\n",
            "app/core/__init__.py": "",
            "app/core/impl.py": "from ..util import tool\n\n\ndef run():\n    return tool()\n",
            "app/util.py": "def tool():\n    return 1\n",
            "main.py": "import app\n\n\ndef go():\n    return app.run()\n",
        },
    )
    _, code = call_closure("main:go", tmp_path)
    assert sorted(code) == ["app.core.impl:run", "app.util:tool", "main:go"]
    assert sorted(call_closure("app:run", tmp_path)[1]) == ["app.core.impl:run", "app.util:tool"]


def test_function_closure_of_a_live_function_matches_the_static_one(proj, monkeypatch):
    name = f"livepkg{next(_names)}"
    (proj / "proj").rename(proj / name)
    for p in (proj / name).glob("*.py"):
        p.write_text(p.read_text().replace("proj.", f"{name}."))
    monkeypatch.syspath_prepend(str(proj))
    try:
        fn = importlib.import_module(f"{name}.steps").make
        live = function_closure(fn, proj)
        assert live == call_closure(f"{name}.steps:make", proj)
        assert f"{name}.other:remote" in live[1]
    finally:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]


def test_a_nested_function_counts_with_its_enclosing_function(tmp_path, monkeypatch):
    name = f"nested{next(_names)}"
    write(tmp_path, {f"{name}.py": "K = 1\n\n\ndef outer():\n    def inner():\n        return K\n    return inner\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        inner = importlib.import_module(name).outer()
        _, code = function_closure(inner, tmp_path)
        assert sorted(code) == [f"{name}:K", f"{name}:outer", f"{name}:outer.inner"]
    finally:
        sys.modules.pop(name, None)


def test_an_unparseable_user_module_is_one_spec_error(proj):
    before = call_closure("proj.steps:make", proj)
    (proj / "proj/other.py").write_text("def remote(:\n")
    with pytest.raises(SpecError, match=r"cannot parse proj/other.py: .*\(line 1\)"):
        call_closure("proj.steps:make", proj)
    with pytest.raises(SpecError, match="no module named 'nope'"):
        call_closure("nope:f", proj)
    with pytest.raises(SpecError, match="cannot find the source of proj.steps:missing"):
        call_closure("proj.steps:missing", proj)
    (proj / "proj/other.py").write_text(textwrap.dedent(OTHER))
    assert call_closure("proj.steps:make", proj) == before


def test_the_cache_notices_an_edit_of_an_old_file(proj):
    old = 1_600_000_000
    for p in proj.rglob("*.py"):
        os.utime(p, (old, old))
    first = call_closure("proj.steps:make", proj)
    assert call_closure("proj.steps:make", proj) == first  # served from the cache
    edit(proj, "proj/other.py", "return x * 2", "return x * 9")  # same size, new mtime
    assert call_closure("proj.steps:make", proj)[0] != first[0]


def test_the_cache_notices_a_module_that_appears_under_the_root(tmp_path):
    write(tmp_path, {"s.py": "import later\n\n\ndef f():\n    return later.g()\n"})
    os.utime(tmp_path / "s.py", (1_600_000_000, 1_600_000_000))
    first = call_closure("s:f", tmp_path)
    assert call_closure("s:f", tmp_path) == first and list(first[1]) == ["s:f"]
    write(tmp_path, {"later.py": "def g():\n    return 1\n"})
    assert sorted(call_closure("s:f", tmp_path)[1]) == ["later:g", "s:f"]
