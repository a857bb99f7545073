"""``art config``."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, say

SECRET_WORDS = ("key", "secret", "password", "token", "connection_string", "sas")


@click.command("config")
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--local", "local", is_flag=True, help="Use .art/config.local (git-ignored: secrets, machine settings).")
@click.option("--unset", is_flag=True, help="Remove KEY.")
@click.option("-l", "--list", "list_", is_flag=True, help="List every setting (secrets masked).")
@common()
@pass_repo
def cli(repo, key: str | None, value: str | None, local: bool, unset: bool, list_: bool) -> None:
    """Read or change settings in .art/config (or .art/config.local with --local).

    \b
    Keys: core.remote, core.jobs, core.fsync, core.strict_pipeline, core.gc_grace,
    core.store (always in .art/config.local), remotes.NAME.OPTION.

    \b
    Examples:
      art config core.jobs 4
      art config core.jobs
      art config --local remotes.origin.secret ...
      art config --unset core.fsync
      art config --list --json
    """
    from ..errors import ConfigError, UsageError
    from ..workspace.config import flatten, get_value, is_local_only, set_value, unset_value

    cfg = repo.config
    if list_ or key is None:
        items = flatten(cfg.data)
        shown = {k: ("***" if _secret(k) else v) for k, v in items.items()}
        if flags().get("json"):
            emit_json(shown)
        for k, v in sorted(shown.items()):
            say(f"{k} = {v}")
        return
    if unset:
        if value is not None:
            raise UsageError("--unset takes only KEY", hint="art config --unset core.jobs")
        if is_local_only(key) and not local:  # also clear a committed value, which is ignored anyway
            name = key.split(".")[1]
            where = [
                is_local
                for is_local, data in ((True, cfg.local), (False, cfg.shared))
                if name in (data.get("core") or {})
            ]
            for is_local in where:
                unset_value(cfg, key, local=is_local)
            if not where:
                raise ConfigError(f"{key} is not set")
            _unset_done(key)
            return
        if not unset_value(cfg, key, local=local):
            raise ConfigError(f"{key} is not set in {'.art/config.local' if local else '.art/config'}")
        _unset_done(key)
        return
    if value is None:
        current = get_value(cfg, key)
        if current is None:
            raise ConfigError(f"{key} is not set", hint=f"set it with: art config {key} VALUE")
        if flags().get("json"):
            emit_json({key: current})
        else:
            click.echo(str(current).lower() if isinstance(current, bool) else current)
        return
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "remotes" and parts[2] != "url" and "url" not in cfg.remotes.get(parts[1], {}):
        raise ConfigError(  # an option alone would make a remote without a URL, which every command refuses
            f"there is no remote {parts[1]!r} to set {parts[2]!r} for",
            hint=f"add it first: art remote add {parts[1]} URL",
        )
    typed = set_value(cfg, key, value, local=local)
    echoed = "***" if _secret(key) else typed  # a secret is not echoed to the terminal or a CI log
    if flags().get("json"):
        emit_json({key: echoed})
    say(f"{key} = {echoed}")


def _secret(key: str) -> bool:
    return any(w in key.rsplit(".", 1)[-1] for w in SECRET_WORDS)


def _unset_done(key: str) -> None:
    if flags().get("json"):
        emit_json({"unset": key})
    say(f"unset {key}")
