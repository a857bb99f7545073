"""The dashboard's pages as HTML (artvc/ui/render*.py, layout.py, assets): the DOM contract of docs/ui.md,
escaping of hostile names, relative links only, the embedded JSON, and a layout without overlapping boxes.

The HTML is parsed with the standard library's html.parser into a small strict tree: an end tag that does not
close the innermost open element fails the test, so markup smuggled in through data would be caught."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from importlib.resources import files

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artvc.ui.layout import VIRTUAL_BUDGET, layout
from artvc.ui.render import render_error, render_page
from artvc.ui.render_base import ROW_CAP, STATES, slug

from . import render_samples as S

VOID = {"meta", "link", "input", "img", "br", "hr", "source", "area", "base", "col", "wbr"}
ACCURACY = "digits_pipeline/evaluator/accuracy"


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        want = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag) and all(n.attrs.get(k) == v for k, v in want.items())
        ]

    def testid(self, name: str) -> list[Node]:
        return self.find_all(data_testid=name)

    def one(self, name: str) -> Node:
        found = self.testid(name)
        assert len(found) == 1, (name, len(found))
        return found[0]


class Strict(HTMLParser):
    """A tree of the page; fails on an end tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        assert self.cur.tag == tag, f"</{tag}> closes <{self.cur.tag}>"
        assert self.cur.parent is not None
        self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(html: str) -> Node:
    p = Strict()
    p.feed(html)
    p.close()
    assert p.cur is p.root, f"<{p.cur.tag}> left open"
    return p.root


def pages(data_of=None) -> list[tuple[str, dict, str]]:
    """(path, data, root) for every page kind."""
    return [
        ("/index.html", S.runs_data(5), ""),
        (f"/runs/{S.oid(1)}.html", S.run_data(), "../"),
        ("/artifacts/index.html", S.artifacts_data(), "../"),
        (f"/artifacts/{slug(ACCURACY)}.html", S.artifact_data(), "../"),
        ("/experiments.html", S.experiments_data(), ""),
        ("/store.html", S.store_data(), ""),
    ]


def art_data(doc: Node):
    blocks = doc.find_all("script", id="art-data")
    assert len(blocks) == 1 and blocks[0].attrs.get("type") == "application/json"
    return json.loads(blocks[0].text())


# -- every page ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "data", "root"), pages(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_page_has_the_nav_a_title_and_its_json(path, data, root):
    doc = parse(render_page(path, data, root=root))
    nav = doc.one("nav")
    assert nav.tag == "nav"
    assert [a.text() for a in nav.find_all("a")] == ["Runs", "Artifacts", "Experiments", "Store"]
    assert [a.attrs["href"] for a in nav.find_all("a")] == [
        f"{root}index.html",
        f"{root}artifacts/index.html",
        f"{root}experiments.html",
        f"{root}store.html",
    ]
    assert len(doc.find_all("h1")) == 1
    assert art_data(doc) == data
    css = doc.find_all("link", rel="stylesheet")
    assert [c.attrs["href"] for c in css] == [f"{root}assets/art-ui.css"]


@pytest.mark.parametrize(("path", "data", "root"), pages(), ids=lambda v: v if isinstance(v, str) else "")
def test_links_are_relative_and_nothing_is_loaded_from_elsewhere(path, data, root):
    html = render_page(path, data, root=root)
    doc = parse(html)
    assert "http://" not in html and "https://" not in html and "//" not in re.sub(r"[a-z0-9]+://\S*", "", html)
    for node in doc.iter():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), (node.tag, name)  # no inline event handler (CSP)
            if name in ("href", "src", "action", "xlink:href"):
                assert value is not None and "://" not in value and not value.startswith("/"), (node.tag, value)
                assert not value.lower().startswith("javascript:"), value
                if node.tag == "img":
                    assert value.startswith("data:image/"), value
                elif not value.startswith("#"):
                    assert value.startswith(root) or root == "", value
    scripts = doc.find_all("script")
    assert sorted((s.attrs.get("src") or s.attrs.get("type") or "") for s in scripts) == sorted(
        [f"{root}assets/art-ui.js", "application/json"]
    )
    assert all(not s.text() for s in scripts if s.attrs.get("src"))


