"""The options that choose where stages run (``art repro``, ``art exp run --run-all``; docs/cli.md)."""

from __future__ import annotations

import click


def executor_options(func=None, *, what: str = "stale stages", pull: bool = True):
    """Add --executor, --scheduler, --scheduler-file, --local-cluster, --outputs and -r/--remote (``what``: what
    runs there, for the help; ``pull``: the command also has --pull, which -r serves too)."""
    remote_help = "the remote workers share (default: [executor] remote, else core.remote)."
    options = [
        click.option(
            "--executor",
            type=click.Choice(["local", "dask"]),
            help=f"Where {what} run: this machine (local, the default) or a Dask cluster ([executor] kind).",
        ),
        click.option("--scheduler", metavar="ADDRESS", help="With --executor dask: the scheduler (tcp://HOST:8786)."),
        click.option(
            "--scheduler-file",
            type=click.Path(dir_okay=False),
            help="With --executor dask: the scheduler file of 'dask scheduler --scheduler-file'.",
        ),
        click.option(
            "--local-cluster",
            type=click.IntRange(1, 256),
            metavar="N",
            help="With --executor dask: start a local cluster of N worker processes (closed at the end).",
        ),
        click.option(
            "--outputs",
            type=click.Choice(["fetch", "lazy"]),
            help="With --executor dask: download and check out results (fetch, the default) or leave "
            + (
                "them on the remote (lazy: art.lock is updated, 'art pull' gets the bytes)."
                if pull
                else "them on the remote (lazy: 'art fetch --run RUN' gets them)."
            ),
        ),
        click.option(
            "-r",
            "--remote",
            metavar="NAME",
            help=("With --pull: where to look for runs; with --executor dask: " if pull else "With --executor dask: ")
            + remote_help,
        ),
    ]

    def add(f):
        for option in reversed(options):
            f = option(f)
        return f

    return add(func) if func is not None else add


def executor_choice(executor, scheduler, scheduler_file, local_cluster, outputs, remote):
    """The ``ExecutorOptions`` of these flags."""
    from ..pipeline.outcome import ExecutorOptions

    return ExecutorOptions(executor, scheduler, scheduler_file, local_cluster, outputs, remote)
