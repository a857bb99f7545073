"""Everything git, through pygit2 (the only module that imports it): find the repo, read files at revisions."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import pygit2
from pygit2.enums import FetchPrune, FileMode, SortMode

from ..errors import GitError


class Git:
    """A git work tree that contains (or is) the art workspace."""

    def __init__(self, repo: pygit2.Repository, workdir: Path) -> None:
        self._repo = repo
        self.workdir = workdir

    @classmethod
    def discover(cls, path: Path) -> Git | None:
        """Return the git work tree containing ``path``, or None."""
        found = pygit2.discover_repository(str(path))
        if not found:
            return None
        try:
            repo = pygit2.Repository(found)
        except pygit2.GitError as exc:
            raise GitError(f"cannot open the git repository at {found}: {exc}") from exc
        if repo.is_bare or repo.workdir is None:
            return None
        return cls(repo, Path(repo.workdir).resolve())

    @classmethod
    def init(cls, path: Path) -> Git:
        """Create a git repository with a work tree at ``path`` (no git binary needed).

        Raises:
            GitError: when libgit2 cannot create it.
        """
        try:
            repo = pygit2.init_repository(str(path))
        except pygit2.GitError as exc:
            raise GitError(f"cannot create a git repository at {path}: {exc}") from exc
        return cls(repo, Path(repo.workdir).resolve())

    @classmethod
    def clone(cls, source: Path, dest: Path) -> Git:
        """Clone the repository at ``source`` into ``dest`` (a local path; no git binary needed).

        Raises:
            GitError: when libgit2 cannot clone it.
        """
        try:
            repo = pygit2.clone_repository(str(source), str(dest))
        except pygit2.GitError as exc:
            raise GitError(f"cannot clone {source} into {dest}: {exc}") from exc
        return cls(repo, Path(repo.workdir).resolve())

    @classmethod
    def open_any(cls, path: Path) -> Git:
        """Open the repository at ``path`` (bare or with a work tree) to read it at revisions.

        Raises:
            GitError: when there is no git repository there.
        """
        try:
            repo = pygit2.Repository(str(path))
        except (pygit2.GitError, KeyError) as exc:
            raise GitError(f"{path} is not a git repository", hint="give a git URL or the path of a clone") from exc
        return cls(repo, Path(repo.workdir or repo.path).resolve())

    @classmethod
    def mirror(cls, url: str, dest: Path) -> Git:
        """Bring the bare mirror of ``url`` at ``dest`` up to date: fetch every branch and tag (moved tags
        and forced branches follow the source), or clone it when ``dest`` does not exist yet.

        Only git objects travel (an art repository keeps its data out of git). The clone is made in a temp
        folder beside ``dest`` and renamed into place, so a killed command never leaves half a mirror.

        Raises:
            GitError: when the URL cannot be reached or is not a git repository.
        """
        import shutil
        import uuid

        if dest.is_dir():
            try:
                repo = pygit2.Repository(str(dest))
                remote = repo.remotes["origin"]
                remote.fetch(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], prune=FetchPrune.PRUNE)
                return cls(repo, dest)
            except (pygit2.GitError, KeyError, ValueError) as exc:
                raise GitError(f"cannot fetch from {url}: {exc}", hint="check the URL and your access to it") from exc
        tmp = dest.with_name(f"{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            pygit2.clone_repository(url, str(tmp), bare=True)
            os.rename(tmp, dest)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            raise GitError(
                f"cannot clone {url}: {str(exc).strip() or type(exc).__name__}",
                hint="give a git URL or the path of a git repository that you can read",
            ) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return cls(pygit2.Repository(str(dest)), dest)

    def read_at(self, commit: str, path: str, limit: int) -> bytes | None:
        """Return the content of file ``path`` at ``commit`` (None when absent or over ``limit`` bytes)."""
        try:
            entry = self._repo[commit].peel(pygit2.Commit).tree[path]
        except (KeyError, ValueError, pygit2.GitError):
            return None
        obj = self._repo[entry.id]
        if not isinstance(obj, pygit2.Blob) or obj.size > limit:
            return None
        return obj.data

    def head_branch(self) -> str | None:
        """The branch HEAD names (``main``), or None when it is detached or unborn."""
        try:
            ref = self._repo.references["HEAD"].target
        except (KeyError, pygit2.GitError):
            return None
        return ref.removeprefix("refs/heads/") if isinstance(ref, str) and ref.startswith("refs/heads/") else None

    def is_branch(self, name: str) -> bool:
        return f"refs/heads/{name}" in self._repo.references or name == "HEAD"

    def commit_all(self, message: str) -> str:
        """Stage every change that .gitignore allows (like ``git add -A``), commit it on HEAD, return its id.

        The author is the configured ``user.name``/``user.email``, or "art" when git has none.
        """
        repo = self._repo
        try:
            index = repo.index
            index.add_all()
            for path, flags in repo.status(untracked_files="no").items():
                if flags & pygit2.GIT_STATUS_WT_DELETED:
                    index.remove(path)
            index.write()
            try:
                sig = repo.default_signature
            except (KeyError, pygit2.GitError):
                sig = pygit2.Signature("art", "art@localhost")
            parents = [] if repo.head_is_unborn else [repo.head.target]
            return str(repo.create_commit("HEAD", sig, sig, message, index.write_tree(), parents))
        except pygit2.GitError as exc:
            raise GitError(f"git commit failed: {exc}") from exc

    @property
    def git_dir(self) -> Path:
        return Path(self._repo.path)

    def head_commit(self) -> str | None:
        try:
            return str(self._repo.head.target)
        except (pygit2.GitError, KeyError):
            return None

    def is_dirty(self) -> bool:
        try:
            status = self._repo.status(untracked_files="no")
        except pygit2.GitError:
            return True
        return any(flags != pygit2.GIT_STATUS_CURRENT for flags in status.values())

    def resolve(self, rev: str) -> pygit2.Commit:
        """Resolve a revision (branch, tag, sha, ``HEAD~2``) to a commit.

        Raises:
            GitError: when it names no commit.
        """
        try:
            obj = self._repo.revparse_single(rev)
            return obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
            raise GitError(f"unknown revision {rev!r}", hint="use a branch, tag or commit id") from exc

    def files_at(self, rev: str, prefix: str, suffixes: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
        """Yield (path relative to the art root, content) of files ending in ``suffixes`` at ``rev``.

        ``prefix`` is the art root relative to the git work tree ("" when they coincide).
        """
        tree = self.resolve(rev).tree
        if prefix:
            try:
                sub = self._repo[tree[prefix].id]
            except KeyError:
                return
            if not isinstance(sub, pygit2.Tree):
                return
            tree = sub
        yield from self._walk(tree, "", suffixes)

    def file_at(self, rev: str, prefix: str, path: str) -> bytes | None:
        """Return the content of file ``path`` (relative to the art root) at ``rev``, or None when it is absent
        there (or not a file). ``prefix`` is as for ``files_at``.

        Raises:
            GitError: when ``rev`` names no commit.
        """
        found = self.bounded_file_at(rev, prefix, path, sys.maxsize)
        return found[1] if found else None

    def commit_id(self, rev: str) -> str:
        """Return the full id of the commit ``rev`` names.

        Raises:
            GitError: when it names no commit.
        """
        return str(self.resolve(rev).id)

    def bounded_file_at(self, rev: str, prefix: str, path: str, limit: int) -> tuple[int, bytes | None] | None:
        """(size, content) of the file ``path`` (relative to the art root) at ``rev``, the content None when the
        file is over ``limit`` bytes (it is then not read); None when ``rev`` has no such file.

        Raises:
            GitError: when ``rev`` names no commit.
        """
        tree = self.resolve(rev).tree
        try:
            entry = tree[f"{prefix}/{path}" if prefix else path]
        except (KeyError, ValueError):
            return None
        obj = self._repo[entry.id]
        if not isinstance(obj, pygit2.Blob):
            return None
        return (obj.size, None) if obj.size > limit else (obj.size, obj.data)

    def _walk(self, tree: pygit2.Tree, base: str, suffixes: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
        stack = [(base, iter(tree))]  # iterative: a git tree of any depth
        while stack:
            prefix, entries = stack[-1]
            for entry in entries:
                path = f"{prefix}{entry.name}"
                if entry.type_str == "tree":
                    stack.append((path + "/", iter(self._tree(entry.id))))
                    break
                if entry.type_str == "blob" and path.endswith(suffixes):
                    yield path, self._blob(entry.id)
            else:
                stack.pop()

    def _tree(self, oid: pygit2.Oid) -> pygit2.Tree:
        obj = self._repo[oid]
        assert isinstance(obj, pygit2.Tree)
        return obj

    def _blob(self, oid: pygit2.Oid) -> bytes:
        obj = self._repo[oid]
        assert isinstance(obj, pygit2.Blob)
        return obj.data

    def revisions(self, *, all_refs: bool = False) -> Iterator[str]:
        """Yield commit ids reachable from HEAD (or from every branch and tag)."""
        starts: list[pygit2.Oid | str] = []
        if all_refs:
            for name in self._repo.references:
                try:
                    starts.append(self._repo.references[name].peel(pygit2.Commit).id)
                except (pygit2.GitError, ValueError, pygit2.InvalidSpecError):
                    continue
        elif self.head_commit():
            starts.append(self._repo.head.target)
        if not starts:
            return
        # one walk from every start: each commit once, all parents of merges included
        walker = self._repo.walk(starts[0], SortMode.TOPOLOGICAL)
        for start in starts[1:]:
            walker.push(start)
        for commit in walker:
            yield str(commit.id)

    def refs(self) -> dict[str, str]:
        """Return every reference that leads to a commit (branches, remote branches, tags, stash...) -> commit id."""
        out = {}
        for name in self._repo.references:
            try:
                out[name] = str(self._repo.references[name].peel(pygit2.Commit).id)
            except (pygit2.GitError, ValueError, KeyError, pygit2.InvalidSpecError):
                continue
        return out

    def history(self, starts: list[str]) -> Iterator[tuple[str, int]]:
        """Yield (commit id, commit time) of every commit reachable from ``starts``, each once, newest first."""
        walker = self._repo.walk(None, SortMode.TOPOLOGICAL | SortMode.TIME)
        for start in starts:
            walker.push(pygit2.Oid(hex=start))
        for commit in walker:
            yield str(commit.id), commit.commit_time

    def log_path(self, path: str, prefix: str, limit: int = 1000) -> Iterator[tuple[str, int, str, bytes | None]]:
        """Yield (commit, time, summary, blob content or None) for each commit from HEAD back, newest first."""
        full = f"{prefix}/{path}" if prefix else path
        if not self.head_commit():
            return
        walker = self._repo.walk(self._repo.head.target, SortMode.TOPOLOGICAL | SortMode.TIME)
        for n, commit in enumerate(walker):
            if n >= limit:
                return
            try:
                entry = commit.tree[full]
            except KeyError:
                data = None
            else:
                data = self._blob(entry.id) if entry.type_str == "blob" else None
            summary = commit.message.splitlines()[0] if commit.message else ""
            yield str(commit.id), commit.commit_time, summary, data

    # -- experiments: commits built without touching HEAD or the index, refs, temporary worktrees ---------

    def tracked_changes(self) -> dict[str, bytes | None]:
        """Return the uncommitted content of every git-tracked file that differs from HEAD (path relative to
        the git work tree -> bytes, None when deleted). Untracked and ignored files are left out."""
        out: dict[str, bytes | None] = {}
        try:
            status = self._repo.status(untracked_files="no")
        except pygit2.GitError as exc:
            raise GitError(f"git status failed: {exc}") from exc
        for path, flags in status.items():
            if flags == pygit2.GIT_STATUS_CURRENT or flags & pygit2.GIT_STATUS_IGNORED:
                continue
            full = self.workdir / path
            out[path] = full.read_bytes() if full.is_file() and not full.is_symlink() else None
        return out

    def commit_candidates(self) -> list[str]:
        """Every file ``git add -A && git commit`` would commit now: tracked files still in the work tree plus
        untracked, not ignored ones (paths relative to the work tree, sorted; submodules left out)."""
        try:
            index = self._repo.index
            index.read(False)
            tracked = {e.path for e in index if e.mode != 0o160000}
            status = self._repo.status(untracked_files="all")
        except pygit2.GitError as exc:
            raise GitError(f"git status failed: {exc}") from exc
        gone = {p for p, f in status.items() if f & pygit2.GIT_STATUS_WT_DELETED}
        new = {p for p, f in status.items() if f & pygit2.GIT_STATUS_WT_NEW and not f & pygit2.GIT_STATUS_IGNORED}
        return sorted((tracked - gone) | new)

    def new_files(self, wanted) -> dict[str, bytes | None]:
        """Return changed tracked files plus untracked, not ignored files for which ``wanted(path)`` is true
        (path -> content, None when deleted)."""
        out = self.tracked_changes()
        try:
            status = self._repo.status(untracked_files="all")
        except pygit2.GitError as exc:
            raise GitError(f"git status failed: {exc}") from exc
        for path, flags in status.items():
            if flags & pygit2.GIT_STATUS_WT_NEW and wanted(path):
                full = self.workdir / path
                if full.is_file() and not full.is_symlink():
                    out[path] = full.read_bytes()
        return out

    def make_commit(self, base: str, changes: dict[str, bytes | None], message: str, parents: list[str]) -> str:
        """Create a commit whose tree is ``base``'s with ``changes`` applied (path -> bytes, None: delete),
        without moving any branch, HEAD or the index; return its id.

        Raises:
            GitError: when libgit2 refuses.
        """
        repo = self._repo
        try:
            index = pygit2.Index()
            index.read_tree(self.resolve(base).tree)
            for path, data in sorted(changes.items()):
                if data is None:
                    if path in index:
                        index.remove(path)
                    continue
                mode = index[path].mode if path in index else FileMode.BLOB
                index.add(pygit2.IndexEntry(path, repo.create_blob(data), FileMode(mode)))
            tree = index.write_tree(repo)
            sig = self._signature()
            return str(repo.create_commit(None, sig, sig, message, tree, [pygit2.Oid(hex=p) for p in parents]))
        except (pygit2.GitError, ValueError, KeyError) as exc:
            raise GitError(f"cannot create a commit: {exc}") from exc

    def _signature(self) -> pygit2.Signature:
        try:
            return self._repo.default_signature
        except (KeyError, pygit2.GitError):
            return pygit2.Signature("art", "art@localhost")

    def refs_under(self, prefix: str) -> dict[str, str]:
        """Return every reference whose name starts with ``prefix`` -> the commit it points to."""
        return {name: sha for name, sha in self.refs().items() if name.startswith(prefix)}

    def set_ref(self, name: str, commit: str, *, force: bool = False) -> None:
        """Point reference ``name`` at ``commit``.

        Raises:
            GitError: when it exists and ``force`` is not set, or the name is not valid.
        """
        try:
            self._repo.references.create(name, pygit2.Oid(hex=commit), force=force)
        except (pygit2.GitError, ValueError, pygit2.AlreadyExistsError, pygit2.InvalidSpecError) as exc:
            raise GitError(f"cannot write the reference {name}: {exc}") from exc

    def delete_ref(self, name: str) -> bool:
        """Delete reference ``name``; return False when there was none."""
        try:
            self._repo.references.delete(name)
        except (KeyError, pygit2.GitError):
            return False
        return True

    def message(self, commit: str) -> str:
        return self.resolve(commit).message

    def changed_between(self, a: str, b: str) -> list[str]:
        """Return the paths (relative to the git work tree) whose content differs between commits a and b."""
        diff = self.resolve(a).tree.diff_to_tree(self.resolve(b).tree)
        out: set[str] = set()
        for delta in diff.deltas:
            out.update(p for p in (delta.old_file.path, delta.new_file.path) if p)
        return sorted(out)

    def worktree_add(self, path: Path, commit: str) -> None:
        """Check ``commit`` out into a new linked work tree at ``path`` (detached HEAD; ``git worktree``).

        Raises:
            GitError: when git is not installed or refuses.
        """
        # hooks off: the checkout hook 'art install' sets up would fill the new worktree from a store of its own
        _git(
            self.workdir, "-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "--quiet", str(path), commit
        )

    def worktree_remove(self, path: Path) -> None:
        """Remove the linked work tree at ``path`` (files and git's record of it); a missing one is fine."""
        import shutil

        if path.exists():
            try:
                _git(self.workdir, "worktree", "remove", "--force", "--force", str(path))
            except GitError:
                shutil.rmtree(path, ignore_errors=True)
        _git(self.workdir, "worktree", "prune")

    # -- the index (``art rm`` / ``art mv``) -----------------------------------------------------------------

    def in_index(self, path: str) -> bool:
        """True when ``path`` (relative to the work tree) is in git's index."""
        try:
            index = self._repo.index
            index.read(False)
            return path in index
        except pygit2.GitError as exc:
            raise GitError(f"cannot read git's index: {exc}") from exc

    def matches_index(self, path: str) -> bool:
        """True when ``path`` is in the index and its work-tree content equals the staged one."""
        try:
            return self.in_index(path) and self._repo.status_file(path) == pygit2.GIT_STATUS_CURRENT
        except (KeyError, pygit2.GitError):
            return False

    def index_entry(self, path: str) -> pygit2.IndexEntry | None:
        """The index entry of ``path``, kept to put it back (``restore_index``)."""
        index = self._repo.index
        index.read(False)
        try:
            return index[path]
        except KeyError:
            return None

    def update_index(self, *, remove: Sequence[str] = (), add: Sequence[str] = ()) -> None:
        """Remove ``remove`` from git's index and stage the work-tree content of ``add`` (``git rm --cached`` /
        ``git add``), written as one new index.

        Raises:
            GitError: when the index cannot be written (another git process holds ``index.lock``).
        """
        try:
            index = self._repo.index
            index.read(False)
            for path in remove:
                if path in index:
                    index.remove(path)
            for path in add:
                index.add(path)
            index.write()
        except (pygit2.GitError, OSError) as exc:
            raise GitError(
                f"cannot update git's index: {exc}", hint="is another git command running? (.git/index.lock)"
            ) from exc

    def restore_index(self, entries: dict[str, pygit2.IndexEntry | None]) -> None:
        """Put index entries back as ``index_entry`` returned them (None: the path was not in the index)."""
        index = self._repo.index
        index.read(False)
        for path, entry in entries.items():
            if entry is None:
                if path in index:
                    index.remove(path)
            else:
                index.add(entry)
        index.write()

    # -- tags (``art tag`` / ``art versions``: workspace/registry.py) --------------------------------------

    def tags(self, prefix: str) -> list[TagInfo]:
        """Every tag whose name starts with ``prefix`` that leads to a commit, with its tagger and message
        (a lightweight tag has the commit's author and time instead)."""
        repo = self._repo
        out = []
        for ref in repo.references.iterator():
            name = ref.name
            if not name.startswith("refs/tags/" + prefix):
                continue
            try:
                target = repo[ref.target]
                commit = target.peel(pygit2.Commit)
            except (pygit2.GitError, ValueError, KeyError, pygit2.InvalidSpecError):
                continue
            who = target.tagger if isinstance(target, pygit2.Tag) and target.tagger else commit.author
            message = target.message if isinstance(target, pygit2.Tag) else ""
            out.append(TagInfo(name[len("refs/tags/") :], str(commit.id), who.name, who.email, who.time, message or ""))
        return out

    def create_tag(self, name: str, commit: str, message: str) -> None:
        """Create the annotated tag ``name`` on ``commit`` (tagger: git's configured identity).

        Raises:
            GitError: when the tag exists or the name is not a valid reference.
        """
        repo = self._repo
        try:
            sig = repo.default_signature
        except (KeyError, pygit2.GitError):
            sig = pygit2.Signature("art", "art@localhost")
        # git's tagger is the committer: GIT_COMMITTER_NAME/EMAIL win over the configuration, as in git tag
        who, email = os.environ.get("GIT_COMMITTER_NAME"), os.environ.get("GIT_COMMITTER_EMAIL")
        if who or email:
            sig = pygit2.Signature(who or sig.name, email or sig.email)
        try:
            repo.create_tag(name, pygit2.Oid(hex=commit), pygit2.enums.ObjectType.COMMIT, sig, message)
        except (pygit2.GitError, ValueError) as exc:
            raise GitError(f"cannot create the tag {name}: {exc}") from exc

    def delete_tag(self, name: str) -> None:
        try:
            self._repo.references.delete("refs/tags/" + name)
        except (KeyError, pygit2.GitError) as exc:
            raise GitError(f"cannot delete the tag {name}: {exc}") from exc

    def blob_at(self, commit: str, path: str) -> bytes | None:
        """The content of file ``path`` (relative to the work tree) at ``commit``, or None."""
        try:
            entry = self.resolve(commit).tree[path]
        except KeyError:
            return None
        return self._blob(entry.id) if entry.type_str == "blob" else None

    def commit_time(self, commit: str) -> int:
        return self.resolve(commit).commit_time


def _git(cwd: Path, *args: str) -> str:
    """Run the git executable (linked work trees are the one thing art asks git itself for)."""
    import subprocess

    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed", hint="experiments run in git worktrees: install git") from exc
    if proc.returncode:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        words = [a for a in args if not a.startswith("-")][:2]
        raise GitError(f"git {' '.join(words)} failed: {detail[-1] if detail else '?'}")
    return proc.stdout


class TagInfo(NamedTuple):
    """A tag as ``Git.tags`` reads it: name (without ``refs/tags/``), the commit it leads to, who made it
    and when (Unix time), and its message."""

    name: str
    commit: str
    who: str
    email: str
    time: int
    message: str