def test_the_assets_are_package_data_and_fetch_nothing():
    assets = files("artvc.ui") / "assets"
    css = (assets / "art-ui.css").read_text()
    js = (assets / "art-ui.js").read_text()
    assert "aria-sort" in js and ".step-detail" in css
    for text in (css, js):
        assert "http" not in text and "//cdn" not in text and "@import" not in text and "url(" not in text
    assert "fetch(" not in js and "XMLHttpRequest" not in js and "eval(" not in js and "innerHTML" not in js


# -- runs ----------------------------------------------------------------------------------------------------


def test_runs_page_lists_every_run_with_its_kind_pipeline_and_link():
    data = S.runs_data(8)
    doc = parse(render_page("/index.html", data, root=""))
    table = doc.one("runs-table")
    assert table.tag == "table"
    rows = doc.testid("run-row")
    assert [r.attrs["data-oid"] for r in rows] == [r["oid"] for r in data["pipeline_runs"]]
    assert [r.attrs["data-kind"] for r in rows] == [r["kind"] for r in data["pipeline_runs"]]
    assert [r.attrs["data-pipeline"] for r in rows] == [r["pipeline"] for r in data["pipeline_runs"]]
    for row, run in zip(rows, data["pipeline_runs"], strict=True):
        assert [a.attrs["href"] for a in row.find_all("a")] == [f"runs/{run['oid']}.html"]
        assert json.loads(row.attrs["data-steps"]) == ["importer", "trainer", "evaluator"]
    for key in ("pipeline", "stage", "branch"):
        assert doc.one(f"filter-{key}").tag == "input"


def test_the_runs_filters_are_filled_from_the_query():
    doc = parse(render_page("/index.html?pipeline=digits%3Cx&branch=main", S.runs_data(2), root=""))
    assert doc.one("filter-pipeline").attrs["value"] == "digits<x"
    assert doc.one("filter-branch").attrs["value"] == "main"
    assert doc.one("filter-stage").attrs["value"] == ""


def test_a_run_id_that_is_not_an_oid_gets_no_link():
    data = S.runs_data(1)
    data["pipeline_runs"][0]["oid"] = "../../etc/passwd"
    doc = parse(render_page("/index.html", data, root=""))
    assert not doc.one("run-row").find_all("a")


# -- one run -------------------------------------------------------------------------------------------------


def test_run_page_draws_the_dag_coloured_by_state_with_a_legend():
    states = {"importer": "cached", "trainer": "executed", "evaluator": "failed", "report": "skipped"}
    data = S.run_data(states)
    doc = parse(render_page(f"/runs/{S.oid(1)}.html", data, root="../"))
    svg = doc.one("dag")
    assert svg.tag == "svg"
    nodes = svg.testid("dag-node")
    assert [(n.tag, n.attrs["data-step"], n.attrs["data-state"]) for n in nodes] == [
        ("g", name, state) for name, state in states.items()
    ]
    for n in nodes:  # the name, and the state as text under it (readable without colour)
        names = [t.text() for t in n.find_all("text")]
        assert names == [n.attrs["data-step"], n.attrs["data-state"]]
        assert f"st-{n.attrs['data-state']}" in n.attrs["class"].split()
    edges = svg.testid("dag-edge")
    assert [(e.tag, e.attrs["data-from"], e.attrs["data-to"]) for e in edges] == [
        ("path", "importer", "trainer"),
        ("path", "trainer", "evaluator"),
        ("path", "evaluator", "report"),
    ]
    legend = doc.one("dag-legend")
    entries = legend.find_all("li")
    assert [e.attrs["data-state"] for e in entries] == list(STATES)
    for e in entries:
        assert e.attrs["data-state"] in e.text()
        assert e.find_all("span", **{"class": f"swatch st-{e.attrs['data-state']}"})


