"""``art status``, ``checkout``, ``push``, ``add`` and ``pull`` without click: commands a user runs often, whose run
in a small workspace (or on one large file) is largely the start of the interpreter, where importing click was a
third of the instructions of a status and ~37 M instructions of any command.

``run_fast`` takes only plain arguments: the command with ``-q``/``--quiet``, ``-v``/``--verbose`` and ``--json``
(before or after the command name, as click takes them), the command's own plain flags (``status --check``,
``checkout -f``/``--force``, ``pull -f``/``--force``/``--all-runs``/``--lazy``/``--no-lazy``), its options with a
value given as the next argument (``-j``/``--jobs N`` for add, push and pull with N a decimal 1-64, ``-r``/
``--remote NAME`` for push and pull with a NAME that starts with no dash) and paths (at least one for add). Anything
else (``--help``, another option, ``--jobs=4``, ``-j4``, ``-fq``, ``--debug``, ``--``, an empty argument, another
command) returns None and goes through the click group, which defines what each argument means; tests compare both
ways' output, exit status and results (tests/test_startup.py). Each command's work is the same function either way
(``_status.run``, ``_checkout.run``, ``_push.run``, ``_add.run``, ``_pull.run``).
"""

from __future__ import annotations

_FLAGS = {"-q": "quiet", "--quiet": "quiet", "-v": "verbose", "--verbose": "verbose", "--json": "json"}
_FORCE = {"-f": ("force", True), "--force": ("force", True)}
_OWN: dict[str, dict[str, tuple[str, bool]]] = {  # command -> its flags taken here: (keyword, value)
    "status": {"--check": ("check", True)},
    "checkout": _FORCE,
    "push": {},
    "add": {},
    "pull": {**_FORCE, "--all-runs": ("all_runs", True), "--lazy": ("lazy", True), "--no-lazy": ("lazy", False)},
}
_JOBS = {"-j": "jobs", "--jobs": "jobs"}
_REMOTE = {"-r": "remote", "--remote": "remote"}
_VALUED: dict[str, dict[str, str]] = {"add": _JOBS, "push": {**_JOBS, **_REMOTE}, "pull": {**_JOBS, **_REMOTE}}


def _value(key: str, text: str) -> int | str | None:
    """The option's value as click converts it, or None when click alone should judge ``text``."""
    if key == "jobs":  # click.IntRange(1, 64): plain decimal digits in range only; anything else, click's words
        return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= 64 else None
    return text if text and not text.startswith("-") else None


def parse(argv: list[str]) -> tuple[str, dict, list[str], dict] | None:
    """(command, global flags, paths, the command's own options as keywords) of a plain command line; None for
    anything else. A repeated option: the last one counts, as with click."""
    opts: dict = {}
    paths: list[str] = []
    own: dict = {}
    command = ""
    args = iter(argv)
    for arg in args:
        if arg in _FLAGS:
            opts[_FLAGS[arg]] = True
        elif not command:
            if arg not in _OWN:
                return None
            command = arg
        elif arg in _OWN[command]:
            key, flag = _OWN[command][arg]
            own[key] = flag
        elif arg in _VALUED.get(command, ()):
            key = _VALUED[command][arg]
            value = _value(key, next(args, ""))
            if value is None:
                return None
            own[key] = value
        elif arg.startswith("-") or not arg:
            return None
        else:
            paths.append(arg)
    if not command or (command == "add" and not paths):  # add without a path: click's usage error
        return None
    return command, opts, paths, own


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

                run(repo, tuple(paths), own.get("check", False), None)
            elif command == "checkout":
                from ._checkout import run as checkout

                checkout(repo, tuple(paths), own.get("force", False))
            elif command == "push":
                from ._push import run as push

                push(repo, tuple(paths), **own)
            elif command == "add":
                from ._add import run as add

                add(repo, tuple(paths), own.get("jobs"))
            else:
                from ._pull import run as pull

                pull(repo, tuple(paths), **own)
        return 0
    except BaseException as exc:  # what the click group does with it (``ArtGroup.invoke``)
        from ._errors import exit_status

        return exit_status(exc, opts)
    finally:
        set_direct(None)
