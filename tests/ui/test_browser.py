"""`art ui` in a real browser: Debian's Chromium driven by Playwright, against the server and the exported site.

One browser and one repository (``ui_repo``, tests/ui/conftest.py) serve the module. Every test runs twice
(the ``site`` fixture): against ``art ui --port 0 --no-open --json`` started as a subprocess (its URL read from
the JSON line), and against ``art ui --export DIR`` opened through ``file://``. Pages are opened as a person
opens them (following the links the pages show) and the assertions are on what the person sees: the run
list newest first, the DAG of the second digits run (importer cached, trainer and evaluator executed), a
step's params after clicking its node, two versions of the accuracy artifact, the experiments table sorting on
a header click and a checked experiment's series in the plots, the store's sizes and ratios. Every page's
screenshot (saved under the test's tmp_path) must not be blank: its pixels, decoded from the PNG by
tests/ui/pixels.py (zlib and numpy; the venv has no imaging library), vary. No page may log a console error,
fail to load anything, or send a request anywhere but the site itself (a route handler aborts and records
everything else). The last test of each site checks the repository was not written, and stops the server
with SIGINT by PID. The slow tier also follows every link of every page.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.ui.conftest import ART, EXPERIMENTS, IMAGE_SIZE, UiRepo, slug, snapshot
from tests.ui.pixels import assert_not_blank, blankness, capture, encode_png, png_pixels

pytestmark = pytest.mark.slow  # a real Chromium against the server and the export: ~40 s (the slow tier, which CI runs)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ACCURACY = "digits_pipeline/evaluator/accuracy"
NAV = ["Runs", "Artifacts", "Experiments", "Store"]
# what every page must have, read in one round trip: the nav's link texts, the h1, the embedded JSON, every link
PAGE_FACTS = """() => {
    const nav = document.querySelector('nav[data-testid="nav"]');
    const box = nav && nav.getBoundingClientRect();
    const h1 = document.querySelector("h1");
    const data = document.querySelector('script#art-data[type="application/json"]');
    return {
        nav_shown: !!box && box.width > 0 && box.height > 0 && getComputedStyle(nav).visibility === "visible",
        nav: nav ? Array.from(nav.querySelectorAll("a"), a => a.innerText.trim()) : [],
        h1: h1 ? h1.innerText.trim() : "",
        data: data ? data.textContent : null,
        refs: Array.from(document.querySelectorAll("a[href], link[href], script[src], img[src]"),
                         e => e.getAttribute("href") || e.src),
    };
}"""


def test_the_pixel_decoder_undoes_every_filter_and_tells_a_blank_page(browser) -> None:
    pixels = np.random.default_rng(7).integers(0, 256, (10, 9, 3), dtype=np.uint8)
    for filters in ([0], [1], [2], [3], [4], [4, 3, 2, 1, 0]):
        assert np.array_equal(png_pixels(encode_png(pixels, filters)), pixels), filters
    context = browser.new_context(viewport={"width": 300, "height": 200})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    try:
        page.set_content("<body style='margin:0;background:#fff'></body>")
        assert blankness(page.screenshot()) == blankness(capture(page, cdp)) == (0.0, 1)
        page.set_content(
            "<body style='margin:0'><h1>art</h1><p style='color:#2a7'>executed</p>"
            "<div style='height:500px'></div><p id=low style='width:120px;color:#c33'>below the fold</p></body>"
        )
        assert_not_blank(page.screenshot())
        assert_not_blank(capture(page, cdp))
        low = page.locator("#low")  # an element's capture is that element (the clip follows the scroll)
        assert np.array_equal(png_pixels(capture(page, cdp, low))[:, :, :3], png_pixels(low.screenshot())[:, :, :3])
    finally:
        context.close()


# ---------------------------------------------------------------------------------------------- the sites


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@dataclass
class Site:
    kind: str  # "server" or "export"
    base: str  # the URL of the site's root, ending in "/"
    root: Path | None = None  # the exported directory
    proc: subprocess.Popen | None = None  # the server
    output: list[str] = field(default_factory=list)  # the server's stdout and stderr lines

    def url(self, path: str) -> str:
        return self.base + path

    def api(self, path: str) -> Any:
        """The JSON the site serves for a page path (``runs/OID.html`` -> ``api/runs/OID.json``)."""
        api_path = "api/" + path[: -len(".html")] + ".json"
        if self.root is not None:
            return json.loads((self.root / api_path).read_text())
        with urllib.request.urlopen(self.url(api_path), timeout=10) as response:
            assert response.status == 200
            return json.loads(response.read())


def _start_server(repo: UiRepo) -> Site:
    proc = subprocess.Popen(
        [*ART, "ui", "--port", "0", "--no-open", "--json"],
        cwd=repo.root,
        env=repo.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    site = Site("server", "", proc=proc)
    lines: queue.Queue[str] = queue.Queue()

    def drain(stream) -> None:  # keep reading, so a chatty server never blocks on a full pipe
        for line in stream:
            site.output.append(line)
            lines.put(line)

    for stream in (proc.stdout, proc.stderr):
        threading.Thread(target=drain, args=(stream,), daemon=True).start()
    deadline = time.monotonic() + 60
    while not site.base:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"art ui printed no URL: {site.output}") from None
        try:
            url = json.loads(line)["url"]
        except (ValueError, TypeError, KeyError):
            continue
        match = re.fullmatch(r"(http://127\.0\.0\.1:\d+/)(\?.*)?", url)
        assert match, url
        site.base = match.group(1)
    return site


@pytest.fixture(scope="module", params=["server", "export"])
def site(request, ui_repo: UiRepo, tmp_path_factory) -> Iterator[Site]:
    if request.param == "export":
        dest = tmp_path_factory.mktemp("export") / "site"
        ui_repo.art("ui", "--export", str(dest))
        yield Site("export", dest.as_uri() + "/", root=dest)
        return
    made = _start_server(ui_repo)
    try:
        yield made
    finally:
        if made.proc and made.proc.poll() is None:  # the last test did not get to stop it
            made.proc.send_signal(signal.SIGINT)
            try:
                made.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                made.proc.kill()
                made.proc.wait()


@dataclass
class Visit:
    """One browser context on a site: what left the site, what the pages logged as errors."""

    browser: Any
    site: Site
    tmp_path: Path
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    shots: int = 0

    def __post_init__(self) -> None:
        self.context = self.browser.new_context(viewport={"width": 1100, "height": 760})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.cdp = self.context.new_cdp_session(self.page)
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.site.base):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, path: str):
        """Go to a page of the site by its path and check what every page has."""
        self.page.goto(self.site.url(path))
        return self.check(path)

    def follow(self, link) -> str:
        """Click a link the page shows; return the new page's path within the site (and check the page)."""
        with self.page.expect_navigation():
            link.click()
        url = self.page.url.split("?")[0].split("#")[0]
        assert url.startswith(self.site.base), url
        path = url[len(self.site.base) :]
        self.check(path)
        return path

    def check(self, path: str):
        page = self.page
        page.wait_for_load_state("load")
        seen = page.evaluate(PAGE_FACTS)
        assert seen["nav_shown"] and seen["nav"] == NAV, seen["nav"]
        assert seen["h1"], "no h1"
        assert json.loads(seen["data"] or "null") == self.site.api(path)  # the page shows the JSON /api serves
        for ref in seen["refs"]:
            assert ref.startswith(("data:", "#", self.site.base)) or not re.match(r"^(/|[a-z][a-z0-9+.-]*:)", ref), ref
        self.screenshot(re.sub(r"[^A-Za-z0-9.-]+", "_", path))
        return page

    def screenshot(self, name: str, element=None) -> bytes:
        """Save a screenshot of the viewport (or of ``element``) under tmp_path and check it is not blank."""
        png = capture(self.page, self.cdp, element)
        self.shots += 1
        (self.tmp_path / f"{self.site.kind}-{self.shots:02d}-{name}.png").write_bytes(png)
        assert_not_blank(png)
        return png

    def close(self) -> None:
        self.context.close()
        assert self.outside == [], f"requests that left the site: {self.outside}"
        assert self.errors == [], self.errors


