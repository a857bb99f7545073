"""The ``art`` command line: a click group (``_cli``) whose subcommands live one per module and load lazily.

This package is the only one that prints, reads argv or exits. Importing it loads no click: ``main`` runs
``art status`` without click when its arguments are plain (``_fast``); everything else goes through ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._names import COMMANDS

if TYPE_CHECKING:
    import click


def _available() -> None:
    """Keep the commands whose module is installed (a file check: cheaper than importlib's finders)."""
    import os

    here = os.path.dirname(__file__)
    for name, module in list(COMMANDS.items()):
        if not os.path.exists(os.path.join(here, f"{module}.py")):
            del COMMANDS[name]


def __getattr__(name: str) -> click.Group:
    if name == "cli":  # the click group, loaded on first use
        from ._cli import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    import gc
    import sys

    # a collection of the youngest objects every 50,000 allocations, not 700: a push or pull of many small files
    # allocates millions of short-lived tuples and entries and few cycles (13% less CPU for a pull of 20k files);
    # a cycle waits at most that many allocations longer
    gc.set_threshold(50_000, 10, 10)
    _available()
    from ._fast import run_fast

    code = run_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from ._cli import cli

    cli(prog_name="art")
