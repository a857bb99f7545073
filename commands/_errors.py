"""The one place where errors become output and exit codes (table in docs/cli.md)."""

from __future__ import annotations

import json
import sys

import click

from ..objstore.errors import ArtError

EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PIPE = 2, 70, 130, 141


class CliError(click.ClickException):
    """An ArtError on its way out: one ``art: error:`` line, an optional hint, the error's exit code."""

    def __init__(self, error: ArtError, *, as_json: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.exit_code = error.exit_code
        self.as_json = as_json

    def show(self, file=None) -> None:
        err = self.error
        if self.as_json and not getattr(err, "reported", False):
            payload = {"error": {"type": type(err).__name__, "message": err.message, "hint": err.hint,
                                 "code": err.exit_code}}
            click.echo(json.dumps(payload), file=sys.stdout)
        click.echo(f"art: error: {err.message}", err=True)
        if err.hint:
            click.echo(f"hint: {err.hint}", err=True)


class ArtGroup(click.Group):
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
        except KeyboardInterrupt:
            click.echo("art: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(EXIT_PIPE)
        except Exception as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.echo(f"art: internal error: {type(exc).__name__}: {exc} (re-run with --debug for a traceback)",
                       err=True)
            ctx.exit(EXIT_INTERNAL)
