"""Another art repository, read without its data: ``open_external(url, rev)`` -> ``ExternalRepo``.

The URL is a git URL or the path of a git repository (a clone with a work tree, or a bare repository). A
local work tree is read in place; anything else is mirrored bare (git objects only: an art repository keeps
its data out of git) into ``.art/cache/repos/<hash>`` of the current workspace, under its lock, or into a
temp folder removed on ``close`` when there is no workspace. What the repository tracks is read from its
pointer files and art.lock at the resolved commit (``artifacts``); its data comes from the default remote
named in its committed ``.art/config`` (``open_remote``), verified on the way in like any fetch.

The art workspace must be at the top of the source's git tree (``.art/config`` at the root).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, GitError, PathNotTrackedError, RemoteNotConfiguredError, UsageError
from ..objstore import codec
from ..objstore.objects import Kind, Tree
from ..objstore.oid import Oid
from ..objstore.types import EntryKind
from .ls import Listed, listed_in
from .scm import Git

if TYPE_CHECKING:
    from ..objstore.store.remote import RemoteStore
    from .repo import Repo

CONFIG = ".art/config"


class ExternalRepo:
    """One art repository at one commit. Close it (or use ``with``) to drop a temp mirror."""

    def __init__(self, url: str, rev: str | None, git: Git, commit: str, workdir: Path | None, cache: Path) -> None:
        self.url = url
        self.rev = rev or ""
        self.version = ""  # the named version (``v1.2.0``) or stage the commit was resolved from (``at_named``)
        self.stage = ""
        self.git = git
        self.commit = commit
        self.workdir = workdir  # a local work tree: relative remote paths are resolved against it
        self._cache = cache  # where remote index caches go
        self._temp: str | None = None
        self._artifacts: dict[str, Listed] | None = None

    # -- what it tracks ---------------------------------------------------------------------------------

    def artifacts(self) -> dict[str, Listed]:
        """The artifacts tracked at the commit, by path (pointer files and art.lock outputs)."""
        if self._artifacts is None:
            self._artifacts = listed_in(self.git, self.commit, "")
        return self._artifacts

    def forget(self) -> None:
        """Drop what was read at the commit (after ``commit`` was changed)."""
        self._artifacts = None

    def find(self, path: str) -> tuple[Listed, str]:
        """Return the artifact holding ``path`` and the path inside it ("" for the artifact itself).

        Raises:
            PathNotTrackedError: when no artifact is or holds ``path``.
        """
        rel = path.strip("/").removesuffix(".art")
        arts = self.artifacts()
        if rel in arts:
            return arts[rel], ""
        for p, listed in arts.items():
            if rel.startswith(p + "/") and listed.pointer.kind == "dir":
                return listed, rel[len(p) + 1 :]
        raise PathNotTrackedError(
            f"{path} is not tracked by {self.url} at {self.rev or 'its default branch'} ({self.commit[:10]})",
            path=path,
            hint=f"see 'art ls {self.url}' for what it tracks",
        )

    def resolve(self, rev: str | None) -> str:
        """The commit ``rev`` (default: the source's HEAD) names in this repository.

        Raises:
            GitError: when it names no commit.
        """
        try:
            return str(self.git.resolve(rev or "HEAD").id)
        except GitError as exc:
            if rev:
                raise GitError(
                    f"unknown revision {rev!r} in {self.url}", hint="use one of its branches, tags or commit ids"
                ) from exc
            raise GitError(f"{self.url} has no commits", hint="commit its pointer files first") from exc

    def at_named(self, path: str, version: str | None = None, stage: str | None = None) -> None:
        """Move to the commit that ``version`` (or the current assignment of ``stage``) of ``path`` names in
        this repository's tags (``registry.resolve_version``; docs/registry.md).

        Raises:
            VersionNotFoundError: no such version or stage of ``path`` in this repository.
            UsageError: a malformed version or stage name.
        """
        from .registry import normalize_version, resolve_version

        self.commit = resolve_version(self, path, version=version, stage=stage, where=f" in {self.url}")
        self.rev, self.version, self.stage = "", normalize_version(version) if version else "", stage or ""
        self.forget()

    # -- its data ---------------------------------------------------------------------------------------

    def remote_config(self) -> tuple[str, str, dict[str, Any]]:
        """(name, url, options) of the default remote in the committed ``.art/config``.

        Raises:
            RemoteNotConfiguredError: when it names no usable default remote.
        """
        data = self.git.read_at(self.commit, CONFIG, codec.MAX_TOML_BYTES["config"])
        cfg = codec.toml_loads(data or b"", what=f"{self.url}:{CONFIG}", kind="config", error=ConfigError)
        core = cfg.get("core")
        remotes = cfg.get("remotes")
        name = core.get("remote") if isinstance(core, dict) else None
        entry = remotes.get(name) if isinstance(name, str) and isinstance(remotes, dict) else None
        if (
            not isinstance(name, str)
            or not isinstance(entry, dict)
            or not isinstance(entry.get("url"), str)
            or not entry["url"]
        ):
            raise RemoteNotConfiguredError(
                f"{self.url} has no default remote in its committed .art/config",
                hint="its owner must set one ('art remote add NAME URL --default'), commit it and push the data",
            )
        url = entry["url"]
        if "://" not in url and not os.path.isabs(url):
            if self.workdir is None:
                raise RemoteNotConfiguredError(
                    f"the default remote of {self.url} is a relative path ({url!r}), which only means something "
                    "next to its work tree",
                    hint="give the path of a clone with a work tree, or make the remote an absolute path or URL",
                )
            url = str(self.workdir / url)
        return name, url, {k: v for k, v in entry.items() if k != "url"}

    def open_remote(self) -> RemoteStore:
        """Open the source's default remote (its index cache beside the mirror).

        Raises:
            RemoteNotConfiguredError, BackendMissingError, StoreIOError: see ``remote_config``/``RemoteStore``.
        """
        from ..objstore.store.remote import RemoteStore

        name, url, options = self.remote_config()
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        return RemoteStore.open(url, options, name=name, cache_dir=self._cache / f"remote-{key}")

    def tree_entry(self, remote: RemoteStore, listed: Listed, inner: str) -> tuple[Oid, Kind, int, bool]:
        """Resolve ``inner`` (a path inside directory artifact ``listed``) through its trees read from
        ``remote`` (each verified): return (oid, kind, size, executable) of what it names.

        Raises:
            PathNotTrackedError: when the tree holds no such file or folder.
        """
        oid, kind = listed.pointer.oid, Kind.TREE
        size, executable = listed.pointer.size, False
        parts = inner.split("/") if inner else []
        for i, name in enumerate(parts):
            if kind != Kind.TREE:
                break
            tree = Tree.from_bytes(oid, remote.get(oid, Kind.TREE))
            entry = next((e for e in tree.entries if e.name == name), None)
            if entry is None or entry.kind == EntryKind.SYMLINK:
                break
            oid, kind, size, executable = entry.oid, entry.kind.object_kind, entry.size, entry.executable
            if i == len(parts) - 1:
                return oid, kind, size, executable
        else:
            return oid, kind, size, executable
        raise PathNotTrackedError(
            f"{listed.path}/{inner} is not in {listed.path} at {self.rev or self.commit[:10]} in {self.url}",
            path=inner,
            hint=f"see 'art ls {self.url} {listed.path}'",
        )

    # -- lifetime ---------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __enter__(self) -> ExternalRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def normalise_url(url: str) -> str:
    """A local path becomes absolute (so the same repository has one cache and one recorded URL)."""
    if "://" not in url and os.path.exists(os.path.expanduser(url)):
        return os.path.abspath(os.path.expanduser(url))
    return url


def open_external(url: str, rev: str | None = None, *, repo: Repo | None = None) -> ExternalRepo:
    """Open the art repository at ``url`` (git URL or local path) at ``rev`` (default: its HEAD).

    With ``repo``, a mirror is kept in its ``.art/cache/repos/`` (taken under its lock) and refreshed on each
    call; without, a temp mirror lives until ``close``.

    Raises:
        GitError: the URL is no git repository, cannot be reached, or ``rev`` names no commit in it.
        NotAnArtRepoError (a ``GitError``): the commit has no ``.art/config`` at its top.
    """
    url = normalise_url(url)
    workdir: Path | None = None
    temp: str | None = None
    local = Path(url) if "://" not in url and os.path.isdir(url) else None
    if local is not None and (local / ".git").exists() and (local / CONFIG).is_file():
        git = Git.open_any(local)  # a work tree on this machine: read its git in place
        workdir = local.resolve()
        cache = (repo.art_dir / "cache" / "repos") if repo is not None else Path(tempfile.mkdtemp(prefix="art-ext-"))
        if repo is None:
            temp = str(cache)
    else:
        if repo is not None:
            base = repo.art_dir / "cache" / "repos"
            base.mkdir(parents=True, exist_ok=True)
            with repo.lock:
                git = Git.mirror(url, base / hashlib.sha256(url.encode()).hexdigest()[:32])
            cache = base
        else:
            temp = tempfile.mkdtemp(prefix="art-ext-")
            try:
                git = Git.mirror(url, Path(temp) / "git")
            except BaseException:
                shutil.rmtree(temp, ignore_errors=True)
                raise
            cache = Path(temp)
    ext = ExternalRepo(url, rev, git, "0" * 40, workdir, cache)
    ext._temp = temp
    try:
        ext.commit = ext.resolve(rev)
        if ext.git.read_at(ext.commit, CONFIG, codec.MAX_TOML_BYTES["config"]) is None:
            raise NotAnArtRepoError(
                f"{url} is not an art repository at {rev or 'its default branch'} (no {CONFIG} at its top)",
                hint="give the URL of a git repository where 'art init' was run and committed",
            )
    except BaseException:
        ext.close()
        raise
    return ext


def open_named(
    url: str,
    path: str,
    rev: str | None = None,
    version: str | None = None,
    stage: str | None = None,
    *,
    repo: Repo | None = None,
) -> ExternalRepo:
    """``open_external`` at a revision, or at a named version or stage of ``path`` (at most one of the three).

    Raises:
        UsageError: more than one of ``rev``, ``version`` and ``stage``.
        VersionNotFoundError: no such version or stage; plus the errors of ``open_external``.
    """
    if sum(x is not None for x in (rev, version, stage)) > 1:
        raise UsageError(
            "give at most one of --rev, --version and --stage",
            hint="a version or stage names its own commit (see 'art versions' in the source)",
        )
    ext = open_external(url, rev, repo=repo)
    if version is not None or stage is not None:
        try:
            ext.at_named(path, version, stage)
        except BaseException:
            ext.close()
            raise
    return ext


class NotAnArtRepoError(GitError):
    """The git repository holds no art workspace at its top."""
