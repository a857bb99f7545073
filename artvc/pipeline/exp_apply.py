"""``art exp apply``, ``art exp branch`` and ``art exp remove``.

``apply`` writes into the workspace the files the experiment's commit changed against its baseline (its params,
``art.lock``, ``.gitignore`` files) and checks out the artifacts that commit names, all planned before anything is
written: a file with uncommitted changes that the experiment would replace, or an artifact whose modified
content the store cannot give back, refuses the whole apply unless ``force``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import UsageError, WouldOverwriteError
from ..objstore.fileio import atomic_write
from ..workspace.checkout import apply_plan, check_plan
from ..workspace.checkout_plan import plan_checkout
from ..workspace.lockfile import LOCK_NAME, lock_outputs, parse_lock_text
from ..workspace.paths import check_relpath, ensure_inside
from ..workspace.pointers import SUFFIX, parse_pointer
from ..workspace.repo import Repo
from ..workspace.tracked import TrackedArtifact
from .exp_run import sweep_worktrees
from .exps import EXPS, QUEUE, Experiment, ExpState, UnknownExperimentError, experiments, get, git_of


@dataclass(frozen=True, slots=True)
class ApplyResult:
    name: str
    files: list[str]  # workspace files written (or deleted)
    restored: list[str]  # artifacts checked out
    files_written: int


def exp_apply(repo: Repo, name: str, *, force: bool = False) -> ApplyResult:
    """Bring experiment ``name``'s params and outputs into the workspace.

    Raises:
        UnknownExperimentError: no such experiment. UsageError: it is queued or failed.
        WouldOverwriteError: a file it changes has uncommitted changes of its own (without ``force``), or an
            artifact was modified and is not stored (as ``art checkout``).
        ObjectNotFoundError: the store lacks an output of the experiment (nothing is written).
    """
    exp = get(repo, name)
    if exp.state != ExpState.DONE:
        raise UsageError(f"experiment {name} is {exp.state}: there is nothing to apply", hint="art exp show")
    git = git_of(repo)
    prefix = f"{repo.git_prefix}/" if repo.git_prefix else ""
    with repo.lock:
        files = _files(repo, git, exp, prefix)
        head = git.head_commit() or exp.baseline
        blocked = [p for p, new in files.items() if _uncommitted(repo, git, head, prefix + p, new)]
        if blocked and not force:
            more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
            raise WouldOverwriteError(
                f"{blocked[0]} has uncommitted changes that exp apply would overwrite{more}",
                path=blocked[0],
                hint="commit them first, or use --force to overwrite them",
            )
        plan = plan_checkout(repo, force=force, artifacts=_artifacts(git, exp.commit, prefix))
        check_plan(plan)
        for path, content in files.items():
            dest = ensure_inside(repo.root, repo.abspath(path))
            if content is None:
                if dest.is_file():
                    os.unlink(dest)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(dest, content)
        written = apply_plan(repo, plan)
    return ApplyResult(name, sorted(files), [a.path for a in plan.todo], written)


def _files(repo: Repo, git, exp: Experiment, prefix: str) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for path in git.changed_between(exp.baseline, exp.commit):
        if not path.startswith(prefix):
            continue
        rel = check_relpath(path[len(prefix) :], where=f"experiment {exp.name}")
        out[rel] = git.file_at(exp.commit, "", path)
    return out


def _uncommitted(repo: Repo, git, head: str, git_path: str, new: bytes | None) -> bool:
    """Whether the workspace's file differs both from HEAD (a change of the user's) and from ``new``."""
    try:
        current: bytes | None = (git.workdir / git_path).read_bytes()
    except FileNotFoundError:
        current = None
    except IsADirectoryError:
        return True
    return current != git.file_at(head, "", git_path) and current != new


def _artifacts(git, commit: str, prefix: str) -> list[TrackedArtifact]:
    """The artifacts the experiment's commit names: its pointer files and its ``art.lock`` outputs."""
    out = []
    for path, text in git.files_at(commit, prefix.rstrip("/"), (SUFFIX,)):
        if len(path.rsplit("/", 1)[-1]) > len(SUFFIX):
            out.append(TrackedArtifact(path[: -len(SUFFIX)], parse_pointer(text, where=path), path))
    lock_text = git.file_at(commit, "", prefix + LOCK_NAME)
    if lock_text is not None:
        for path, pointer, stage in lock_outputs(parse_lock_text(lock_text)):
            out.append(TrackedArtifact(path, pointer, f"{LOCK_NAME}:{stage}"))
    return out


def exp_branch(repo: Repo, name: str, branch: str) -> str:
    """Create branch ``branch`` at experiment ``name``'s commit; return the commit.

    Raises:
        UnknownExperimentError, UsageError (queued or failed), GitError (the branch exists or the name is bad).
    """
    exp = get(repo, name)
    if exp.state != ExpState.DONE:
        raise UsageError(f"experiment {name} is {exp.state}: there is no result to branch from")
    git_of(repo).set_ref(f"refs/heads/{branch}", exp.commit)
    return exp.commit


def exp_remove(repo: Repo, names: list[str], *, all_exps: bool = False, queued: bool = False) -> list[str]:
    """Delete experiments' refs (``names``; ``all_exps``: every one, queued too; ``queued``: the queued ones).

    Raises:
        UnknownExperimentError: for a name that is no experiment (nothing is removed then).
        UsageError: when neither names nor a flag is given.
    """
    if not names and not all_exps and not queued:
        raise UsageError("name the experiments to remove", hint="or use --all, or --queue for the queued ones")
    git = git_of(repo)
    known = {e.name: e for e in experiments(repo)}
    missing = [n for n in names if n not in known]
    if missing:
        raise UnknownExperimentError(f"no experiment named {missing[0]!r}", hint="see 'art exp show'")
    chosen = [known[n] for n in names]
    chosen += [e for e in known.values() if all_exps or (queued and e.state == ExpState.QUEUED)]
    removed: list[str] = []
    with repo.lock:
        for exp in chosen:
            if exp.name not in removed:
                git.delete_ref(EXPS + exp.name)
                git.delete_ref(QUEUE + exp.name)
                removed.append(exp.name)
    sweep_worktrees(repo)  # a killed run's worktree of a queued experiment removed now
    return removed
