"""The ``plots`` stage field, plot data loading, and ``art plots show | diff`` (the page itself is opened in a
real browser by test_plots_browser.py)."""

from __future__ import annotations

import json
import re

import pytest

from artvc.pipeline.plots import MAX_ROWS, PlotsError, PlotSpec, load_table, make_spec, series
from tests.conftest import Workspace, git
from tests.pipeline.plot_helpers import SVG_IMAGE, plot_workspace, png_image

PLOT_FILES = ["eval/loss.csv", "eval/roc.json", "eval/scores.tsv", "eval/classes.csv", "eval/chart.png"]


def _commit(ws, message: str) -> None:
    ws.git("add", "-A")
    ws.git("commit", "-qm", message)


# -- the stage field -----------------------------------------------------------------------------------------


def test_plot_files_are_outputs_stored_cached_and_restored(ws) -> None:
    plot_workspace(ws)
    ws.art("repro")
    lock = (ws.root / "art.lock").read_text()
    for path in PLOT_FILES:
        assert f'path = "{path}"' in lock
    assert "/loss.csv" in (ws.root / "eval/.gitignore").read_text().splitlines()
    first = (ws.root / "eval/loss.csv").read_bytes()
    for path in PLOT_FILES:
        (ws.root / path).unlink()
    ws.art("checkout")  # restored from the store
    assert (ws.root / "eval/loss.csv").read_bytes() == first
    plot_workspace(ws, scale=2.0)
    ws.art("repro")
    assert (ws.root / "eval/loss.csv").read_bytes() != first
    plot_workspace(ws, scale=1.0)
    r = ws.art("--json", "repro")
    assert json.loads(r.stdout)["stages"][0]["state"] == "cached"  # the run cache brought the plots back
    assert (ws.root / "eval/loss.csv").read_bytes() == first


@pytest.mark.parametrize(
    ("plots", "message"),
    [
        ('["a.txt"]', "plot a.txt: not a data file or an image"),
        ('[{path = "a.csv", template = "pie"}]', "plot a.csv: unknown template 'pie'"),
        ('[{path = "a.csv", colour = "red"}]', "plot a.csv: unknown key 'colour'"),
        ('[{path = "a.png", x = "t"}]', "plot a.png: 'x' applies to data files, not to images"),
        ('[{x = "t"}]', "each entry of 'plots' needs a 'path'"),
        ('["a.csv", "a.csv"]', "'a.csv' is listed twice in 'plots'"),
        ('["../a.csv"]', "must be relative to the workspace root"),
        ("3", "'plots' must be a list"),
    ],
)
def test_bad_plots_entries_are_one_clear_line(ws, plots: str, message: str) -> None:
    ws.gen({"art.toml": f'[stages.s]\ncmd = "true"\nplots = {plots}\n'})
    r = ws.art("status", code=1)
    assert r.stderr.startswith("art: error: stage s (art.toml line 1): ") and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 2  # the error and its hint


def test_a_path_in_both_outs_and_plots_is_refused(ws) -> None:
    ws.gen({"art.toml": '[stages.s]\ncmd = "true"\nouts = ["a.csv"]\nplots = ["a.csv"]\n'})
    r = ws.art("repro", code=1)
    assert "a.csv is listed in both 'outs' and 'plots'" in r.stderr
    ws.gen({"art.toml": '[stages.s]\ncmd = "true"\nmetrics = ["a.json"]\nplots = ["a.json"]\n'})
    r = ws.art("repro", code=1)
    assert "a.json is listed in both 'metrics' and 'plots'" in r.stderr


# -- data loading --------------------------------------------------------------------------------------------


def test_csv_errors_name_the_file_and_line() -> None:
    spec = make_spec("m.csv", {"x": "step", "y": "acc"})
    table = load_table(b"step,acc\n1,0.5\n2,oops\n", "m.csv")
    with pytest.raises(PlotsError, match=r"plot data m.csv line 3: acc is not a number: 'oops'"):
        series(spec, table, "workspace", "m.csv")
    with pytest.raises(PlotsError, match="line 3: 3 values for 2 fields"):
        load_table(b"a,b\n1,2\n1,2,3\n", "m.csv")
    with pytest.raises(PlotsError, match=r"m.json \(HEAD\) line 1: not valid JSON"):
        load_table(b"{oops", "m.json", where="HEAD")
    with pytest.raises(PlotsError, match="must be a list of records"):
        load_table(b"3", "m.json")
    with pytest.raises(PlotsError, match="exactly one list of records"):
        load_table(b'{"a": [], "b": []}', "m.json")
    with pytest.raises(PlotsError, match="no field 'loss'"):
        series(make_spec("m.csv", {"y": "loss"}), table, "workspace", "m.csv")


