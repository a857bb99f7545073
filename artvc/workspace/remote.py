"""Remotes in the config: ``[remotes.NAME]`` with a URL and fsspec options, ``core.remote`` as the default.

Where things are written:
  .art/config        (committed)   url and every non-secret option (endpoint_url, region, profile, ...)
  .art/config.local  (git-ignored) every secret option (key, secret, password, token, connection_string,
                                   account_key, sas_token, client_secret, ...), whatever the user asked
A password found inside a URL is moved to ``.art/config.local`` and the caller gets a warning; other
credentials in a URL (query strings such as an Azure SAS) are only warned about.

A plain relative path is stored relative to the workspace root (so a clone next to it finds it too).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ..errors import ConfigError, RemoteNotConfiguredError, UsageError
from .repo import Repo

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SECRET_KEYS = frozenset(
    {
        "key",
        "secret",
        "password",
        "passphrase",
        "token",
        "session_token",
        "connection_string",
        "account_key",
        "sas_token",
        "client_secret",
        "credentials",
        "credential",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "private_key",
        "client_keys_passphrase",
    }
)
_SECRET_PARTS = ("secret", "password", "passphrase", "token", "credential", "account_key", "private_key")
_QUERY_SECRETS = ("sig", "signature", "token", "secret", "password", "key", "x-amz-signature", "sas")
RESERVED = frozenset({"url"})


def is_secret(key: str, value: Any = None) -> bool:
    """True when an option must live in .art/config.local (its name says so, or a nested key does)."""
    k = key.lower()
    if k in SECRET_KEYS or any(p in k for p in _SECRET_PARTS):
        return True
    if isinstance(value, dict):
        return any(is_secret(str(sub), v) for sub, v in value.items())
    return False


@dataclass(frozen=True, slots=True)
class RemoteInfo:
    """One configured remote: its URL, its merged options, and which option names are secret."""

    name: str
    url: str
    options: dict[str, Any]
    default: bool = False
    secret_keys: tuple[str, ...] = ()

    def as_dict(self, *, show_secrets: bool = False) -> dict[str, Any]:
        opts = {k: (v if show_secrets or k not in self.secret_keys else "***") for k, v in self.options.items()}
        return {"name": self.name, "url": self.url, "default": self.default, "options": opts}


@dataclass(frozen=True, slots=True)
class RemoteChange:
    """What ``add``/``modify`` wrote, and warnings for the user."""

    remote: RemoteInfo
    warnings: list[str] = field(default_factory=list)
    local_keys: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    """Validate a remote name.

    Raises:
        UsageError: for names that are empty, too long or contain characters other than [A-Za-z0-9_.-].
    """
    if not NAME_RE.match(name or ""):
        raise UsageError(
            f"invalid remote name {name!r}", hint="use letters, digits, '_', '.', '-' (e.g. origin, s3-backup)"
        )
    return name


def parse_option(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from the command line; JSON values ({...}, [...], numbers, true/false) are decoded.

    Raises:
        UsageError: when there is no ``=`` or the key is empty.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"option {text!r} is not key=value", hint="e.g. -o endpoint_url=http://127.0.0.1:9000")
    if key in RESERVED:
        raise UsageError("the url is not an option", hint="give it as the URL argument")
    value: Any = raw
    low = raw.strip().lower()
    if low in ("true", "false"):
        value = low == "true"
    elif re.fullmatch(r"-?\d+", raw.strip()):
        value = int(raw)
    elif raw.strip()[:1] in ("{", "["):
        try:
            import json  # here: a config without JSON options never loads it

            value = json.loads(raw)
        except ValueError as exc:
            raise UsageError(f"option {key}: {raw!r} is not valid JSON ({exc})") from exc
    return key, value


def _split_credentials(url: str) -> tuple[str, dict[str, Any], list[str]]:
    """Move a password out of a URL; return (clean url, secret options, warnings)."""
    if "://" not in url:
        return url, {}, []
    parts = urlsplit(url)
    secrets: dict[str, Any] = {}
    warnings = []
    if parts.password:
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        if scheme in ("s3", "s3a"):
            secrets = {"key": parts.username or "", "secret": parts.password}
            netloc = host
        else:
            secrets = {"password": parts.password}
            netloc = f"{parts.username}@{host}" if parts.username else host
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        warnings.append(
            f"the URL carried credentials; they were moved to .art/config.local "
            f"({', '.join(sorted(secrets))}), which git ignores"
        )
    if any(k.lower() in _QUERY_SECRETS for k, _ in parse_qsl(parts.query)):
        warnings.append(
            "the URL's query string looks like it carries credentials, and .art/config is "
            "committed; pass them with -o instead (secret options go to .art/config.local)"
        )
    return url, secrets, warnings


def _normalise_url(repo: Repo, url: str) -> str:
    if "://" in url:
        return url
    if not url:
        raise UsageError("empty remote URL", hint="e.g. s3://bucket/prefix, /mnt/backup/art, ../bucket")
    url = os.path.expanduser(url)
    if os.path.isabs(url):
        return os.path.normpath(url)
    return os.path.relpath(os.path.abspath(url), repo.root)  # relative to the workspace, not to the cwd


def _info(repo: Repo, name: str) -> RemoteInfo:
    cfg = repo.config
    if name in cfg.remotes and not NAME_RE.match(name):  # the name is a directory under .art/cache/remotes/
        raise ConfigError(
            f"invalid remote name {name!r} in .art/config",
            hint="remote names use letters, digits, '_', '.', '-'; rename it in .art/config",
        )
    entry = cfg.remotes.get(name)
    if not isinstance(entry, dict) or not entry.get("url"):
        raise RemoteNotConfiguredError(
            f"unknown remote {name!r}", remote=name, hint=_known_hint(repo) or "add it with 'art remote add NAME URL'"
        )
    options = {k: v for k, v in entry.items() if k not in RESERVED}
    local = cfg.local.get("remotes", {}).get(name, {})
    secret = tuple(sorted(k for k in options if k in local or is_secret(k, options[k])))
    return RemoteInfo(name, str(entry["url"]), options, cfg.core("remote") == name, secret)


def _known_hint(repo: Repo) -> str | None:
    names = sorted(repo.config.remotes)
    return f"configured remotes: {', '.join(names)}" if names else None


def list_remotes(repo: Repo) -> list[RemoteInfo]:
    """Return every configured remote, sorted by name."""
    return [_info(repo, n) for n in sorted(repo.config.remotes)]


def resolve(repo: Repo, name: str | None = None) -> RemoteInfo:
    """Return the remote called ``name``, or the default one (``core.remote``).

    Raises:
        RemoteNotConfiguredError: when the name is unknown, or no name is given and there is no default.
    """
    if name:
        return _info(repo, name)
    default = repo.config.core("remote")
    if default:
        return _info(repo, default)
    if not repo.config.remotes:
        raise RemoteNotConfiguredError(
            "no remote is configured", hint="add one: art remote add origin s3://bucket/path"
        )
    raise RemoteNotConfiguredError(
        "no default remote is set",
        hint=f"name one with -r NAME, or set it: art remote default NAME ({_known_hint(repo)})",
    )


def _locked(change):
    """Run a configuration change under the repository lock, on the files as they are now (read again)."""
    import functools

    @functools.wraps(change)
    def locked(repo: Repo, *args, **kwargs):
        with repo.lock:
            repo.config.reload()
            return change(repo, *args, **kwargs)

    return locked


@_locked
def remote_add(
    repo: Repo,
    name: str,
    url: str,
    *,
    options: dict[str, Any] | None = None,
    default: bool = False,
    force: bool = False,
) -> RemoteChange:
    """Configure a remote; secrets go to .art/config.local. It becomes the default remote (``core.remote``)
    when ``default`` is set, or when it is the first remote (no other remote, no default).

    Raises:
        UsageError: for a bad name or URL.
        ConfigError: when the remote exists (unless ``force``).
    """
    from . import tomledit  # loaded only when a file is edited (start-up time)

    check_name(name)
    if name in repo.config.remotes and not force:
        raise ConfigError(
            f"remote {name!r} already exists", hint=f"change it with 'art remote modify {name} ...' or remove it first"
        )
    url, url_secrets, warnings = _split_credentials(_normalise_url(repo, url))
    options = {k: v for k, v in {**(options or {}), **url_secrets}.items() if v is not None}  # TOML has no null
    shared = {"url": url, **{k: v for k, v in options.items() if not is_secret(k, v)}}
    local = {k: v for k, v in options.items() if is_secret(k, v)}

    # the first remote is the default; adding another to remotes that have no default does not pick one
    make_default = default or not (repo.config.core("remote") or set(repo.config.remotes) - {name})

    def write_shared(doc) -> None:
        tomledit.set_table(tomledit.child(doc, "remotes", holds_tables=True), name, shared)
        if make_default:
            tomledit.set_key(tomledit.child(doc, "core"), "remote", name)

    def write_local(doc) -> None:
        if local:
            tomledit.set_table(tomledit.child(doc, "remotes", holds_tables=True), name, local)
        elif "remotes" in doc:
            tomledit.remove(doc["remotes"], name)
            tomledit.prune(doc, "remotes")

    repo.config.update(write_shared)
    if local or name in repo.config.local.get("remotes", {}):
        repo.config.update(write_local, local=True)
    return RemoteChange(_info(repo, name), warnings, sorted(local))


@_locked
def remote_modify(
    repo: Repo,
    name: str,
    *,
    url: str | None = None,
    options: dict[str, Any] | None = None,
    unset: list[str] | tuple[str, ...] = (),
) -> RemoteChange:
    """Change a remote's URL and/or options (secrets again to .art/config.local); ``unset`` drops options.

    Raises:
        RemoteNotConfiguredError: when the remote does not exist.
    """
    from . import tomledit  # loaded only when a file is edited (start-up time)

    _info(repo, name)
    warnings: list[str] = []
    unset = [*unset, *(k for k, v in (options or {}).items() if v is None)]
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if url is not None:
        url, url_secrets, warnings = _split_credentials(_normalise_url(repo, url))
        options.update(url_secrets)

    def change(doc, *, local: bool) -> None:
        remotes = tomledit.child(doc, "remotes", holds_tables=True)
        entry = tomledit.child(remotes, name)
        for k in unset:
            tomledit.remove(entry, k)
        for k, v in options.items():
            if is_secret(k, v) == local:
                tomledit.set_key(entry, k, v)
            else:
                tomledit.remove(entry, k)
        if url is not None and not local:
            tomledit.set_key(entry, "url", url)
        tomledit.prune(remotes, name)
        tomledit.prune(doc, "remotes")

    repo.config.update(lambda d: change(d, local=False))
    if any(is_secret(k, v) for k, v in options.items()) or name in repo.config.local.get("remotes", {}):
        repo.config.update(lambda d: change(d, local=True), local=True)
    return RemoteChange(_info(repo, name), warnings, sorted(k for k, v in options.items() if is_secret(k, v)))


@_locked
def remote_remove(repo: Repo, name: str) -> RemoteInfo:
    """Forget a remote (both config files, its index cache, and the default if it was the default).

    Raises:
        RemoteNotConfiguredError: when the remote does not exist.
    """
    from . import tomledit  # loaded only when a file is edited (start-up time)

    info = _info(repo, name)

    def drop(doc) -> None:
        if "remotes" in doc:
            tomledit.remove(doc["remotes"], name)
            tomledit.prune(doc, "remotes")
        if "core" in doc and doc["core"].get("remote") == name:
            tomledit.remove(doc["core"], "remote")

    repo.config.update(drop)
    if name in repo.config.local.get("remotes", {}) or repo.config.local.get("core", {}).get("remote") == name:
        repo.config.update(drop, local=True)
    import shutil

    shutil.rmtree(cache_dir(repo, name), ignore_errors=True)
    return info


@_locked
def remote_default(repo: Repo, name: str | None) -> str | None:
    """Set (or, with None, clear) the default remote; return it.

    Raises:
        RemoteNotConfiguredError: when ``name`` is not a configured remote.
    """
    from . import tomledit  # loaded only when a file is edited (start-up time)

    if name:
        _info(repo, name)

    def change(doc) -> None:
        if name:
            tomledit.set_key(tomledit.child(doc, "core"), "remote", name)
        elif "core" in doc:
            tomledit.remove(doc["core"], "remote")

    repo.config.update(change)
    return name


def cache_dir(repo: Repo, name: str):
    return repo.art_dir / "cache" / "remotes" / name


def open_remote(repo: Repo, name: str | None = None):
    """Resolve a remote and open it as a RemoteStore (its index cache under .art/cache/remotes/NAME).

    Raises:
        RemoteNotConfiguredError: unknown remote / no default.
        BackendMissingError: the backend extra for its URL is not installed.
        StoreIOError: the filesystem cannot be created.
    """
    from ..objstore.store.remote import RemoteStore

    info = resolve(repo, name)
    url = info.url
    if "://" not in url and not os.path.isabs(url):
        url = str(repo.root / url)
    return RemoteStore.open(url, info.options, name=info.name, cache_dir=cache_dir(repo, info.name))


def transfer_jobs(repo: Repo, jobs: int | None) -> int:
    """Concurrent transfers: ``jobs`` when given, else twice the configured CPU jobs (at least 4)."""
    if jobs:
        return max(1, int(jobs))
    return max(4, 2 * int(repo.config.core("jobs") or 2))