def test_every_step_has_its_detail_section_that_its_node_links_to():
    data = S.run_data()
    doc = parse(render_page(f"/runs/{S.oid(1)}.html", data, root="../"))
    sections = doc.testid("step-detail")
    assert [s.attrs["data-step"] for s in sections] == ["importer", "trainer", "evaluator"]
    for node, section in zip(doc.testid("dag-node"), sections, strict=True):
        assert node.find_all("a")[0].attrs["href"] == "#" + section.attrs["id"]
        for part in ("step-params", "step-code-hash", "step-inputs", "step-outputs", "step-env", "step-logs"):
            assert len(section.testid(part)) == 1, part
    trainer = sections[1]
    params = [" ".join(li.text().split()) for li in trainer.one("step-params").find_all("li")]
    assert params == ["C = 1.0", "kernel = rbf", "nested.depth = 3"]
    assert "c0dec0dec0" in trainer.one("step-code-hash").text()
    oids = trainer.one("step-inputs").find_all("code", **{"class": "oid"})
    assert oids[0].text() == S.oid(99)[:10] and oids[0].attrs["title"] == S.oid(99)
    links = [a.attrs["href"] for a in trainer.one("step-inputs").find_all("a")]
    assert links == [f"../artifacts/{slug('digits_pipeline/importer/output')}.html", f"../runs/{S.oid(5)}.html"]
    assert "as X_train" in " ".join(trainer.one("step-inputs").text().split())
    assert "9.5 MiB" in trainer.one("step-outputs").text()
    assert "python = 3.11.7" in " ".join(trainer.one("step-env").text().split())
    logs = trainer.one("step-logs").text()
    assert "line 1\ndone" in logs and "warning: x" in logs


def test_a_failed_step_shows_its_exit_status_and_stderr():
    data = S.run_data({"train": "failed"})
    data["steps"]["train"] = {"exit_status": 3, "stderr_tail": ["Traceback", "ValueError: <bad>"], "state": "failed"}
    doc = parse(render_page(f"/runs/{S.oid(1)}.html", data, root="../"))
    section = doc.one("step-detail")
    facts = {
        d.find_all("dt")[0].text(): d.find_all("dd")[0].text() for d in section.find_all("div") if d.find_all("dt")
    }
    assert facts["exit status"] == "3"
    assert [p.text() for p in section.one("step-logs").find_all("pre")] == ["Traceback\nValueError: <bad>"]
    assert section.one("step-params").text() == "no parameters"


def test_a_run_with_a_cycle_unknown_states_and_stray_edges_still_renders():
    data = S.run_data({"a": "executed", "b": "weird", "c": "cached"}, edges=[["a", "b"], ["b", "a"], ["c", "zz"], 5])
    doc = parse(render_page(f"/runs/{S.oid(1)}.html", data, root="../"))
    assert [n.attrs["data-state"] for n in doc.testid("dag-node")] == ["executed", "not-run", "cached"]
    assert len(doc.testid("dag-edge")) == 2


# -- hostile data --------------------------------------------------------------------------------------------


def hostile_pages() -> list[tuple[str, dict, str]]:
    h = S.HOSTILE
    runs = S.runs_data(2)
    for r in runs["pipeline_runs"]:
        r.update(pipeline=h, branch=h, user=h, experiment=h, kind=h)
        r["steps"][0]["name"] = h
    run = S.run_data({h: "executed", "b": "cached"}, edges=[[h, "b"]])
    run["steps"][h]["params"] = {h: h}
    run["steps"][h]["env"] = {h: h}
    run["steps"][h]["command"] = h
    run["steps"][h]["inputs"][0].update(name=h, artifact=h)
    run["steps"][h]["stdout_tail"] = [h, "</pre></section>"]
    art = S.artifact_data(h)
    art["metadata"] = {h: h}
    art["preview"] = {"type": "image", "data_uri": "javascript:alert(1)"}
    art["lineage"]["made_by"]["nodes"][0]["name"] = h
    exps = S.experiments_data()
    exps["experiments"][1]["name"] = h
    exps["param_columns"] = [f"{h}:{h}"]
    exps["experiments"][1]["params"] = [{"path": h, "key": h, "value": h}]
    exps["plots"]["plots"][0]["title"] = h
    exps["plots"]["plots"][0]["revisions"][0]["rev"] = h
    store = S.store_data()
    store["artifacts"][0]["path"] = h
    store["remotes"][0].update(name=h, url=h)
    arts = {"artifacts": [{"name": h, "kind": h, "versions": h, "started": h}]}
    return [
        ("/index.html", runs, ""),
        (f"/runs/{S.oid(1)}.html", run, "../"),
        ("/artifacts/index.html", arts, "../"),
        (f"/artifacts/{slug(h)}.html", art, "../"),
        ("/experiments.html", exps, ""),
        ("/store.html", store, ""),
    ]