def test_empty_and_nan_values_are_gaps() -> None:
    table = load_table(b"step,acc\n1,0.5\n2,\n3,nan\n4,0.7\n", "m.csv")
    [s] = series(make_spec("m.csv", {"x": "step", "y": "acc"}), table, "workspace", "m.csv")
    assert s.points == [(1, 0.5), (4, 0.7)]


def test_json_records_and_dvc_style_wrapper_load_alike() -> None:
    rows = [{"x": 1, "y": 2.5}, {"x": 2, "y": None}, {"x": 3, "y": 4}]
    for text in (json.dumps(rows), json.dumps({"roc": rows})):
        [s] = series(PlotSpec("r.json", x="x", y=("y",)), load_table(text.encode(), "r.json"), "w", "r.json")
        assert s.points == [(1, 2.5), (3, 4.0)]  # the record without y is a gap


def test_data_is_bounded() -> None:
    big = b"x\n" + b"1\n" * (MAX_ROWS + 1)
    with pytest.raises(PlotsError, match=f"more than {MAX_ROWS:,} rows"):
        load_table(big, "big.csv")
    with pytest.raises(PlotsError, match="over the 16 MiB limit"):
        load_table(b"x\n" + b"1" * (16 << 20), "big.csv")
    from artvc.pipeline.plots import check_image

    with pytest.raises(PlotsError, match="is not a png image"):
        check_image(b"GIF89a", "a.png")
    assert check_image(SVG_IMAGE, "a.svg") == "image/svg+xml"


def test_a_confusion_matrix_counts_pairs_with_a_bound() -> None:
    from artvc.pipeline.plots import MAX_CLASSES, confusion

    spec = make_spec("c.csv", {"template": "confusion"})
    m = confusion(spec, load_table(b"a,p\n1,1\n1,2\n2,2\n2,2\n", "c.csv"), "w", "c.csv")
    assert m.labels == ["1", "2"] and m.counts == [[1, 1], [0, 2]]
    many = "a,p\n" + "".join(f"{i},{i}\n" for i in range(MAX_CLASSES + 1))
    with pytest.raises(PlotsError, match=f"more than {MAX_CLASSES} classes"):
        confusion(spec, load_table(many.encode(), "c.csv"), "w", "c.csv")


# -- art plots show / diff -----------------------------------------------------------------------------------


def test_show_writes_one_page_with_every_declared_plot(ws) -> None:
    plot_workspace(ws)
    ws.art("repro")
    r = ws.art("plots", "show")
    assert "wrote plots.html: 5 plots of workspace" in r.stdout
    html = (ws.root / "plots.html").read_text()
    assert html.count("<section class=plot") == 5
    for template in ("line", "scatter", "bar", "confusion", "image"):
        assert f'data-template="{template}"' in html
    assert "data:image/png;base64," in html and "<table class=confusion" in html
    assert re.search(r"https?:", html) is None  # nothing to fetch, not even a namespace URL
    assert "<script" not in html and "default-src 'none'" in html


def test_show_json_lists_the_drawn_values(ws) -> None:
    plot_workspace(ws)
    ws.art("repro")
    payload = json.loads(ws.art("plots", "show", "eval/scores.tsv", "eval/classes.csv", "--json").stdout)
    assert payload["html"] == str(ws.root / "plots.html") and payload["revisions"] == ["workspace"]
    bar, matrix = payload["plots"]
    assert bar["revisions"][0]["series"] == [{"y": "score", "points": [["svc", 1.0], ["tree", 2.0]]}]
    assert matrix["revisions"][0]["matrix"]["labels"] == ["bird", "cat", "dog"]


