"""Data from other art repositories: ``art ls URL``, ``art get``, ``art import``, ``art update`` and the import
states ``art status`` shows.

``get`` writes a verified copy and nothing else (its objects go through a private temp store beside the output,
removed afterwards). ``import`` stores the objects in this workspace's store (so checkout, push and gc treat them
like any artifact) and writes a pointer whose ``[source]`` table records where they came from
(``pointers.Source``); ``update`` resolves the source again and moves the pointer. An import is *behind* when
the source now has another artifact at its path: at the tip of the branch it was imported from, or, when it
was imported at a tag or commit (which do not move), at the source's default branch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArtError, IntegrityError, TransferError, UnsafePathError, UsageError, WouldOverwriteError
from ..objstore.faults import fault_point
from ..objstore.materialize import make_symlink, materialize_file
from ..objstore.objects import Kind, Tree
from ..objstore.oid import Oid
from ..objstore.store.local import LocalStore
from ..objstore.tmpowner import sweep, token
from ..objstore.types import EntryKind
from .external import ExternalRepo, open_external, open_named
from .gitignore import ignore
from .paths import ensure_inside, to_repo_path
from .pointers import SUFFIX, Pointer, Source, UrlSource, write_pointer
from .repo import Repo
from .tracked import TrackedArtifact, select


@dataclass(frozen=True, slots=True)
class Listing:
    url: str
    rev: str
    commit: str
    entries: list[dict]

    def as_dict(self) -> dict:
        return {"url": self.url, "rev": self.rev, "commit": self.commit, "artifacts": self.entries}


def list_external(url: str, path: str | None, *, rev: str | None = None, repo: Repo | None = None) -> Listing:
    """What the repository at ``url`` tracks at ``rev``: every artifact, those below folder ``path``, or, when
    ``path`` is a tracked folder or lies inside one, what that folder holds (its trees are read from the
    source's default remote, nothing else).

    Raises:
        GitError, NotAnArtRepoError: see ``open_external``.
        PathNotTrackedError: ``path`` names nothing tracked.
    """
    with open_external(url, rev, repo=repo) as ext:
        arts = ext.artifacts()
        rows: list[dict] = []
        rel = (path or "").strip("/").removesuffix(SUFFIX)
        under = [a for p, a in arts.items() if not rel or p.startswith(rel + "/")]
        if rel and rel in arts and arts[rel].pointer.kind == "file":
            rows = [arts[rel].as_dict()]
        elif rel and (rel in arts or not under):
            listed, inner = ext.find(rel)
            remote = ext.open_remote()
            try:
                oid, kind, size, _ = ext.tree_entry(remote, listed, inner)
                if kind != Kind.TREE:
                    rows = [{"path": rel, "kind": "file", "size": size, "files": 1, "oid": str(oid)}]
                else:
                    for e in Tree.from_bytes(oid, remote.get(oid, Kind.TREE)).entries:
                        kind_s = {EntryKind.DIR: "dir", EntryKind.FILE: "file"}.get(e.kind, "link")
                        rows.append({"path": f"{rel}/{e.name}", "kind": kind_s, "size": e.size, "oid": str(e.oid)})
            finally:
                remote.close()
        else:
            rows = [a.as_dict() for a in under]
        return Listing(ext.url, ext.rev, ext.commit, rows)


@dataclass(frozen=True, slots=True)
class Got:
    """What ``get``/``import``/``update`` brought: the output path, the source and the transfer counts."""

    path: str
    source: Source | UrlSource
    kind: str
    size: int
    files: int
    objects: int = 0
    bytes: int = 0
    changed: bool = True

    def as_dict(self, *, where: str = "path") -> dict:
        """``where`` names the output's key: ``path`` (in the workspace) or ``out`` (an absolute location)."""
        return {
            where: self.path,
            "kind": self.kind,
            "size": self.size,
            "files": self.files,
            "import": self.source.as_dict(),
            "objects": self.objects,
            "transferred_size": self.bytes,
            "changed": self.changed,
        }


def _fetch(ext: ExternalRepo, path: str, store: LocalStore) -> tuple[Source, Kind, int, bool, int, int]:
    """Download what ``path`` names in ``ext`` into ``store``, verified; return (source, kind, size,
    executable, objects, bytes)."""
    from ..objstore.transfer import download

    listed, inner = ext.find(path)
    remote = ext.open_remote()
    try:
        if inner:
            oid, kind, size, exe = ext.tree_entry(remote, listed, inner)
        else:
            p = listed.pointer
            oid, kind, size, exe = p.oid, Kind.TREE if p.kind == "dir" else Kind.FILE, p.size, False
        result = download(remote, store, [(oid, kind)])
    finally:
        remote.close()
    if result.problems:
        first = result.problems[0]
        raise IntegrityError(
            f"{len(result.problems)} object(s) from the remote of {ext.url} failed verification and were not "
            f"stored: {first.kind} {first.oid[:10]}: {first.detail}",
            problems=result.problems,
            hint="the source's remote copy is damaged; ask its owner to run 'art fsck --remote --repair'",
        )
    if result.missing:
        o, k = result.missing[0]
        raise TransferError(
            f"{len(result.missing)} object(s) of {path} are not on the remote of {ext.url}: {k.label} {o[:10]}",
            failed=[str(x) for x, _ in result.missing],
            remote=remote.name,
            hint="its owner has not pushed them ('art push' in that repository)",
        )
    source = Source(ext.url, ext.rev, ext.commit, path.strip("/").removesuffix(SUFFIX), oid, ext.version, ext.stage)
    return source, kind, size, exe, result.objects, result.bytes


def _totals(store: LocalStore, oid: Oid) -> tuple[int, int]:
    """(bytes, files) below a stored tree."""
    size = files = 0
    stack = [oid]
    while stack:
        for e in store.get_tree(stack.pop()).entries:
            if e.kind == EntryKind.DIR:
                stack.append(e.oid)
            elif e.kind == EntryKind.FILE:
                size, files = size + e.size, files + 1
    return size, files


def _write_tree(store: LocalStore, oid: Oid, dest: Path) -> None:
    """Write stored tree ``oid`` as a new folder ``dest`` (a private staging folder)."""
    stack = [(oid, dest)]
    while stack:
        tree_oid, folder = stack.pop()
        folder.mkdir()
        for e in store.get_tree(tree_oid).entries:
            target = folder / e.name
            if e.kind == EntryKind.DIR:
                stack.append((e.oid, target))
            elif e.kind == EntryKind.FILE:
                materialize_file(store, e.oid, e.size, target, executable=e.executable, direct=True)
            else:
                link = e.target or ""
                resolved = os.path.normpath(os.path.join(folder, link))
                if os.path.isabs(link) or not (resolved + "/").startswith(str(dest) + "/"):
                    raise UnsafePathError(
                        f"{target.relative_to(dest)} is a symlink leading outside the folder ({link!r})",
                        path=str(target),
                        hint="the source stores a link art will not write; get the files it holds one by one",
                    )
                make_symlink(target, link)


def get(
    url: str,
    path: str,
    out: str | None = None,
    *,
    rev: str | None = None,
    version: str | None = None,
    stage: str | None = None,
    force: bool = False,
) -> Got:
    """Download ``path`` (an artifact, or a file or folder inside a tracked folder) of the repository at ``url``
    to ``out`` (default: its base name in the current directory), verified; no pointer is written. ``rev``,
    ``version`` or ``stage`` (at most one) choose the source's commit (``external.open_named``).

    The data is staged beside ``out`` and renamed into place: a failure leaves nothing behind.

    Raises:
        WouldOverwriteError: ``out`` exists and ``force`` is not set.
        plus the errors of ``open_external``, ``ExternalRepo.find`` and the transfer.
    """
    dest = Path(os.path.abspath(out or os.path.basename(path.rstrip("/").removesuffix(SUFFIX))))
    if (dest.exists() or dest.is_symlink()) and not force:
        raise WouldOverwriteError(
            f"{dest} already exists",
            path=str(dest),
            hint="choose another place with -o OUT, or replace it with --force",
        )
    with open_named(url, path, rev, version, stage) as ext:
        dest.parent.mkdir(parents=True, exist_ok=True)
        sweep(dest.parent, [".art-get-*"], legacy=False)  # what a killed get left here
        staging = Path(tempfile.mkdtemp(prefix=f".art-get-{token()}-", dir=dest.parent))
        store = LocalStore(staging / "store")
        try:
            source, kind, size, exe, objects, moved = _fetch(ext, path, store)
            files = 1
            if kind == Kind.TREE:
                size, files = _totals(store, source.oid)
                _write_tree(store, source.oid, staging / "out")
            else:
                materialize_file(store, source.oid, size, staging / "out", executable=exe, direct=True)
            fault_point("get.staged")
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            elif dest.exists() or dest.is_symlink():
                dest.unlink()
            os.rename(staging / "out", dest)
        finally:
            store.close()
            shutil.rmtree(staging, ignore_errors=True)
    return Got(str(dest), source, "dir" if kind == Kind.TREE else "file", size, files, objects, moved)


def import_(
    repo: Repo,
    url: str,
    path: str,
    out: str | None = None,
    *,
    rev: str | None = None,
    version: str | None = None,
    stage: str | None = None,
    force: bool = False,
) -> Got:
    """Import ``path`` of the repository at ``url`` (at ``rev``, or at a named ``version`` or ``stage`` of it,
    recorded in the source) as ``out`` (default: its base name in the current directory): its objects go to
    the local store, then the pointer ``OUT.art`` with its ``[source]``, the .gitignore entry, and the data in
    the workspace.

    Raises:
        UnsafePathError: ``out`` lies outside the workspace.
        WouldOverwriteError: ``out`` or ``OUT.art`` exists and ``force`` is not set.
        plus the errors of ``open_external``, ``ExternalRepo.find`` and the transfer.
    """
    target = out or os.path.basename(path.rstrip("/").removesuffix(SUFFIX))
    rel = to_repo_path(repo.root, target, cwd=Path.cwd())
    full = ensure_inside(repo.root, repo.abspath(rel))
    for p in (full, repo.abspath(rel + SUFFIX)):
        if (p.exists() or p.is_symlink()) and not force:
            raise WouldOverwriteError(
                f"{to_repo_path(repo.root, p)} already exists",
                path=str(p),
                hint="import to another place with -o OUT, 'art update' an earlier import, or replace it with --force",
            )
    with repo.lock, open_named(url, path, rev, version, stage, repo=repo) as ext:
        return _bring(repo, ext, path, rel, force=True)


def _bring(repo: Repo, ext: ExternalRepo, path: str, rel: str, *, force: bool, old: Pointer | None = None) -> Got:
    from .checkout import checkout

    source, kind, size, _, objects, moved = _fetch(ext, path, repo.store)
    fault_point("import.objects-stored")
    files = 1
    if kind == Kind.TREE:
        size, files = _totals(repo.store, source.oid)
    pointer = Pointer(source.oid, "dir" if kind == Kind.TREE else "file", size, files, source)
    if pointer != old:
        write_pointer(repo.abspath(rel + SUFFIX), pointer)
        fault_point("import.pointer-written")
        ignore(repo.root, rel)
    checkout(repo, [rel], force=force, artifacts=[TrackedArtifact(rel, pointer, rel + SUFFIX)])
    return Got(rel, source, pointer.kind, size, files, objects, moved, changed=old is None or old.oid != pointer.oid)


def update(
    repo: Repo,
    paths: Sequence[str] | None = None,
    *,
    rev: str | None = None,
    version: str | None = None,
    stage: str | None = None,
    force: bool = False,
) -> list[Got]:
    """Resolve the source of each import (all, or ``paths``) again, at ``rev``, ``version`` or ``stage`` when
    given (recorded as the import's source from then on; otherwise what it was imported at: an import by
    stage follows the stage's current assignment), and bring what changed.

    Raises:
        UsageError: a path named is not an import (or ``rev`` is given for several imports).
        WouldOverwriteError: the workspace copy was modified (``art status``), unless ``force``.
        plus the errors of ``import_``.
    """
    from .status import MISSING, PARTIAL, UNCHANGED, status

    with repo.lock:
        arts = [a for a in select(repo, list(paths) if paths else None) if a.pointer.source is not None]
        if paths and not arts:
            raise UsageError(f"{', '.join(paths)}: not imported", hint="'art import URL PATH' imports an artifact")
        named = next((f"--{k}" for k, v in (("rev", rev), ("version", version), ("stage", stage)) if v), None)
        if named and len(arts) > 1:
            raise UsageError(
                f"{named} needs exactly one import", hint=f"name the import to move: art update PATH {named} X"
            )
        if not force:
            changed = [
                a.path
                for a in status(repo, [str(repo.abspath(a.path)) for a in arts]).artifacts
                if a.state not in (UNCHANGED, MISSING, PARTIAL)
            ]
            if changed:
                raise WouldOverwriteError(
                    f"{changed[0]} was modified in the workspace; updating would lose the change",
                    path=changed[0],
                    hint="keep it elsewhere first, or discard it with --force",
                )
        out: list[Got] = []
        for a in arts:
            src = a.pointer.source
            if isinstance(src, UrlSource):
                from .import_url import update_url

                rel, new, moved = update_url(repo, a.path, src)
                out.append(Got(rel, new, a.pointer.kind, new.size, 1, changed=moved))
                continue
            assert src is not None
            if named:
                at = (rev, version, stage)
            else:
                at = (src.rev or None, src.version or None, src.stage or None)
            with open_named(src.url, src.path, *at, repo=repo) as ext:
                out.append(_bring(repo, ext, src.path, a.path, force=True, old=a.pointer))
        return out


@dataclass(frozen=True, slots=True)
class ImportState:
    """An import compared with its source: ``up-to-date``, ``behind`` (the source has another artifact at
    ``latest_commit``), or ``unknown`` (the source could not be read: ``reason``)."""

    path: str
    source: Source | UrlSource
    state: str
    latest_commit: str | None = None
    latest_oid: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        out: dict = {"path": self.path, "state": self.state, "import": self.source.as_dict()}
        out |= {"latest_commit": self.latest_commit, "latest_oid": self.latest_oid}
        if self.reason:
            out["reason"] = self.reason
        return out


def import_states(repo: Repo, artifacts: Sequence[TrackedArtifact]) -> list[ImportState]:
    """Compare each import among ``artifacts`` with its source (each source URL is fetched once)."""
    out = []
    opened: dict[str, ExternalRepo | ArtError] = {}
    try:
        for a in artifacts:
            src = a.pointer.source
            if src is None:
                continue
            if isinstance(src, UrlSource):
                out.append(_compare_url(a.path, src, repo))
                continue
            if src.url not in opened:
                try:
                    opened[src.url] = open_external(src.url, None, repo=repo)
                except ArtError as exc:
                    opened[src.url] = exc
            ext = opened[src.url]
            if isinstance(ext, ArtError):
                out.append(ImportState(a.path, src, "unknown", reason=ext.message))
                continue
            try:
                out.append(_compare(a.path, src, ext))
            except ArtError as exc:
                out.append(ImportState(a.path, src, "unknown", reason=exc.message))
    finally:
        for ext in opened.values():
            if isinstance(ext, ExternalRepo):
                ext.close()
    return out


def _compare_url(path: str, src: UrlSource, repo: Repo) -> ImportState:
    from .import_url import options_for, probe

    try:
        size, modified = probe(src.url, options_for(repo, src.url))
    except ArtError as exc:
        return ImportState(path, src, "unknown", reason=exc.message)
    state = "up-to-date" if (size, modified) == (src.size, src.modified) and modified else "behind"
    return ImportState(path, src, state)


def _compare(path: str, src: Source, ext: ExternalRepo) -> ImportState:
    if src.stage:  # a stage moves: compare with its current assignment
        ext.at_named(src.path, stage=src.stage)
    else:
        follow = src.rev if src.rev and ext.git.is_branch(src.rev) else None
        ext.commit = ext.resolve(follow)
        ext.rev = follow or ""
        ext.forget()
    listed, inner = ext.find(src.path)
    latest = listed.pointer.oid
    if inner:
        remote = ext.open_remote()
        try:
            latest = ext.tree_entry(remote, listed, inner)[0]
        finally:
            remote.close()
    state = "up-to-date" if latest == src.oid else "behind"
    return ImportState(path, src, state, ext.commit, str(latest))
