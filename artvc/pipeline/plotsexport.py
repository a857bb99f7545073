"""Write plots: the HTML page (``write_html``) and one PNG per chart (``write_pngs``, through headless Chromium).

Both write only inside the workspace, temp file + rename, and replace an existing file only when art wrote
it (the page's ``<meta name="generator">``, the PNG's ``Software`` text chunk) or with ``force``.

Chromium is found as ``$ART_CHROMIUM``, else the first of ``chromium``, ``chromium-browser``,
``google-chrome``, ``google-chrome-stable`` on ``PATH``. It runs headless with a throw-away profile under
``.art/tmp``, takes a screenshot of each chart's own page (which forbids every fetch, see ``plotsrender``),
and is stopped after ``CHROME_TIMEOUT`` seconds per chart.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

from ..errors import WouldOverwriteError
from ..objstore.fileio import atomic_write
from ..workspace.paths import check_write, to_repo_path
from ..workspace.repo import Repo
from .plots import Plot, PlotsError
from .plotsrender import GENERATOR, chart_pages

CHROME_ENV = "ART_CHROMIUM"
CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROME_TIMEOUT = 60
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_MARK = b"Software\x00" + GENERATOR.encode()


def place(repo: Repo, user_path: str | os.PathLike[str], *, cwd: Path | None = None) -> Path:
    """The absolute path for an output the user named (relative to ``cwd``), refused outside the workspace.

    Raises:
        UnsafePathError: outside the workspace (also through a symlink), or inside ``.git``/``.art``.
    """
    rel = to_repo_path(repo.root, user_path, cwd=cwd)
    return check_write(repo.root, repo.root / rel)


def check_html(dest: Path, *, force: bool = False) -> None:
    """Refuse to replace a file art did not write (callers check before writing anything else).

    Raises:
        WouldOverwriteError: ``dest`` holds a file art did not write (without ``force``), or a folder.
    """
    _replaceable(dest, lambda head: f'name="generator" content="{GENERATOR}"'.encode() in head, force)


def write_html(repo: Repo, dest: Path, html: str, *, force: bool = False) -> None:
    """Write the page to ``dest`` (from ``place``), creating its folder.

    Raises:
        WouldOverwriteError: ``dest`` holds a file art did not write (without ``force``), or a folder.
        FileSystemError: the OS refused.
    """
    check_html(dest, force=force)
    _mkdir(repo, dest.parent)
    atomic_write(dest, html)


def write_pngs(repo: Repo, plots: list[Plot], revisions: list[str], folder: Path, *, force: bool = False) -> list[Path]:
    """Render each data plot to ``folder/NAME.png`` (NAME from the plot's path); return the files written.

    Raises:
        PlotsError: Chromium is not installed or fails.
        WouldOverwriteError: a PNG there that art did not write (without ``force``).
    """
    pages = chart_pages(plots, revisions)
    names = _names([plot.spec.path for plot, *_ in pages])
    targets = [folder / f"{name}.png" for name in names]
    for target in targets:
        _replaceable(target, lambda head: PNG_MARK in head, force)
    if not pages:
        return []
    chrome = find_chromium()
    _mkdir(repo, folder)
    written = []
    with tempfile.TemporaryDirectory(prefix="plots-", dir=repo.tmp_dir) as tmp:
        for (_, html, width, height), target in zip(pages, targets, strict=True):
            page, shot = Path(tmp, "chart.html"), Path(tmp, "chart.png")
            page.write_text(html)
            _screenshot(chrome, page, shot, width, height, Path(tmp, "profile"))
            atomic_write(target, _mark(shot.read_bytes()))
            written.append(target)
    return written


def find_chromium() -> str:
    """The Chromium (or Chrome) executable to render PNGs with.

    Raises:
        PlotsError: none is installed, or ``$ART_CHROMIUM`` names no executable.
    """
    configured = os.environ.get(CHROME_ENV)
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise PlotsError(
                f"{CHROME_ENV}={configured} is not an executable", hint=f"point {CHROME_ENV} at a Chromium binary"
            )
        return found
    for name in CHROME_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise PlotsError(
        "--png needs Chromium (or Chrome), and none is installed",
        hint=f"install it (Debian/Ubuntu: apt-get install chromium) or set {CHROME_ENV}=/path/to/chrome; "
        "the HTML page needs no browser to be written",
    )


def _screenshot(chrome: str, page: Path, shot: Path, width: int, height: int, profile: Path) -> None:
    args = [
        chrome,
        "--headless",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--proxy-server=127.0.0.1:9",  # belt and braces: the page's own policy already forbids every fetch
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        f"--screenshot={shot}",
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    shot.unlink(missing_ok=True)
    try:
        done = subprocess.run(
            [*args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=CHROME_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise PlotsError(f"Chromium did not finish a screenshot in {CHROME_TIMEOUT} s ({chrome})") from None
    except OSError as exc:
        raise PlotsError(f"cannot run Chromium ({chrome}): {exc.strerror or exc}") from None
    if done.returncode != 0 or not shot.is_file() or not shot.read_bytes().startswith(PNG_SIGNATURE):
        last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise PlotsError(
            f"Chromium failed to render a chart (exit status {done.returncode}): {last}",
            hint=f"check that {chrome} runs headless on this machine",
        )


def _mark(png: bytes) -> bytes:
    """Add a ``tEXt`` chunk naming art after the PNG's header chunk (so a later run may replace the file)."""
    ihdr_end = len(PNG_SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    chunk = b"tEXt" + PNG_MARK
    text = struct.pack(">I", len(PNG_MARK)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return png[:ihdr_end] + text + png[ihdr_end:]


def _replaceable(target: Path, ours, force: bool) -> None:
    shown = os.path.relpath(target)  # as the user names it, from the current directory
    if target.is_dir() and not target.is_symlink():
        raise WouldOverwriteError(f"{shown} is a folder", hint="name a file to write")
    if not os.path.lexists(target) or force:
        return
    try:
        with open(target, "rb") as f:
            head = f.read(4096)
    except OSError:
        head = b""
    if not ours(head):
        raise WouldOverwriteError(
            f"{shown} exists and was not written by art plots",
            hint="pass --force to replace it, or name another file",
        )


def _mkdir(repo: Repo, folder: Path) -> None:
    from ..objstore.oserrors import describe

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise describe(exc, "create", folder) from exc
    check_write(repo.root, folder / "x")


def _names(paths: list[str]) -> list[str]:
    """A distinct file name per plot path (``eval/roc.csv`` -> ``eval_roc.csv``)."""
    out: list[str] = []
    for path in paths:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", path.replace("/", "_")).strip("._")[:120] or "plot"
        name, n = base, 1
        while name in out:
            n += 1
            name = f"{base}-{n}"
        out.append(name)
    return out