@pytest.fixture
def visit(browser, site: Site, tmp_path: Path) -> Iterator[Visit]:
    v = Visit(browser, site, tmp_path)
    yield v
    v.close()


def visible(locator) -> list:
    return [locator.nth(i) for i in range(locator.count()) if locator.nth(i).is_visible()]


def rows_by(page, testid: str, attribute: str) -> list[str]:
    return page.eval_on_selector_all(f'[data-testid="{testid}"]', f"rs => rs.map(r => r.getAttribute('{attribute}'))")


# ---------------------------------------------------------------------------------------------- the pages


def test_the_runs_page_lists_every_run_newest_first(visit: Visit, ui_repo: UiRepo) -> None:
    page = visit.open("index.html")
    listed = page.locator('[data-testid="runs-table"] [data-testid="run-row"]')
    oids = rows_by(page, "run-row", "data-oid")
    data = visit.site.api("index.html")["pipeline_runs"]
    assert oids == [r["oid"] for r in data]
    started = [r["started"] for r in data]
    assert started == sorted(started, reverse=True)
    assert {"pipeline", "add", "repro", "exp"} <= set(rows_by(page, "run-row", "data-kind"))
    digits = [o for o, p in zip(oids, rows_by(page, "run-row", "data-pipeline"), strict=True) if p == "digits_pipeline"]
    assert digits == [ui_repo.run2, ui_repo.run1]

    for oid, counts in ((ui_repo.run2, {"executed": 2, "cached": 1}), (ui_repo.run1, {"executed": 3, "cached": 0})):
        text = page.locator(f'[data-testid="run-row"][data-oid="{oid}"]').inner_text()
        shown = {state: int(n) for n, state in re.findall(r"(\d+)\s*(executed|cached)", text)}
        assert {k: shown.get(k, 0) for k in counts} == counts, text

    page.fill('[data-testid="filter-pipeline"]', "digits")
    assert [r.get_attribute("data-oid") for r in visible(listed)] == [ui_repo.run2, ui_repo.run1]
    page.fill('[data-testid="filter-pipeline"]', "")
    page.fill('[data-testid="filter-stage"]', "tree_trainer")
    assert [r.get_attribute("data-oid") for r in visible(listed)] == [ui_repo.run2]
    page.fill('[data-testid="filter-stage"]', "")
    page.fill('[data-testid="filter-branch"]', "no-such-branch")
    assert visible(listed) == []
    page.fill('[data-testid="filter-branch"]', "main")
    on_main = [r["oid"] for r in data if r.get("branch") == "main"]  # experiments run on a detached worktree
    assert {ui_repo.run1, ui_repo.run2} <= set(on_main)
    assert [r.get_attribute("data-oid") for r in visible(listed)] == on_main
    visit.screenshot("index-filtered")

    path = visit.follow(page.locator(f'[data-testid="run-row"][data-oid="{ui_repo.run2}"] a').first)
    assert path == f"runs/{ui_repo.run2}.html"


