"""``art status`` without click: the command a user runs most often, and whose run in a small or unchanged
workspace is mostly the start of the interpreter, where importing click was a third of the instructions.

``run_fast`` takes only plain arguments: ``status`` with ``-q``/``--quiet``, ``-v``/``--verbose``, ``--json``
and ``--check`` (before or after the command name, as click takes them) and paths. Anything else (``--help``,
``--remote``, ``--debug``, ``--``, another command) returns None and goes through the click group, which
defines what each argument means; tests compare both ways' output and exit status
(tests/test_startup.py).
"""

from __future__ import annotations

_FLAGS = {"-q": "quiet", "--quiet": "quiet", "-v": "verbose", "--verbose": "verbose", "--json": "json"}


def parse(argv: list[str]) -> tuple[dict, list[str], bool] | None:
    """(flags, paths, --check) of a plain ``status`` command line; None for anything else."""
    opts: dict = {}
    paths: list[str] = []
    check = command = False
    for arg in argv:
        if arg in _FLAGS:
            opts[_FLAGS[arg]] = True
        elif not command:
            if arg != "status":
                return None
            command = True
        elif arg == "--check":
            check = True
        elif arg.startswith("-") or not arg:
            return None
        else:
            paths.append(arg)
    return (opts, paths, check) if command else None


def run_fast(argv: list[str]) -> int | None:
    """Run ``argv`` without click when ``parse`` takes it and return the exit status; None: use click."""
    parsed = parse(argv)
    if parsed is None:
        return None
    opts, paths, check = parsed
    from ._context import quiet_notes, set_direct

    set_direct(opts)
    try:
        quiet_notes(bool(opts.get("quiet")))
        from ..workspace.repo import Repo
        from ._render import warn
        from ._status import run

        with Repo.find() as repo:
            for warning in repo.config.warnings:
                warn(warning)
            run(repo, tuple(paths), check, None)
        return 0
    except BaseException as exc:  # what the click group does with it (``ArtGroup.invoke``)
        from ._errors import exit_status

        return exit_status(exc, opts)
    finally:
        set_direct(None)