@pytest.mark.parametrize(("path", "data", "root"), hostile_pages(), ids=lambda v: v if isinstance(v, str) else "")
def test_hostile_names_are_text_never_markup(path, data, root):
    html = render_page(path, data, root=root)
    doc = parse(html)  # strict: a smuggled end tag would fail here
    outside = html[: html.index('<script type="application/json"')]  # the JSON block holds the data verbatim
    assert "<script>alert" not in html and "javascript:" not in outside
    assert len(doc.find_all("script")) == 2  # the asset and the JSON block, nothing injected
    assert art_data(doc) == json.loads(json.dumps(data))
    visible = "".join(n.text() for n in doc.find_all("main"))
    assert S.HOSTILE in visible or S.HOSTILE[:60] in visible or "\u2026" in visible


def test_hostile_step_names_survive_in_the_dom_contract():
    path, data, root = hostile_pages()[1]
    doc = parse(render_page(path, data, root=root))
    assert doc.testid("dag-node")[0].attrs["data-step"] == S.HOSTILE
    assert doc.testid("step-detail")[0].attrs["data-step"] == S.HOSTILE
    assert doc.testid("dag-edge")[0].attrs["data-from"] == S.HOSTILE
    assert doc.find_all("img") == []  # the javascript: preview of hostile_pages is not on this page


