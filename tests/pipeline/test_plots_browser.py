"""The plots page in a real browser: Debian's headless Chromium driven by Playwright, with the network off.

Playwright launches the system Chromium (``executable_path``; no browser is ever downloaded). Every request
that is not the page's own file is aborted and recorded, and the context is offline; the test then checks
that each chart really drew something: SVG shapes with a non-zero size, a heat-map table, a decoded image,
and a screenshot of the chart with more than a handful of distinct colours. One browser serves the module.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.pipeline.plot_helpers import chunks, plot_workspace, size

pytestmark = pytest.mark.slow  # a real Chromium (the slow tier, which CI runs)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _open(browser, page_file: Path):
    """Open the page offline; return (page, the list of requests that tried to leave the file)."""
    context = browser.new_context(offline=True, viewport={"width": 900, "height": 700})
    attempts: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            attempts.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda req: failed.append(req.url))
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    return page, attempts + failed


COUNT_COLOURS = """async uri => {
    const img = new Image();
    img.src = uri;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    return seen.size;
}"""


@pytest.fixture(scope="module")
def colours(browser):
    """count(png bytes) -> the number of distinct colours in it, decoded by a blank page of the browser."""
    context = browser.new_context(offline=True)
    page = context.new_page()

    def count(png: bytes) -> int:
        return page.evaluate(COUNT_COLOURS, "data:image/png;base64," + base64.b64encode(png).decode())

    assert count(_blank_png(page)) == 1  # the counter itself can tell a blank image
    yield count
    context.close()


def _blank_png(page) -> bytes:
    page.set_content("<body style='margin:0;background:#fff'><div style='width:300px;height:200px'></div>")
    return page.query_selector("div").screenshot()


def _assert_drawn(section, colours) -> None:
    """A chart's screenshot is not blank: white background, text, axes and at least one series colour."""
    png = section.screenshot()
    width, height = size(png)
    assert width > 200 and height > 100
    assert colours(png) > 8


def _pipeline(tmp_path: Path) -> Workspace:
    from tests.conftest import git

    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q")
    ws = Workspace(root)
    ws.art("init")
    plot_workspace(ws)
    ws.art("repro")
    return ws


def test_every_chart_renders_offline(browser, colours, tmp_path) -> None:
    ws = _pipeline(tmp_path)
    ws.art("plots", "show")
    page, attempts = _open(browser, ws.root / "plots.html")
    assert attempts == []
    sections = page.query_selector_all("section.plot")
    assert [s.get_attribute("data-template") for s in sections] == ["line", "scatter", "bar", "confusion", "image"]
    line, scatter, bar, matrix, image = sections

    path = line.query_selector("svg.chart path.series")
    box = path.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100  # 30 epochs of a falling loss
    assert len(scatter.query_selector_all("svg.chart g.series circle")) == 11
    bars = bar.query_selector_all("svg.chart g.series rect")
    assert len(bars) == 2 and all((b.bounding_box() or {}).get("height", 0) > 10 for b in bars)
    cells = matrix.query_selector_all("table.confusion td")
    assert len(cells) == 9 and matrix.query_selector("table.confusion").bounding_box()["width"] > 100
    img = image.query_selector("img")
    assert img.evaluate("i => i.complete && i.naturalWidth") == 32  # the data: URI decoded, nothing fetched
    for section in sections:
        _assert_drawn(section, colours)
    page.context.close()


def test_a_two_revision_diff_shows_both_in_the_legend(browser, colours, tmp_path) -> None:
    ws = _pipeline(tmp_path)
    ws.git("add", "-A")
    ws.git("commit", "-qm", "scale 1")
    plot_workspace(ws, scale=3.0)
    ws.art("repro")
    ws.art("plots", "diff", "-o", "diff.html")
    page, attempts = _open(browser, ws.root / "diff.html")
    assert attempts == []
    for template in ("line", "scatter", "bar"):
        section = page.query_selector(f'section.plot[data-template="{template}"]')
        legend = [t.text_content() for t in section.query_selector_all("g.legend text")]
        assert legend == ["HEAD", "workspace"], (template, legend)
        drawn = section.query_selector_all("svg.chart .series")
        assert sorted(s.get_attribute("data-rev") for s in drawn) == ["HEAD", "workspace"]
        paints = {s.get_attribute("stroke") or s.get_attribute("fill") for s in drawn}
        assert len(paints) == 2
        _assert_drawn(section, colours)
    captions = page.query_selector_all('section.plot[data-template="confusion"] table.confusion')
    assert [c.get_attribute("data-rev") for c in captions] == ["HEAD", "workspace"]
    assert len(page.query_selector_all('section.plot[data-template="image"] img')) == 2
    page.context.close()


def test_the_page_forbids_fetches_even_when_the_network_is_up(browser, tmp_path) -> None:
    """The page's own Content-Security-Policy blocks every fetch: an image injected after load, pointing at a
    real server on 127.0.0.1, never reaches it (so nothing leaves the machine outside this test's offline
    context either)."""
    import http.server
    import threading

    from artvc.pipeline.plotsrender import render_html

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page_file = tmp_path / "page.html"
        page_file.write_text(render_html([], ["workspace"]))
        context = browser.new_context()
        page = context.new_page()
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(page_file.as_uri())
        url = f"{'http'}://127.0.0.1:{server.server_port}/x.png"
        page.evaluate("u => { const i = new Image(); i.src = u; document.body.append(i) }", url)
        page.wait_for_timeout(300)
        context.close()
        control = browser.new_context()  # the same fetch from a page without the policy does reach the server
        other = control.new_page()
        other.set_content("<p>no policy here</p>")
        other.evaluate("u => { const i = new Image(); i.src = u; document.body.append(i) }", url)
        other.wait_for_timeout(300)
        control.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert blocked, "the policy did not report the blocked image"
    assert hits == ["/x.png"]  # only the control page's fetch arrived


def test_png_export_with_the_system_chromium(colours, tmp_path) -> None:
    ws = _pipeline(tmp_path)
    r = ws.art("plots", "show", "eval/loss.csv", "eval/classes.csv", "--png", "charts", "--json")
    written = [Path(p) for p in json.loads(r.stdout)["png"]]
    assert sorted(p.name for p in written) == ["eval_classes.csv.png", "eval_loss.csv.png"]
    for png in written:
        data = png.read_bytes()
        assert (b"tEXt", b"Software\x00art plots") in chunks(data)  # marked: a later run may replace it
        width, height = size(data)
        assert width >= 640 and height >= 200
        assert colours(data) > 8
    ws.art("plots", "show", "eval/loss.csv", "--png", "charts")  # its own file: replaced without --force
    (ws.root / "charts/eval_loss.csv.png").write_bytes(b"\x89PNG\r\n\x1a\nmine")
    (ws.root / "plots.html").unlink()
    r = ws.art("plots", "show", "eval/loss.csv", "--png", "charts", code=1)
    assert not (ws.root / "plots.html").exists()  # refused before anything was written
    assert re.search(r"eval_loss.csv.png exists and was not written by art plots", r.stderr)
    assert (ws.root / "charts/eval_loss.csv.png").read_bytes() == b"\x89PNG\r\n\x1a\nmine"
