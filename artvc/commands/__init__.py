"""The ``art`` command line: a click group (``_cli``) whose subcommands live one per module and load lazily.

This package is the only one that prints, reads argv or exits. Importing it loads no click: ``main`` runs
``art status``, ``checkout``, ``push``, ``add`` and ``pull`` without click when their arguments are plain
(``_fast``); everything else goes through ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

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
    # art is the program (the ``art`` script, ``python -m artvc``), not a module run by another one that goes on
    # after it (``python -m cProfile -m artvc``): only then may the process end without its teardown (``leave``)
    program = sys._getframe(1).f_globals is getattr(sys.modules.get("__main__"), "__dict__", None)
    _available()
    from ._fast import run_fast

    code = run_fast(sys.argv[1:])
    if code is None:
        from ._cli import cli

        try:
            cli(prog_name="art")  # click's standalone mode: it always ends with SystemExit
        except SystemExit as exc:
            if not isinstance(exc.code, int | None):
                raise
            if not program:
                raise
            code = exc.code or 0
    if not program:
        sys.exit(code)
    leave(code or 0)


def leave(code: int) -> NoReturn:
    """End the process with ``code`` once the command is done, without the interpreter's teardown.

    The teardown frees every object and module one by one: ~9 M instructions after a small ``art add``, ~22 M
    after ``art status`` and ~150 M (a seventh of the command) after a checkout of 5,000 files, all of it
    after the command's work is finished and durable. What the teardown would do that matters is done here:
    the ``atexit`` functions run (the temp-file journal's removal) and stdout and stderr are flushed. When
    another thread still runs (a daemon too: the ordinary exit's teardown gives it time to end), or a flush
    fails (a closed pipe), the ordinary exit decides, as before.
    """
    import atexit
    import os
    import sys

    # another thread, even a daemon (the ui's last answer being sent), still runs; no thread was started through
    # threading when it was never imported (importing it here cost every command ~3 M instructions)
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # what the interpreter's exit runs first (no public name for it)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and not stream.closed:
                stream.flush()
        except (OSError, ValueError):
            sys.exit(code)
    os._exit(code)