def test_targets_need_not_be_declared_and_take_options(ws) -> None:
    ws.gen({"m.csv": "step,acc,loss\n1,0.5,2\n2,0.7,1\n", "pic.svg": SVG_IMAGE})
    payload = json.loads(ws.art("plots", "show", "m.csv", "pic.svg", "-o", "out/p.html", "--json").stdout)
    line, image = payload["plots"]
    assert (line["x"], line["y"], line["template"]) == (None, [], "line")
    assert line["revisions"][0]["series"][0]["y"] == "loss"  # the last field by default
    assert image["revisions"][0]["image"] == {"type": "image/svg+xml", "size": len(SVG_IMAGE)}
    html = (ws.root / "out/p.html").read_text()
    assert b"http://" in SVG_IMAGE and re.search(r"https?:", html) is None  # embedded, not linked
    r = ws.art("plots", "show", "m.csv", "-t", "scatter", "-x", "acc", "-y", "step", "-y", "loss", "--json")
    series = json.loads(r.stdout)["plots"][0]["revisions"][0]["series"]
    assert [s["y"] for s in series] == ["step", "loss"] and series[0]["points"][0] == [0.5, 1.0]
    r = ws.art("plots", "show", "notes.txt", code=1)
    assert "notes.txt is not a plot file" in r.stderr
    r = ws.art("plots", "show", "-x", "step", code=2)
    assert "apply to the files named" in r.stderr


def test_stdout_page(ws) -> None:
    ws.gen({"m.csv": "a,b\n1,2\n2,3\n"})
    r = ws.art("plots", "show", "m.csv", "-o", "-")
    assert r.stdout.startswith("<!DOCTYPE html>") and not (ws.root / "plots.html").exists()
    ws.art("plots", "show", "m.csv", "-o", "-", "--json", code=2)


def test_no_plots_is_one_clear_error(ws) -> None:
    r = ws.art("plots", "show", code=1)
    assert r.stderr.startswith("art: error: no plots: no stage declares 'plots'")
    assert "hint: " in r.stderr


def test_diff_overlays_head_and_the_workspace_from_the_store(ws) -> None:
    plot_workspace(ws)
    ws.art("repro")
    _commit(ws, "scale 1")
    plot_workspace(ws, scale=3.0)
    ws.art("repro")
    payload = json.loads(ws.art("plots", "diff", "--json").stdout)
    assert payload["revisions"] == ["HEAD", "workspace"]
    loss = next(p for p in payload["plots"] if p["path"] == "eval/loss.csv")
    head, work = loss["revisions"]
    assert head["rev"] == "HEAD" and re.fullmatch(r"[0-9a-f]{64}", head["oid"])
    assert head["series"][0]["points"][0] == [0, 1.0] and work["series"][0]["points"][0] == [0, 3.0]
    html = (ws.root / "plots.html").read_text()
    assert html.count("<g class=legend>") >= 2 and ">HEAD</text>" in html and ">workspace</text>" in html
    # two commits, named: the older data comes from the store, even with the workspace files gone
    _commit(ws, "scale 3")
    for path in PLOT_FILES:
        (ws.root / path).unlink()
    payload = json.loads(ws.art("plots", "diff", "HEAD~1", "HEAD", "--target", "eval/roc.json", "--json").stdout)
    [roc] = payload["plots"]
    assert [r["rev"] for r in roc["revisions"]] == ["HEAD~1", "HEAD"]
    assert roc["revisions"][0]["series"][0]["points"] != roc["revisions"][1]["series"][0]["points"]


def test_diff_notes_what_a_revision_lacks(ws, tmp_path) -> None:
    ws.gen({"m.csv": "a,b\n1,2\n"})
    ws.art("add", "m.csv")
    _commit(ws, "one")
    git(tmp_path, "clone", "-q", str(ws.root), str(tmp_path / "clone"))  # a clone before 'art fetch'
    cws = Workspace(tmp_path / "clone")
    cws.gen({"late.csv": "a,b\n1,3\n"})
    payload = json.loads(cws.art("plots", "diff", "--target", "m.csv", "--target", "late.csv", "--json").stdout)
    m, late = payload["plots"]
    assert m["revisions"][0]["note"].startswith("not in the local store")
    assert late["revisions"][0] == {"rev": "HEAD", "oid": None, "note": "no such file at HEAD"}
    assert "series" in late["revisions"][1]