def test_a_preview_that_is_not_an_image_data_uri_is_not_shown():
    data = S.artifact_data()
    for uri in ("javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "https://example.org/x.png"):
        data["preview"] = {"type": "image", "data_uri": uri}
        doc = parse(render_page(f"/artifacts/{slug(ACCURACY)}.html", data, root="../"))
        assert doc.one("artifact-preview").find_all("img") == []
    data["preview"] = {"type": "image", "data_uri": f"data:image/png;base64,{S.PNG}"}
    doc = parse(render_page(f"/artifacts/{slug(ACCURACY)}.html", data, root="../"))
    assert [i.attrs["src"] for i in doc.one("artifact-preview").find_all("img")] == [data["preview"]["data_uri"]]


def test_the_json_block_cannot_be_closed_by_a_value():
    data = S.runs_data(1)
    data["pipeline_runs"][0]["pipeline"] = "</script><script>alert(1)</script>\u2028\u2029 & <!--"
    data["nan"] = float("nan")
    html = render_page("/index.html", data, root="")
    doc = parse(html)
    block = art_data(doc)
    assert block["pipeline_runs"][0]["pipeline"] == data["pipeline_runs"][0]["pipeline"]
    assert block["nan"] is None
    assert html.count("</script>") == 2


# -- artifacts, experiments, store ---------------------------------------------------------------------------


def test_artifact_page_lists_versions_preview_metadata_and_lineage_both_ways():
    doc = parse(render_page(f"/artifacts/{slug(ACCURACY)}.html", S.artifact_data(), root="../"))
    assert doc.one("versions-table").tag == "table"
    rows = doc.testid("version-row")
    assert [r.attrs["data-oid"] for r in rows] == [S.oid(500), S.oid(501)]
    assert doc.one("artifact-preview").text().strip() == "0.97"
    made, used = doc.one("lineage-made-by"), doc.one("lineage-used-by")
    assert made.tag == used.tag == "svg"
    assert [n.attrs["data-name"] for n in made.testid("lineage-node")] == [
        "digits_pipeline/trainer/output",
        "evaluator",
        ACCURACY,
    ]
    assert len(made.testid("lineage-edge")) == 2 and len(used.testid("lineage-node")) == 1
    hrefs = [a.attrs["href"] for a in made.find_all("a")]
    assert hrefs == [f"../artifacts/{slug('digits_pipeline/trainer/output')}.html", f"../runs/{S.oid(7)}.html"]


def test_long_tables_show_a_first_part_and_keep_every_row_in_the_page():
    data = S.artifact_data(versions=ROW_CAP + 50)
    doc = parse(render_page(f"/artifacts/{slug(ACCURACY)}.html", data, root="../"))
    rows = doc.testid("version-row")
    assert len(rows) == ROW_CAP + 50
    assert sum("more" in (r.attrs.get("class") or "") for r in rows) == 50
    table = doc.one("versions-table")
    assert [a.attrs["href"] for a in doc.find_all("a", data_show_all=table.attrs["id"])] == [f"#{table.attrs['id']}"]


def test_artifacts_list_links_every_artifact_and_tracked_path():
    doc = parse(render_page("/artifacts/index.html", S.artifacts_data(2), root="../"))
    rows = doc.testid("artifact-row")
    assert [(r.attrs["data-name"], r.attrs["data-kind"]) for r in rows] == [
        ("digits_pipeline/step0/output", "artifact"),
        ("digits_pipeline/step1/output", "artifact"),
        ("data/prepared", "path"),
    ]
    assert rows[2].find_all("a")[0].attrs["href"] == f"{slug('data/prepared')}.html".join(["../artifacts/", ""])


def test_experiments_table_is_sortable_selectable_and_plots_every_experiment():
    doc = parse(render_page("/experiments.html", S.experiments_data(), root=""))
    table = doc.one("exp-table")
    keys = [th.attrs["data-sort-key"] for th in table.find_all("th") if "data-sort-key" in th.attrs]
    assert keys == ["name", "state", "commit", "created", "param:params.yaml:lr", "metric:metrics.json:acc"]
    rows = doc.testid("exp-row")
    assert [r.attrs["data-exp"] for r in rows] == ["baseline", "exp-a", "exp-b"]
    for r in rows:
        box = r.one("exp-select")
        assert box.tag == "input" and box.attrs["type"] == "checkbox" and box.attrs["value"] == r.attrs["data-exp"]
    assert [td.attrs["data-sort-value"] for td in rows[1].find_all("td", **{"class": "num metric"})] == ["0.95"]
    plots = doc.one("exp-plots")
    revs = [n.attrs["data-rev"] for n in plots.iter() if "series" in (n.attrs.get("class") or "")]
    assert revs == ["exp-a", "exp-b"]
    assert [i.attrs["src"][:22] for i in plots.find_all("img")] == ["data:image/png;base64,"]


def test_malformed_plot_data_is_left_out_not_fatal():
    data = S.experiments_data()
    data["plots"] = {
        "revisions": ["a"],
        "plots": [
            {
                "path": "p.csv",
                "template": "line",
                "revisions": [
                    {
                        "rev": "a",
                        "series": [
                            {"y": "v", "points": [[0, 1], ["x", 2], [1, float("inf")], [2, True], [3], [4, 2.5]]}
                        ],
                    }
                ],
            },  # fmt: skip
            {"path": "q.csv", "template": "pie"},
            {"template": "line"},
            {
                "path": "c.csv",
                "template": "confusion",
                "revisions": [{"rev": "a", "matrix": {"labels": [1, 2], "counts": [[1]]}}],
            },  # fmt: skip
            "junk",
        ],
    }
    doc = parse(render_page("/experiments.html", data, root=""))
    sections = [s for s in doc.one("exp-plots").find_all("section") if "data-path" in s.attrs]
    assert [s.attrs["data-path"] for s in sections] == ["p.csv", "c.csv"]
    path = [n for n in sections[0].iter() if n.tag == "path" and "series" in (n.attrs.get("class") or "")]
    assert len(path) == 1 and path[0].attrs["d"].count("L") == 1  # two valid points: (0, 1) and (4, 2.5)


def test_store_page_shows_sizes_ratios_commits_artifacts_and_remotes():
    doc = parse(render_page("/store.html", S.store_data(), root=""))
    summary = doc.one("store-summary")
    tiles = [s for s in summary.find_all("div") if "data-stat" in s.attrs]
    stats = {s.attrs["data-stat"]: " ".join(d.text() for d in s.find_all("div")[1:]) for s in tiles}
    assert stats["logical"].startswith("logical 2.9 KiB") and stats["stored"].startswith("stored 700 B")
    assert stats["dedup"].startswith("dedup 2.00\u00d7") and stats["compression"].startswith("compression 2.14\u00d7")
    commits = doc.one("store-commits")
    assert [r.attrs["data-commit"] for r in commits.find_all("tr") if "data-commit" in r.attrs] == [
        f"{i:040x}" for i in range(3)
    ]
    assert [r.attrs["data-name"] for r in doc.one("store-artifacts").find_all("tr") if "data-name" in r.attrs] == [
        "data/prepared"
    ]
    remotes = doc.one("store-remotes")
    assert "origin" in remotes.text() and "s3://bucket/art" in remotes.text() and "9" in remotes.text()


@pytest.mark.parametrize(("path", "data", "root"), pages(), ids=lambda v: v if isinstance(v, str) else "")
def test_empty_data_renders_every_page_with_its_contract(path, data, root):
    doc = parse(render_page(path, {}, root=root))
    wanted = {
        "/index.html": ["runs-table", "filter-pipeline", "filter-stage", "filter-branch"],
        "/runs/": ["dag", "dag-legend"],
        "/artifacts/index.html": ["artifacts-table"],
        "/artifacts/": ["versions-table", "artifact-preview", "lineage-made-by", "lineage-used-by"],
        "/experiments.html": ["exp-table", "exp-plots"],
        "/store.html": ["store-summary", "store-commits", "store-artifacts", "store-remotes"],
    }
    key = next(k for k in wanted if path == k or (k.endswith("/") and path.startswith(k) and "index" not in path))
    for testid in wanted[key]:
        assert len(doc.testid(testid)) == 1, testid


def test_a_path_outside_the_url_scheme_is_refused_and_errors_have_a_page():
    for path in ("/etc/passwd", "/runs/../x.html", "/runs/abc.html", "/artifacts/x.html", "/api/index.json"):
        with pytest.raises(ValueError):
            render_page(path, {}, root="")
    doc = parse(render_error(404, "no run <x>", root="../"))
    assert doc.one("error").text() == "no run <x>" and doc.one("nav").find_all("a")[0].attrs["href"] == "../index.html"


# -- layout --------------------------------------------------------------------------------------------------


def overlaps(a, b) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


@st.composite
def graphs(draw):
    n = draw(st.integers(min_value=0, max_value=40))
    names = [f"n{i}" for i in range(n)]
    pairs = st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, max(n - 1, 0)))
    edges = [(names[a], names[b]) for a, b in draw(st.lists(pairs, max_size=80))] if n else []
    widths = {name: draw(st.floats(min_value=20, max_value=320)) for name in names}
    return names, edges, widths


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_layout_boxes_never_overlap_and_stay_inside_the_drawing(graph):
    names, edges, widths = graph
    result = layout(names, edges, widths=widths)
    boxes = list(result.boxes.values())
    assert [b.name for b in boxes] == names
    for i, a in enumerate(boxes):
        assert a.x >= 0 and a.x + a.width <= result.width + 0.1 and a.y + a.height <= result.height + 0.1
        for b in boxes[i + 1 :]:
            assert not overlaps(a, b), (a, b)
    distinct = {(a, b) for a, b in edges if a != b}
    assert {(r.source, r.target) for r in result.routes} == distinct
    for r in result.routes:  # an edge goes downwards unless it closes a cycle
        if not r.reversed:
            assert result.boxes[r.source].layer < result.boxes[r.target].layer
    assert layout(names, edges, widths=widths) == result  # deterministic


