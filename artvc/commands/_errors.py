"""The one place where errors become output and exit codes (table in docs/cli.md)."""

from __future__ import annotations

import re
import sys

import click

from ..errors import ArtError

EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PIPE = 2, 70, 130, 141


class CliError(click.ClickException):
    """An ArtError on its way out: one ``art: error:`` line, an optional hint, the error's exit code."""

    def __init__(self, error: ArtError, *, as_json: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.exit_code = error.exit_code  # type: ignore[misc]  # click declares a class default; ours is per error
        self.as_json = as_json

    def show(self, file=None) -> None:
        err = self.error
        if self.as_json and not err.reported:
            payload = {
                "error": {
                    "type": type(err).__name__,
                    "message": err.message,
                    "hint": err.hint,
                    "exit_status": err.exit_code,
                }
            }
            import json

            click.echo(json.dumps(payload), file=sys.stdout)
        click.echo(f"art: error: {err.message}", err=True)
        if err.hint:
            click.echo(f"hint: {err.hint}", err=True)


class ArtUsageError(click.UsageError):
    """A usage error told the art way: ``art: error: ...`` and one ``hint:`` line (a suggestion when the
    word looks like a typo of a command or option, else where the help is), exit 2."""

    def __init__(self, error: click.UsageError) -> None:
        super().__init__(error.format_message(), error.ctx)

    def show(self, file=None) -> None:
        text = " ".join(self.message.split())
        # click appends "Did you mean X?" or, for several, "(Did you mean one of: 'X', 'Y'?)"
        found = re.search(r"\s*\(?Did you mean (?:one of: )?(.*?)\?\)?$", text)
        message = (text[: found.start()] if found else text).rstrip(".")
        message = message[:1].lower() + message[1:]
        if found:
            guesses = [g.strip() for g in found.group(1).split(",")]
            hint = f"did you mean {', '.join(guesses[:-1])}{' or ' if len(guesses) > 1 else ''}{guesses[-1]}?"
        elif self.ctx is not None:
            path = " ".join(["art", *self.ctx.command_path.split()[1:]])  # the same words as 'art' or 'artvc'
            hint = f"see '{path} --help'"
        else:
            hint = "see 'art --help'"
        click.echo(f"art: error: {message}", err=True)
        click.echo(f"hint: {hint}", err=True)


class SuggestingGroup(click.Group):
    """A group whose usage errors are told the art way, with "did you mean" for mistyped commands."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        cmd_name = click.utils.make_str(args[0])
        if self.get_command(ctx, cmd_name) is None and not ctx.resilient_parsing and not cmd_name.startswith("-"):
            raise click.exceptions.NoSuchCommand(cmd_name, possibilities=self.list_commands(ctx), ctx=ctx)
        return super().resolve_command(ctx, args)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except ArtUsageError:
            raise
        except click.UsageError as exc:
            raise ArtUsageError(exc) from exc

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArtUsageError:
            raise
        except click.UsageError as exc:
            raise ArtUsageError(exc) from exc


class ArtGroup(SuggestingGroup):
    """A click group that maps exceptions to art's exit codes and loads subcommands lazily."""

    lazy: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            import importlib

            module = importlib.import_module(f"artvc.commands.{self.lazy[name]}")
            return module.cli
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArtError as exc:
            opts = ctx.obj or {}
            if opts.get("debug"):
                raise
            raise CliError(exc, as_json=bool(opts.get("json"))) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (KeyboardInterrupt, BrokenPipeError) as exc:
            ctx.exit(_stopped(exc))
        except Exception as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            known = translate(exc)
            if known is not None:
                opts = ctx.obj or {}
                raise CliError(known, as_json=bool(opts.get("json"))) from exc
            ctx.exit(_internal(exc))


def exit_status(exc: BaseException, opts: dict) -> int:
    """Report ``exc`` as ``ArtGroup.invoke`` and click's main do, and return the exit status (``_fast``, which
    runs a command without click). ``SystemExit`` and (unless it is a known fault) nothing else is swallowed."""
    if isinstance(exc, (KeyboardInterrupt, BrokenPipeError)):
        return _stopped(exc)
    if not isinstance(exc, Exception):
        raise exc
    known = exc if isinstance(exc, ArtError) else translate(exc)
    if known is None:
        return _internal(exc)
    CliError(known, as_json=bool(opts.get("json"))).show()
    return known.exit_code


def _stopped(exc: KeyboardInterrupt | BrokenPipeError) -> int:
    """Ctrl-C: one line and 130; a closed stdout (``art ls | head``): nothing more to say, 141."""
    if isinstance(exc, KeyboardInterrupt):
        click.echo("art: interrupted", err=True)
        return EXIT_INTERRUPTED
    sys.stderr.close()
    return EXIT_PIPE


def _internal(exc: Exception) -> int:
    """A bug in art: one line naming it, and 70."""
    click.echo(f"art: internal error: {type(exc).__name__}: {exc} (re-run with --debug for a traceback)", err=True)
    return EXIT_INTERNAL


def translate(exc: BaseException) -> ArtError | None:
    """The art error for an ordinary fault that escaped its layer unconverted (None for a real bug).

    Layers convert OS faults where they know the path and what they were doing (``objstore/oserrors.py``);
    this is the net under them, so a full disk or a read-only folder is never reported as a bug in art.
    """
    from ..errors import FileSystemError, LocalStoreError, UnsafePathError
    from ..objstore.oserrors import HINTS, describe

    if isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ == "gaierror":
        from ..errors import RemoteError

        return RemoteError(
            f"a network connection failed: {exc}",
            hint="check the network and the remote's address, then run the command again",
        )
    if isinstance(exc, OSError):
        return describe(exc)
    if isinstance(exc, RecursionError):
        return FileSystemError(
            "a folder tree is nested too deeply for art to process",
            hint="flatten the deepest folders (art handles a few hundred levels)",
        )
    if isinstance(exc, UnicodeError) and "surrogates not allowed" in str(exc):
        return UnsafePathError(
            "a file name is not valid UTF-8, which art cannot record",
            hint="rename the file (art add names the path when it meets one)",
        )
    if isinstance(exc, ValueError) and "embedded null byte" in str(exc):
        return UnsafePathError("a path or symlink target contains a NUL byte, which no file system accepts")
    if type(exc).__module__ == "sqlite3" and type(exc).__name__ in ("OperationalError", "DatabaseError"):
        import errno

        text = str(exc).lower()
        for needle, code in (
            ("full", errno.ENOSPC),
            ("readonly", errno.EROFS),
            ("read-only", errno.EROFS),
            ("i/o error", errno.EIO),
            ("unable to open", None),
        ):
            if needle in text:
                hint = (
                    HINTS[code]
                    if code
                    else (
                        "check that .art and the store are readable and writable "
                        "by you, and the open-file limit (ulimit -n)"
                    )
                )
                return FileSystemError(
                    f"a database file of art cannot be written or opened: {exc}", errno=code, hint=hint
                )
        return LocalStoreError(
            f"a database file of art is damaged: {exc}", hint="run 'art fsck'; the index can be rebuilt from the packs"
        )
    return None
