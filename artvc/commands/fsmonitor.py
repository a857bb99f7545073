"""``art fsmonitor start|stop|status|run``: the file-system monitor daemon that ``art status`` asks what changed."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, say


@click.group("fsmonitor")
def cli() -> None:
    """Manage the file-system monitor that lets 'art status' read only the folders that changed.

    \b
    With 'core.fsmonitor = true' (off by default) the first 'art status' starts it in the background.
    Linux only (inotify). One daemon per workspace; it writes only under .art.

    \b
    Examples:
      art config core.fsmonitor true
      art fsmonitor start
      art fsmonitor status --json
      art fsmonitor stop
    """


@cli.command("start")
@common()
@pass_repo
def start_cmd(repo) -> None:
    """Start the daemon in the background (nothing when it runs already); returns once every folder is watched."""
    from ..errors import ArtError
    from ..workspace.fsmonitor import LOG_NAME, start

    info = start(repo)
    if info is None:
        raise ArtError("the file-system monitor did not start", hint=f"see {repo.art_dir / LOG_NAME} for why")
    if flags().get("json"):
        emit_json({"pid": info["pid"], "watched_folders": info["watches"]})
        return
    say(f"fsmonitor running (pid {info['pid']}, {info['watches']} folders watched)")


@cli.command("stop")
@common()
@pass_repo
def stop_cmd(repo) -> None:
    """Stop the daemon (nothing when none runs)."""
    from ..workspace.fsmonitor import stop

    pid = stop(repo)
    if flags().get("json"):
        emit_json({"stopped": pid is not None, "pid": pid})
        return
    say("fsmonitor is not running" if pid is None else f"fsmonitor stopped (pid {pid})")


@cli.command("status")
@common()
@pass_repo
def status_cmd(repo) -> None:
    """Say whether the daemon runs, what it watches and whether status uses it (core.fsmonitor)."""
    from ..workspace.fsmonitor import address, running

    info = running(repo)
    out = {
        "running": info is not None,
        "enabled": bool(repo.config.core("fsmonitor")),
        "socket": address(repo.art_dir).replace("\0", "@"),
    }
    if info is not None:
        out.update(
            {
                "pid": info.get("pid"),
                "watched_folders": info.get("watches"),
                "changed_folders": info.get("changed"),
                "overflows": info.get("overflows"),
                "degraded": info.get("degraded"),
                "token": info.get("token"),
            }
        )
    if flags().get("json"):
        emit_json(out)
        return
    enabled = "on" if out["enabled"] else "off (art config core.fsmonitor true)"
    if info is None:
        say(f"fsmonitor is not running; core.fsmonitor is {enabled}")
        return
    say(f"fsmonitor running (pid {info['pid']}), watching {info['watches']} folders; core.fsmonitor is {enabled}")
    if info.get("degraded"):
        say(f"degraded: every status walks all folders ({info['degraded']})")


@cli.command("run", hidden=True)
@pass_repo
def run_cmd(repo) -> None:
    """Run the daemon in the foreground (what 'start' runs in the background)."""
    from ..workspace.fsmonitor_daemon import run

    run(repo.root)
