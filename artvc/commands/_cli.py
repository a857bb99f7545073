"""The root click group of ``art`` (``main`` in ``__init__`` builds it only when ``_fast`` does not run the
command)."""

from __future__ import annotations

import click

from .._version import __version__
from ._errors import ArtGroup
from ._names import COMMANDS
from ._options import common, quiet_notes

ArtGroup.lazy = COMMANDS  # the same dictionary: ``_available`` prunes it in place


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
