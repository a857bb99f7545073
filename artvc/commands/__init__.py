"""The ``art`` command line: a click group whose subcommands live one per module and load lazily.

This package is the only one that prints, reads argv or exits.
"""

from __future__ import annotations

import click

from .._version import __version__
from ._errors import ArtGroup
from ._options import common, quiet_notes

# command name -> module in this package (imported only when the command runs)
ArtGroup.lazy = {
    "init": "init",
    "add": "add",
    "status": "status",
    "checkout": "checkout",
    "ls": "ls",
    "diff": "diff",
    "fsck": "fsck",
    "demo": "demo",
    "log": "log",
    "repro": "repro",
    "stage": "stage",
    "dag": "dag",
    "lineage": "lineage",
    "plots": "plots",
    "remote": "remote",
    "push": "push",
    "pull": "pull",
    "fetch": "fetch",
    "gc": "gc",
    "repack": "repack",
    "install": "install",
    "hook": "hook",
    "config": "config",
    "completion": "completion",
    "du": "du",
    "fsmonitor": "fsmonitor",
    "params": "params",
    "metrics": "metrics",
    "exp": "exp",
    "run": "run",
    "runs": "runs",
    "artifacts": "artifacts",
    "rm": "rm",
    "mv": "mv",
    "tag": "tag",
    "versions": "versions",
    "cat": "cat",
    "get": "get",
    "import": "import_",
    "import-url": "import_url",
    "update": "update",
    "ui": "ui",
}


def _available() -> None:
    """Keep the commands whose module is installed (a file check: cheaper than importlib's finders)."""
    import os

    here = os.path.dirname(__file__)
    ArtGroup.lazy = {k: v for k, v in ArtGroup.lazy.items() if os.path.exists(os.path.join(here, f"{v}.py"))}


@click.group(cls=ArtGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="art")
@common()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """art: version large data and models next to your code in git.

    \b
    Quick start:
      art init                 # inside a git repository
      art add data/            # store data, write data.art for git
      git add data.art .gitignore && git commit -m "data v1"
      art status               # what changed since the last add
      art checkout             # restore data from the store
    """
    ctx.obj = ctx.obj or {}
    quiet_notes(bool(ctx.obj.get("quiet")))  # a new command: forget an earlier in-process -q


def main() -> None:
    _available()
    cli(prog_name="art")