def test_the_second_run_s_dag_shows_the_importer_cached(visit: Visit, ui_repo: UiRepo) -> None:
    page = visit.open("index.html")
    visit.follow(page.locator(f'[data-testid="run-row"][data-oid="{ui_repo.run2}"] a').first)
    dag = page.locator('svg[data-testid="dag"]')
    nodes = dag.locator('[data-testid="dag-node"]')
    states = {n.get_attribute("data-step"): n.get_attribute("data-state") for n in nodes.all()}
    assert states == {"importer": "cached", "tree_trainer": "executed", "evaluator": "executed"}
    boxes = []
    for node in nodes.all():
        assert node.is_visible()
        text = node.inner_text() if node.evaluate("n => 'innerText' in n") else node.text_content()
        assert (
            node.get_attribute("data-step") in text and node.get_attribute("data-state") in text
        )  # not by colour alone
        boxes.append(node.bounding_box())
    for i, a in enumerate(boxes):  # no node hides another
        for b in boxes[i + 1 :]:
            assert (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            ), (a, b)
    edges = dag.locator('[data-testid="dag-edge"]')
    drawn = sorted((e.get_attribute("data-from"), e.get_attribute("data-to")) for e in edges.all())
    assert drawn == [("importer", "evaluator"), ("importer", "tree_trainer"), ("tree_trainer", "evaluator")]
    assert all(
        (e.bounding_box() or {}).get("width", 0) + (e.bounding_box() or {}).get("height", 0) > 10 for e in edges.all()
    )

    paint = (
        "n => { const s = n.querySelector('rect, circle, ellipse, polygon, path'); return getComputedStyle(s).fill }"
    )
    fills = {n.get_attribute("data-state"): n.evaluate(paint) for n in nodes.all()}
    assert fills["executed"] != fills["cached"]

    legend = page.locator('[data-testid="dag-legend"]')
    assert legend.is_visible()
    legend_text = legend.inner_text() if legend.evaluate("n => 'innerText' in n") else legend.text_content()
    for state in ("executed", "cached", "failed", "skipped"):
        assert state in legend_text
    visit.screenshot("dag", dag)


