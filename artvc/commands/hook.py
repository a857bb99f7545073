"""``art hook NAME ARGS...`` (hidden): what the git hook shims and the pre-commit framework call."""

import click

from ._options import common


@click.command("hook", hidden=True, context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--dir", "prefix", default="", metavar="PATH", help="The art workspace, relative to the top of the git work tree."
)
@click.option("--strict/--no-strict", default=None, help="pre-commit: also block on stale pipeline stages.")
@common(json_output=False)
def cli(name: str, args: tuple[str, ...], prefix: str, strict: bool | None) -> None:
    """Run art's part of git hook NAME (pre-commit, post-checkout, pre-push) with git's ARGS.

    Installed by 'art install'; not meant to be typed. Outside an art repository it does nothing.

    \b
    Example (what .git/hooks/pre-push runs):
      art hook pre-push origin /srv/git/project.git < ref-lines
    """
    import os
    import sys
    from pathlib import Path

    from ..hooks.run import run_hook
    from ._options import flags

    stdin = None
    if name == "pre-push" and os.environ.get("PRE_COMMIT") != "1" and not sys.stdin.isatty():
        stdin = sys.stdin.buffer.read()
    result = run_hook(name, list(args), cwd=Path.cwd(), stdin=stdin, prefix=prefix, strict=strict)
    quiet = flags().get("quiet")
    for line in result.messages:
        if not quiet or result.code:
            click.echo(line, err=True)
    if result.code:
        raise SystemExit(result.code)
