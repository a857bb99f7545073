"""Every sample output in the docs comes from a real run (tests/docs_samples.py says how blocks are marked).

When art's output changes on purpose, refresh the pages with `python -m tests.docs_samples --update` and read
the diff before committing it.
"""

from __future__ import annotations

import pytest

from tests import docs_samples as ds

# scenarios that run long work: the digits pipelines train scikit-learn models (the Python one is also run in the
# default tier by tests/pipeline/test_example_digits_python.py); `art demo` is the whole tour (and
# tests/commands/test_demo.py checks it in the default tier)
SLOW = {"docs/pipelines.md:digits", "docs/python-pipelines.md:digits", "docs/cli.md:demo"}
# the longest of the rest (3-10 s each): the long tier, kept out of the default one for its 3-minute budget
LONG = {
    "docs/getting-started.md:tour",
    "docs/cli.md:ref",
    "docs/experiments.md:exp",
    "docs/pipelines.md:templates",
    "docs/pipelines.md:params",
}


def _params():
    for page in ds.pages():
        for name in ds.scenarios(page):
            key = f"{page.relative_to(ds.ROOT)}:{name}"
            marks = [pytest.mark.slow] if key in SLOW else [pytest.mark.long] if key in LONG else []
            yield pytest.param(page, name, id=key, marks=marks)


@pytest.mark.parametrize(("page", "scenario"), list(_params()))
def test_documented_output_is_what_art_prints(page, scenario, tmp_path):
    found = ds.mismatches(ds.run_page(page, tmp_path, only=scenario))
    hint = "\nrefresh with: python -m tests.docs_samples --update " + str(page.relative_to(ds.ROOT))
    assert not found, "\n\n".join(map(str, found)) + hint


def test_the_pages_that_must_have_samples_have_them():
    pages = {str(p.relative_to(ds.ROOT)) for p in ds.pages()}
    assert {"README.md", "docs/getting-started.md", "docs/pipelines.md", "docs/cli.md"} <= pages
    for page in ds.pages():
        blocks = ds.parse(page)
        assert any(b.compare for b in blocks), page


PAGE = """# A page

<!-- sample-setup: one
echo 12345 > n.txt
-->
<!-- sample: one -->
```console
$ art init --no-git
Initialized art repository in /home/ana/proj/.art
$ art add n.txt
added: n.txt (999 B)
stored <n> new object (<size>); read 1 of 1 file
...
$ cat n.txt.art
...
id = "<oid>"
kind = "file"
...
```

<!-- sample: two -->
```bash
test ! -e n.txt
```
"""


def test_the_harness_finds_a_wrong_sample_and_update_rewrites_it_keeping_placeholders(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    blocks = ds.run_page(page, tmp_path / "run")
    found = ds.mismatches(blocks)
    assert [(m.scenario, m.command) for m in found] == [("one", "art add n.txt")]
    assert found[0].actual[0] == "added: n.txt (6 B)"
    assert ds.update(page, blocks)
    text = page.read_text()
    assert "added: n.txt (6 B)\nstored <n> new object (<size>); read 1 of 1 file\n...\n" in text
    assert 'id = "<oid>"' in text and text.count("\n...\n") == 3 and "echo 12345" in text
    assert not ds.mismatches(ds.run_page(page, tmp_path / "again"))


def test_a_mark_that_is_not_before_a_block_is_an_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- sample: x -->\n\n```console\n$ true\n```\n")
    with pytest.raises(ValueError, match="1 sample marks but 0 sample blocks"):
        ds.parse(page)


def test_a_failing_run_block_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('<!-- sample: x -->\n```bash\nfalse\necho "not reached"\n```\n')
    with pytest.raises(RuntimeError, match="exited 1"):
        ds.run_page(page, tmp_path / "run")


@pytest.mark.parametrize(
    ("documented", "printed", "same"),
    [
        (["Ran stage a (1.21 s)"], ["Ran stage a (3.9 s)"], True),
        (["at 2026-11-25T14:03:12.511Z"], ["at 2027-01-01T00:00:00Z"], True),
        (["id <oid>"], ["id 0a1b2c3d4e"], True),
        (["id <oid>"], ["id zz"], False),
        (["a", "...", "z"], ["a", "b", "c", "z"], True),
        (["a", "...", "z"], ["a", "b"], False),
        (["1 restored"], ["2 restored"], False),
        (["x"], ["x", "y"], False),
    ],
)
def test_what_the_comparison_ignores(documented, printed, same):
    assert ds.matches(documented, printed) is same
