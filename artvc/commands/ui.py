"""``art ui``: serve the read-only dashboard on 127.0.0.1, or write it as a static site (``--export``)."""

from __future__ import annotations

import json
import sys

import click

from ..errors import UsageError
from ._options import common, flags, pass_repo
from ._render import emit_json, say, warn

DEFAULT_PORT = 8765


@click.command("ui")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The port to listen on; 0 picks a free one.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on; any address but loopback requires the token printed in the URL.",
)
@click.option(
    "--open/--no-open",
    "open_",
    default=None,
    help="Open the dashboard in a web browser (default: when stdout is a terminal).",
)
@click.option(
    "--export",
    "export_dir",
    metavar="DIR",
    type=click.Path(file_okay=True, dir_okay=True),
    help="Write the pages as a static site into DIR (works from file://) and exit.",
)
@click.option("-f", "--force", is_flag=True, help="With --export: replace DIR when it holds a previous export.")
@common()
@pass_repo
def cli(repo, port: int, host: str, open_: bool | None, export_dir: str | None, force: bool) -> None:
    """Show the repository in a web browser: runs, each run's DAG, artifacts with their versions and lineage,
    experiments and the store. Read-only: serving never writes in the repository.

    \b
    The server listens on 127.0.0.1 (this machine only) until Ctrl-C. With --host set to any other address,
    it prints a URL with a secret token; only requests carrying it are answered.

    \b
    Examples:
      art ui
      art ui --port 0 --no-open
      art ui --export site          # a static copy, e.g. as a CI artifact
    """
    if export_dir is not None:
        _export(repo, export_dir, force=force)
        return
    if force:
        raise UsageError("--force goes with --export", hint="art ui --export DIR --force")
    _serve(repo, host=host, port=port, open_=open_)


def _export(repo, export_dir: str, *, force: bool) -> None:
    from ..ui.site import export

    result = export(repo, export_dir, force=force)
    for m in result.missing:
        warn(f"{m.page} links to {m.link}, which names nothing in this repository (the export says so there)")
    if flags().get("json"):
        missing = [{"page": m.page, "link": m.link} for m in result.missing]
        emit_json({"dest": str(result.dest), "pages": result.pages, "files": result.files, "missing": missing})
        return
    say(f"Wrote {result.pages} pages ({result.files} files) to {result.dest}; open {result.dest / 'index.html'}")


def _serve(repo, *, host: str, port: int, open_: bool | None) -> None:
    import signal

    from ..objstore.faults import fault_point
    from ..ui.server import make_server, serve

    opts = flags()
    server = make_server(repo.root, host=host, port=port, log=_log, verbose=bool(opts.get("verbose")))
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops it like Ctrl-C
    try:  # from here on, Ctrl-C is a clean stop (a script may send it as soon as it has read the URL)
        if opts.get("json"):
            click.echo(json.dumps({"url": server.url}))
        else:
            say(f"Serving {server.url} (Ctrl-C to stop)")
        sys.stdout.flush()
        fault_point("ui.url-printed")
        if open_ if open_ is not None else sys.stdout.isatty():
            _open_browser(server.url)
        serve(server)
    except KeyboardInterrupt:
        say("Stopped.", err=True)
    finally:
        server.server_close()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _log(message: str) -> None:
    click.echo(message, err=True)


def _open_browser(url: str) -> None:
    """Open the URL without waiting: a console browser (``BROWSER=w3m``) would otherwise hold the terminal
    before the server answers."""
    import threading
    import webbrowser

    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