def test_clicking_the_trainer_node_shows_its_params(visit: Visit, ui_repo: UiRepo) -> None:
    page = visit.open(f"runs/{ui_repo.run1}.html")
    node = page.locator('[data-testid="dag-node"][data-step="svc_trainer"]')
    assert node.get_attribute("data-state") == "executed"
    node.click()
    detail = page.locator('[data-testid="step-detail"][data-step="svc_trainer"]')
    assert detail.is_visible()
    others = page.locator('[data-testid="step-detail"]:not([data-step="svc_trainer"])')
    assert others.count() == 2 and visible(others) == []
    params = detail.locator('[data-testid="step-params"]').inner_text()
    assert re.search(r"gamma\s*=?\s*0\.001", params), params
    assert re.search(r"[0-9a-f]{10}", detail.locator('[data-testid="step-code-hash"]').inner_text())
    for part in ("step-inputs", "step-outputs", "step-env", "step-logs"):
        assert detail.locator(f'[data-testid="{part}"]').count() == 1, part

    outputs = detail.locator('[data-testid="step-outputs"]')
    model = ui_repo.svc_model["versions"][0]["oid"]
    short = outputs.locator(f'[title="{model}"]')
    assert short.count() >= 1 and short.first.inner_text().strip() == model[:10]
    link = outputs.locator(f'a[href$="{slug("digits_pipeline/svc_trainer/model")}.html"]')
    assert link.count() >= 1
    visit.screenshot("svc_trainer-detail")

    page.locator('[data-testid="dag-node"][data-step="importer"]').click()
    assert page.locator('[data-testid="step-detail"][data-step="importer"]').is_visible()
    assert not detail.is_visible()
    page.locator('[data-testid="dag-node"][data-step="svc_trainer"]').click()
    path = visit.follow(link.first)
    assert path == f"artifacts/{slug('digits_pipeline/svc_trainer/model')}.html"
    assert "digits_pipeline/svc_trainer/model" in page.locator("h1").inner_text()


def test_the_accuracy_artifact_lists_two_versions(visit: Visit, ui_repo: UiRepo) -> None:
    page = visit.open("artifacts/index.html")
    path = visit.follow(page.locator(f'a[href$="{slug(ACCURACY)}.html"]').first)
    assert path == f"artifacts/{slug(ACCURACY)}.html"
    assert ACCURACY in page.locator("h1").inner_text()
    rows = page.locator('[data-testid="versions-table"] [data-testid="version-row"]')
    assert rows.count() == 2
    shown = " ".join(rows.all_inner_texts())
    for version in ui_repo.accuracy["versions"]:
        assert version["oid"][:10] in shown
    preview = page.locator('[data-testid="artifact-preview"]')
    assert preview.is_visible() and re.search(r"0\.\d{3}", preview.inner_text())
    made_by = page.locator('svg[data-testid="lineage-made-by"]')
    assert made_by.is_visible() and "evaluator" in (made_by.text_content() or "")
    assert page.locator('svg[data-testid="lineage-used-by"]').count() == 1
    visit.screenshot("lineage", made_by)


