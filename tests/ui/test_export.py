"""``art ui --export``: a complete, self-contained static site, and what it refuses to replace or write into."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import blake3
import pytest

from tests.ui.server_helpers import ART, UI, build_repo, crawl, links_of, run, snapshot


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    return build_repo(tmp_path_factory.mktemp("uiserver"))


@pytest.fixture(scope="module")
def ui(repo):
    server = UI(*repo)
    yield server
    server.kill()
    server.stop()


def test_export_writes_a_site_whose_every_link_resolves_to_a_file_in_it(repo, ui, tmp_path):
    root, env = repo
    dest = tmp_path / "site"
    r = run(root, env, *ART, "ui", "--export", str(dest), "--json")
    result = json.loads(r.stdout)
    assert result["dest"] == str(dest) and result["missing"] == []
    files = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert result["files"] == len(files) - 1  # all but the marker
    served = {p.lstrip("/") for p in crawl(ui)}
    pages = {p for p in files if p.endswith(".html")}
    assert served == pages | {"assets/art-ui.css", "assets/art-ui.js"}, "the export has the pages the server links"
    assert result["pages"] == len(pages)
    for page in pages:
        assert f"api/{page.removesuffix('.html')}.json" in files
        for link in links_of((dest / page).read_text()):
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc, f"{page} links outside the site: {link}"
            if not parts.path:
                continue  # a fragment in the page itself
            assert not parts.path.startswith("/"), f"{page}: {link} is not relative"
            target = (dest / page).parent / parts.path
            assert target.resolve().is_relative_to(dest.resolve()), f"{page}: {link} leaves the site"
            assert target.is_file(), f"{page}: {link} is not in the export"
    assert json.loads((dest / "api/index.json").read_text()) == json.loads(ui.get("/api/index.json").body)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def export(root: Path, dest: Path, *, force: bool = False):
    from artvc.ui.site import export as export_site
    from artvc.workspace import Repo

    with Repo(root) as repo:
        return export_site(repo, dest, force=force)


def test_export_refuses_a_non_empty_folder_and_force_replaces_only_a_previous_export(repo, tmp_path):
    from artvc.errors import WouldOverwriteError

    root, env = repo
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    r = run(root, env, *ART, "ui", "--export", str(other), code=1)
    assert r.stderr.splitlines() == [
        f"art: error: {other} exists and is not an empty folder",
        "hint: give a new or empty folder, or --force to replace a previous export of art ui",
    ]
    with pytest.raises(WouldOverwriteError, match="not a previous export of art ui"):
        export(root, other, force=True)
    assert _tree(other) == {"keep.txt": b"mine"}

    site = tmp_path / "site"
    site.mkdir()  # an empty folder is fine
    export(root, site)
    first = _tree(site)
    with pytest.raises(WouldOverwriteError, match="is not an empty folder"):
        export(root, site)
    assert _tree(site) == first
    (site / "index.html").write_text("stale")
    export(root, site, force=True)
    assert _tree(site) == first
    (site / "runs" / "notes.txt").write_text("added by hand")  # no longer only an export
    with pytest.raises(WouldOverwriteError, match="not a previous export"):
        export(root, site, force=True)
    assert (site / "runs" / "notes.txt").read_text() == "added by hand"
    (site / "runs" / "notes.txt").unlink()
    (site / "assets" / "link").symlink_to(other / "keep.txt")  # nor is one with a symlink in it
    with pytest.raises(WouldOverwriteError, match="not a previous export"):
        export(root, site, force=True)
    assert (other / "keep.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".art-tmp")], "no temp folder left"


def test_export_refuses_a_file_and_a_symlink(repo, tmp_path):
    from artvc.errors import UnsafePathError, WouldOverwriteError

    root, _ = repo
    (tmp_path / "file").write_text("x")
    with pytest.raises(WouldOverwriteError):
        export(root, tmp_path / "file", force=True)
    assert (tmp_path / "file").read_text() == "x"
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafePathError, match="is a symlink"):
        export(root, tmp_path / "link")
    assert not any((tmp_path / "real").iterdir())


def test_export_never_writes_into_art_or_git(repo):
    from artvc.errors import UnsafePathError

    root, env = repo
    before = snapshot(root)
    r = run(root, env, *ART, "ui", "--export", ".art/site", "--force", code=10)
    assert r.stderr.startswith(f"art: error: art ui --export will not write to {root}/.art/site: ")
    for where in (".art", ".git/site", ".git/refs", ".", "..", "sub/.git/x", "data/../.ART/x"):
        with pytest.raises(UnsafePathError):
            export(root, root / where, force=True)
    assert snapshot(root) == before


def test_an_export_failing_before_the_rename_leaves_the_previous_export_and_no_temp_folder(repo, tmp_path):
    root, env = repo
    site = tmp_path / "site"
    export(root, site)
    first = _tree(site)
    r = subprocess.run(
        [*ART, "ui", "--export", str(site), "--force"],
        cwd=root,
        env={**env, "ART_FAULT": "ui.export-written:eio"},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 13 and r.stderr.startswith("art: error: cannot write ")
    assert _tree(site) == first
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".art-tmp")]


@pytest.mark.parametrize(
    "name",
    ["digits_pipeline/evaluator/accuracy", "data/prepared", "../../etc/passwd", "a b/<c>", "é" * 200, "x" * 300, "."],
)
def test_every_artifact_slug_is_a_route_and_the_pages_link_the_same_slug(name):
    from artvc.ui import render_base, urls

    key = urls.slug(name)
    assert urls.resolve(f"/artifacts/{key}.html") == urls.Route(urls.ARTIFACT, key)
    assert urls.resolve(f"/api/artifacts/{key}.json") == urls.Route(urls.ARTIFACT, key, True)
    assert render_base.slug(name) == key
    assert "/" not in key and "\\" not in key


def test_the_slug_of_a_name_is_fixed():
    from artvc.ui.urls import slug

    digest = blake3.blake3(b"digits_pipeline/evaluator/accuracy").hexdigest()
    assert slug("digits_pipeline/evaluator/accuracy") == "digits_pipeline_evaluator_accuracy-" + digest[:10]
    assert slug("a  b/../c") == "a_b_.._c-" + blake3.blake3(b"a  b/../c").hexdigest()[:10]