def test_diff_notes_a_revision_whose_data_cannot_be_drawn(ws) -> None:
    ws.gen({"m.csv": "step,acc\n1,0.5\n"})
    _commit(ws, "old format")
    ws.gen({"m.csv": "epoch,acc\n1,0.6\n"})
    r = ws.art("plots", "diff", "--target", "m.csv", "-x", "epoch", "--json")
    old, new = json.loads(r.stdout)["plots"][0]["revisions"]
    assert old["note"].startswith("cannot draw: plot m.csv (HEAD): no field 'epoch'")
    assert new["series"][0]["points"] == [[1, 0.6]]
    r = ws.art("plots", "show", "m.csv", "-x", "step", code=1)  # one revision: its error is the command's
    assert "no field 'step'" in r.stderr


def test_diff_rejects_bad_revisions(ws) -> None:
    ws.gen({"m.csv": "a,b\n1,2\n"})
    _commit(ws, "one")
    r = ws.art("plots", "diff", "nope", "--target", "m.csv", code=1)
    assert "unknown revision 'nope'" in r.stderr
    r = ws.art("plots", "diff", "HEAD", "HEAD", "--target", "m.csv", code=2)
    assert "named twice" in r.stderr


def test_outputs_stay_inside_the_workspace_and_replace_only_arts_files(ws, tmp_path) -> None:
    ws.gen({"m.csv": "a,b\n1,2\n", "mine.html": "<p>my notes</p>"})
    r = ws.art("plots", "show", "m.csv", "-o", str(tmp_path / "out.html"), code=10)
    assert "outside the repository" in r.stderr and not (tmp_path / "out.html").exists()
    ws.art("plots", "show", "m.csv", "-o", ".art/p.html", code=10)
    (ws.root / "link").symlink_to(tmp_path)
    ws.art("plots", "show", "m.csv", "-o", "link/p.html", code=10)
    assert not (tmp_path / "p.html").exists()
    r = ws.art("plots", "show", "m.csv", "-o", "mine.html", code=1)
    assert "mine.html exists and was not written by art plots" in r.stderr and "--force" in r.stderr
    assert (ws.root / "mine.html").read_text() == "<p>my notes</p>"
    ws.art("plots", "show", "m.csv", "-o", "mine.html", "--force")
    ws.art("plots", "show", "m.csv", "-o", "mine.html")  # art's own page: replaced without --force
    assert "art plots" in (ws.root / "mine.html").read_text()


def test_png_without_chromium_is_one_clear_error(ws, monkeypatch) -> None:
    ws.gen({"m.csv": "a,b\n1,2\n"})
    monkeypatch.setenv("PATH", "/nonexistent")
    r = ws.art("plots", "show", "m.csv", "--png", "charts", code=1)
    assert r.stderr.startswith("art: error: --png needs Chromium (or Chrome), and none is installed")
    assert "hint: install it" in r.stderr and "ART_CHROMIUM" in r.stderr
    monkeypatch.setenv("ART_CHROMIUM", "/nonexistent/chrome")
    r = ws.art("plots", "show", "m.csv", "--png", "charts", code=1)
    assert "ART_CHROMIUM=/nonexistent/chrome is not an executable" in r.stderr
    assert not (ws.root / "charts").exists()


def test_a_file_over_the_limit_is_refused_before_it_is_read_whole(ws) -> None:
    ws.gen({"big.csv": b"x\n" + b"1\n" * (8 << 20)})
    r = ws.art("plots", "show", "big.csv", code=1)
    assert "art: error: plot big.csv (workspace) is 16,777,218 bytes, over the 16 MiB limit" in r.stderr
    _commit(ws, "big in git")
    (ws.root / "big.csv").unlink()
    r = ws.art("plots", "diff", "--target", "big.csv", "--json")  # comparing: a note on HEAD's chart
    head, work = json.loads(r.stdout)["plots"][0]["revisions"]
    assert "16,777,218 bytes, over the 16 MiB limit" in head["note"] and work["note"] == "no such file in the workspace"


def test_image_plots_check_their_content(ws) -> None:
    ws.gen({"a.png": b"not a png", "b.png": png_image()})
    r = ws.art("plots", "show", "a.png", code=1)
    assert "plot image a.png is not a png image" in r.stderr
    ws.art("plots", "show", "b.png")