def test_layout_puts_a_chain_in_layers_and_avoids_crossings_it_can_avoid():
    # two parallel chains listed crosswise: a1->b2, a2->b1 cross in input order, not after ordering
    result = layout(["a1", "a2", "b1", "b2"], [("a1", "b2"), ("a2", "b1")])
    boxes = result.boxes
    assert boxes["a1"].layer == boxes["a2"].layer == 0 and boxes["b1"].layer == boxes["b2"].layer == 1
    assert (boxes["a1"].x < boxes["a2"].x) == (boxes["b2"].x < boxes["b1"].x)
    long = layout(["s", "m", "t"], [("s", "m"), ("m", "t"), ("s", "t")])
    assert [long.boxes[k].layer for k in "smt"] == [0, 1, 2]
    skip = next(r for r in long.routes if (r.source, r.target) == ("s", "t"))
    assert skip.d.count("C") == 2 and " L" in skip.d  # routed through a virtual node in layer 1


# -- any data ------------------------------------------------------------------------------------------------

KEYS = sorted(
    {"pipeline_runs", "run", "dag", "nodes", "edges", "steps", "name", "state", "run_oid", "oid", "kind", "params",
     "inputs", "outputs", "env", "stdout_tail", "stderr_tail", "versions", "preview", "type", "text", "rows",
     "data_uri", "lineage", "made_by", "used_by", "metadata", "experiments", "param_columns", "metric_columns",
     "plots", "revisions", "series", "points", "matrix", "labels", "counts", "image", "path", "template", "total",
     "store", "commits", "artifacts", "remotes", "logical", "unique", "stored", "pushed", "key", "value", "size",
     "started", "duration", "commit", "exit_status", "artifact", "producer", "param", "y", "x", "rev", "note"}
)  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=6)
    ),  # fmt: skip
    max_leaves=30,
)


