"""Options shared by every command: --json, -q, -v, --debug (also accepted before the command name)."""

from __future__ import annotations

import functools

import click

from ._context import absolute as absolute  # re-exported, as flags
from ._context import flags as flags  # re-exported: commands read the global flags from here
from ._context import quiet_notes
from ._render import warn


def _store(name: str):
    def callback(ctx: click.Context, _param, value):
        if value:
            root = ctx.find_root()
            root.obj = root.obj or {}
            root.obj[name] = value
            ctx.obj = root.obj
            if name == "quiet":
                quiet_notes(True)
        return value

    return callback


def common(json_output: bool = True):
    """Decorate a command with the shared flags; their values land in ``ctx.obj``."""

    def decorate(f):
        opts = [
            click.option(
                "-q",
                "--quiet",
                is_flag=True,
                expose_value=False,
                callback=_store("quiet"),
                help="Print nothing but errors.",
            ),
            click.option(
                "-v", "--verbose", is_flag=True, expose_value=False, callback=_store("verbose"), help="Say more."
            ),
            click.option(
                "--debug",
                is_flag=True,
                expose_value=False,
                callback=_store("debug"),
                help="Show tracebacks for errors.",
            ),
        ]
        if json_output:
            opts.append(
                click.option(
                    "--json",
                    "json_",
                    is_flag=True,
                    expose_value=False,
                    callback=_store("json"),
                    help="Print machine-readable JSON.",
                )
            )
        for opt in reversed(opts):
            f = opt(f)
        return f

    return decorate


def source_revision(f):
    """``--rev``, ``--version`` and ``--stage``: which commit of another repository to take an artifact from
    (``art get``, ``art import``; at most one, checked by ``external.open_named``)."""
    for opt in reversed(
        [
            click.option("--rev", help="A branch, tag or commit of the source repository (default: its HEAD)."),
            click.option(
                "--version", "version", help="A named version of the artifact in the source (art tag), e.g. v1.2.0."
            ),
            click.option("--stage", help="The version currently in this stage in the source (art tag --stage)."),
        ]
    ):
        f = opt(f)
    return f


def pass_repo(f):
    """Open the workspace around the current directory and pass it as the first argument."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from ..workspace.repo import Repo

        with Repo.find() as repo:
            for warning in repo.config.warnings:
                warn(warning)
            return f(repo, *args, **kwargs)

    return wrapper
