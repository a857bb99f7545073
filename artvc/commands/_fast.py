"""``art status``, ``art checkout`` and ``art push`` without click: commands a user runs often, whose run in a small
workspace (or on one large file) is largely the start of the interpreter, where importing click was a third of
the instructions of a status and ~37 M instructions of any command.

``run_fast`` takes only plain arguments: the command with ``-q``/``--quiet``, ``-v``/``--verbose`` and ``--json``
(before or after the command name, as click takes them), the command's own plain flags (``status --check``,
``checkout -f``/``--force``) and paths. Anything else (``--help``, another option, ``--debug``, ``--``, another
command) returns None and goes through the click group, which defines what each argument means; tests compare
both ways' output and exit status (tests/test_startup.py). Each command's work is the same function either way
(``_status.run``, ``_checkout.run``, ``_push.run``).
"""

from __future__ import annotations

_FLAGS = {"-q": "quiet", "--quiet": "quiet", "-v": "verbose", "--verbose": "verbose", "--json": "json"}
_OWN = {  # command -> its flags taken here
    "status": {"--check": "check"},
    "checkout": {"-f": "force", "--force": "force"},
    "push": {},
}


def parse(argv: list[str]) -> tuple[str, dict, list[str], set[str]] | None:
    """(command, global flags, paths, the command's own flags) of a plain command line; None for anything else."""
    opts: dict = {}
    paths: list[str] = []
    own: set[str] = set()
    command = ""
    for arg in argv:
        if arg in _FLAGS:
            opts[_FLAGS[arg]] = True
        elif not command:
            if arg not in _OWN:
                return None
            command = arg
        elif arg in _OWN[command]:
            own.add(_OWN[command][arg])
        elif arg.startswith("-") or not arg:
            return None
        else:
            paths.append(arg)
    return (command, opts, paths, own) if command else None


def run_fast(argv: list[str]) -> int | None:
    """Run ``argv`` without click when ``parse`` takes it and return the exit status; None: use click."""
    parsed = parse(argv)
    if parsed is None:
        return None
    command, opts, paths, own = parsed
    from ._context import quiet_notes, set_direct

    set_direct(opts)
    try:
        quiet_notes(bool(opts.get("quiet")))
        from ..workspace.repo import Repo
        from ._render import warn

        with Repo.find() as repo:
            for warning in repo.config.warnings:
                warn(warning)
            if command == "status":
                from ._status import run

                run(repo, tuple(paths), "check" in own, None)
            elif command == "checkout":
                from ._checkout import run as checkout

                checkout(repo, tuple(paths), "force" in own)
            else:
                from ._push import run as push

                push(repo, tuple(paths))
        return 0
    except BaseException as exc:  # what the click group does with it (``ArtGroup.invoke``)
        from ._errors import exit_status

        return exit_status(exc, opts)
    finally:
        set_direct(None)