grafted = st.booleans() | st.integers(-3, 3) | st.text(max_size=5) | st.none() | json_values


def graft(data, path: list[int], value) -> None:
    """Replace the subtree of ``data`` that ``path`` picks (each number chooses a key or an index) by ``value``."""
    node = data
    for i, step in enumerate(path):
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not keys:
            return
        key = keys[step % len(keys)]
        if i == len(path) - 1 or not isinstance(node[key], dict | list):
            node[key] = value
            return
        node = node[key]


@pytest.mark.parametrize("which", range(6), ids=["runs", "run", "artifacts", "artifact", "experiments", "store"])
@settings(max_examples=40, deadline=None)
@given(grafts=st.lists(st.tuples(st.lists(st.integers(0, 11), min_size=1, max_size=4), grafted), max_size=3))
def test_any_json_renders_to_well_formed_html_with_its_data(which, grafts):
    """Stored data is untrusted: a page's data with any subtree replaced by any JSON value still renders, parses
    strictly and carries the data."""
    path, data, root = pages()[which]
    for where, value in grafts:
        graft(data, where, copy.deepcopy(value))
    doc = parse(render_page(path, data, root=root))
    assert art_data(doc) == data
    assert len(doc.find_all("script")) == 2


def test_layout_of_a_long_chain_with_a_fan_out_stays_bounded_and_complete():
    """Edges over many layers would need thousands of virtual nodes: past the budget the longest are drawn
    straight across, every edge is still drawn and no box overlaps another."""
    names = [f"s{i}" for i in range(130)]
    edges = [(a, b) for a, b in zip(names, names[1:], strict=False)] + [(names[0], n) for n in names[2:]]
    result = layout(names, edges)
    assert sum(len(names) - 1 - i for i in range(1, len(names) - 1)) > VIRTUAL_BUDGET  # the budget is exceeded
    assert {(r.source, r.target) for r in result.routes} == set(edges)
    boxes = sorted(result.boxes.values(), key=lambda b: b.y)
    assert [b.name for b in boxes] == names  # one step per layer, in chain order
    assert all(not overlaps(a, b) for a, b in zip(boxes, boxes[1:], strict=False))
    direct = [r for r in result.routes if r.d.count("C") == 1 and r.source == "s0" and r.target != "s1"]
    assert direct  # the longest ones, drawn as one curve