def test_the_added_image_and_table_are_previewed(visit: Visit) -> None:
    page = visit.open(f"artifacts/{slug('data/digit.png')}.html")
    image = page.locator('[data-testid="artifact-preview"] img')
    assert image.get_attribute("src").startswith("data:image/")  # works from file:// too, nothing fetched
    width, height = image.evaluate("i => [i.complete && i.naturalWidth, i.naturalHeight]")
    assert (width, height) == IMAGE_SIZE or (width > 0 and width * IMAGE_SIZE[1] == height * IMAGE_SIZE[0])
    visit.screenshot("image-preview", image)

    page = visit.open(f"artifacts/{slug('data/table.csv')}.html")
    table = page.locator('[data-testid="artifact-preview"] table')
    assert table.is_visible()
    cells = [c.strip() for c in table.locator("th, td").all_text_contents()]
    assert cells[:2] == ["digit", "count"] and cells[2:6] == ["0", "0", "1", "7"]


def test_a_stage_s_script_in_git_is_shown_without_a_dead_link(visit: Visit, ui_repo: UiRepo) -> None:
    """The repro stage reads train.py (in git, no artifact page) and data/table.csv (art-added): the metrics'
    lineage and the stage's inputs show both, and link only the table (a link to train.py was a 404)."""
    page = visit.open(f"artifacts/{slug('eval/metrics.json')}.html")
    made_by = page.locator('svg[data-testid="lineage-made-by"]')
    script = made_by.locator('[data-testid="lineage-node"][data-name="train.py"]')
    table = made_by.locator('[data-testid="lineage-node"][data-name="data/table.csv"]')
    assert script.count() == 1 and script.locator("a").count() == 0
    assert table.locator(f'a[href$="{slug("data/table.csv")}.html"]').count() == 1
    repro = next(r["oid"] for r in ui_repo.runs if r.get("kind") == "repro")
    page = visit.open(f"runs/{repro}.html")
    inputs = page.locator('[data-testid="step-detail"][data-step="train"] [data-testid="step-inputs"]')
    assert "train.py" in inputs.inner_text()
    hrefs = inputs.locator("a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert [h for h in hrefs if "/artifacts/" in h] == [f"../artifacts/{slug('data/table.csv')}.html"], hrefs


def test_the_experiments_table_sorts_and_plots_the_checked_experiments(visit: Visit, ui_repo: UiRepo) -> None:
    page = visit.open("experiments.html")
    table = page.locator('table[data-testid="exp-table"]')
    names = rows_by(page, "exp-row", "data-exp")
    assert set(EXPERIMENTS) <= set(names)
    metric = {
        r["name"]: next(m["value"] for m in r["metrics"] if m["key"] == "accuracy")
        for r in ui_repo.experiments["experiments"]
    }
    header = table.locator("thead th[data-sort-key]").filter(has_text="accuracy").first
    column = header.evaluate("th => th.cellIndex")

    def shown() -> list[tuple[str, float]]:
        out = []
        for row in table.locator('[data-testid="exp-row"]').all():
            cell = row.locator("td, th").nth(column).inner_text().strip()
            out.append((row.get_attribute("data-exp"), float(cell)))
        return out

    for _ in range(2):
        header.click()
        order = header.get_attribute("aria-sort")
        assert order in ("ascending", "descending")
        values = shown()
        assert {n: v for n, v in values} == {n: pytest.approx(metric[n]) for n, _ in values}
        assert [v for _, v in values] == sorted((v for _, v in values), reverse=order == "descending")
    first = [n for n, _ in values]
    header.click()
    assert header.get_attribute("aria-sort") != order and [n for n, _ in shown()] == first[::-1]
    visit.screenshot("experiments-sorted", table)

    plots = page.locator('[data-testid="exp-plots"]')
    boxes = page.locator('[data-testid="exp-select"]')
    for name in EXPERIMENTS:  # every experiment is ticked at first, and drawn
        assert visible(plots.locator(f'[data-rev="{name}"]')), name
    for i in range(boxes.count()):
        boxes.nth(i).uncheck()
    for name in EXPERIMENTS:
        assert visible(plots.locator(f'[data-rev="{name}"]')) == [], name
    page.locator('[data-testid="exp-row"][data-exp="lr-2"] [data-testid="exp-select"]').check()
    drawn = visible(plots.locator('[data-rev="lr-2"]'))
    assert drawn and all((d.bounding_box() or {}).get("width", 0) > 10 for d in drawn)
    assert visible(plots.locator('[data-rev="lr-1"]')) == []
    visit.screenshot("experiments-plot", plots)


def test_the_store_page_shows_sizes_and_ratios(visit: Visit, ui_repo: UiRepo) -> None:
    page = visit.open("store.html")
    summary = page.locator('[data-testid="store-summary"]')
    text = summary.inner_text().lower()
    for word in ("logical", "unique", "stored", "dedup", "compression"):
        assert word in text, (word, text)
    total = ui_repo.du["total"]
    tiles = {t.get_attribute("data-stat"): t for t in summary.locator("[data-stat]").all()}
    for key in ("logical", "unique", "stored"):
        value = tiles[key].inner_text()
        number, unit = re.search(r"([\d.]+)\s*(B|KiB|MiB|GiB)\b", value).groups()
        scale = 1024 ** ["B", "KiB", "MiB", "GiB"].index(unit)
        assert abs(float(number) * scale - total[f"{key}_size"]) <= 0.05 * scale, (key, value, total)
    logical, unique, stored = (total[f"{k}_size"] for k in ("logical", "unique", "stored"))
    for key, expected in (("dedup", logical / unique), ("compression", unique / stored)):
        shown = float(re.search(r"(\d+\.\d+)", tiles[key].inner_text()).group(1))
        assert shown == pytest.approx(expected, abs=0.006), (key, tiles[key].inner_text())
    commits = page.locator('[data-testid="store-commits"] tr:has(td)')
    history = ui_repo.run("git", "rev-list", "HEAD").stdout.split()
    assert commits.count() == len(history)
    artifacts = page.locator('[data-testid="store-artifacts"]').inner_text()
    for entry in ui_repo.du["artifacts"]:
        assert entry["path"] in artifacts
    assert page.locator('[data-testid="store-remotes"]').count() == 1
    visit.screenshot("store-summary", summary)


@pytest.mark.slow
def test_every_page_a_link_reaches_is_whole(visit: Visit) -> None:
    """Follow every link of every page from the runs page (each page once): each has the nav, its JSON, a
    screenshot that is not blank, and no error or outside request (the slow tier: some 30 pages per site)."""
    seen, todo = set(), ["index.html"]
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        page = visit.open(path)
        for href in page.eval_on_selector_all(
            "a[href]", "els => els.map(e => new URL(e.getAttribute('href'), document.baseURI).href)"
        ):
            target = href.split("#")[0].split("?")[0]
            assert target.startswith(visit.site.base), (path, href)
            todo.append(target[len(visit.site.base) :])
    kinds = {p.split("/")[0] if "/" in p else p for p in seen}
    assert {"index.html", "runs", "artifacts", "experiments.html", "store.html"} <= kinds, seen
    assert len([p for p in seen if p.startswith("runs/")]) >= 6


def test_zz_the_repository_was_not_written_and_the_server_stops_on_ctrl_c(site: Site, ui_repo: UiRepo) -> None:
    """Runs last for each site (pytest keeps the file's order within one parameter of a module fixture). The
    repository is compared with its snapshot taken when it was built, so a write by either site is caught."""
    assert snapshot(ui_repo.root) == ui_repo.pristine
    if site.proc is None:
        assert (site.root / "index.html").is_file() and (site.root / "assets").is_dir()
        return
    assert site.proc.poll() is None, site.output  # it served every test so far
    pid = site.proc.pid
    os.kill(pid, signal.SIGINT)
    assert site.proc.wait(timeout=15) == 0, site.output
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(site.url("index.html"), timeout=2)
    assert snapshot(ui_repo.root) == ui_repo.pristine
