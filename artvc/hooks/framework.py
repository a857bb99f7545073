"""``art install --pre-commit-framework``: add (or remove) art's hooks in ``.pre-commit-config.yaml``.

The file is edited as text, so the user's comments and layout survive: our entry sits between two marker
comments, right under ``repos:``. The hook definitions themselves live in ``.pre-commit-hooks.yaml`` at the
root of art's repository, which the framework reads at the pinned ``rev``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .._version import __version__
from ..errors import UsageError
from ..objstore.fileio import atomic_write
from ._base import git_lines
from .install import HOOKS

CONFIG = ".pre-commit-config.yaml"
BEGIN = "# >>> art hooks (art install --pre-commit-framework) >>>"
END = "# <<< art hooks <<<"


@dataclass(frozen=True, slots=True)
class FrameworkResult:
    config: str
    repo_url: str
    rev: str
    hooks: list[str]
    changed: bool

    def as_dict(self) -> dict:
        return {
            "config": self.config,
            "repo": self.repo_url,
            "rev": self.rev,
            "hooks": self.hooks,
            "changed": self.changed,
        }


def source_repo() -> str | None:
    """Where this art was installed from (a local directory or VCS URL recorded by pip), or None."""
    from importlib import metadata

    try:
        raw = metadata.distribution("artvc").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not raw:
        return None
    info = json.loads(raw)
    url = info.get("url", "")
    if "vcs_info" in info:
        return url
    if url.startswith("file://") and (Path(url[7:]) / ".git").exists():
        return url[7:]
    return None


def default_rev(repo_url: str) -> str:
    if Path(repo_url).is_dir():
        head = git_lines(Path(repo_url), "rev-parse", "HEAD")
        if head:
            return head[0]
    return f"v{__version__}"


def _block(repo_url: str, rev: str, names: list[str], prefix: str, indent: str) -> list[str]:
    lines = [BEGIN, f"- repo: {json.dumps(repo_url)}", f"  rev: {json.dumps(rev)}", "  hooks:"]
    for name in names:
        lines.append(f"    - id: art-{name}")
        if prefix:
            lines.append(f"      args: [--dir, {json.dumps(prefix)}]")
    lines.append(END)
    return [indent + line for line in lines]


def _strip_block(lines: list[str]) -> tuple[list[str], bool]:
    out, inside, found = [], False, False
    for line in lines:
        if line.strip() == BEGIN:
            inside = found = True
            continue
        if inside:
            if line.strip() == END:
                inside = False
            continue
        out.append(line)
    return out, found


def add_to_config(
    top: Path, names: list[str] | None = None, *, repo_url: str | None = None, rev: str | None = None, prefix: str = ""
) -> FrameworkResult:
    """Add art's hooks to ``top/.pre-commit-config.yaml`` (created when missing); idempotent.

    Args:
        top: the top of the git work tree.
        names: hook names (default: all three).
        repo_url: the repository holding ``.pre-commit-hooks.yaml`` (default: where art was installed from).
        rev: the revision to pin (default: that clone's HEAD, or ``v<version>``).
        prefix: the art workspace relative to ``top`` (passed to the hooks as ``--dir``).

    Raises:
        UsageError: when the source repository is unknown, or ``repos:`` is not a block list.
    """
    names = list(names or HOOKS)
    repo_url = repo_url or source_repo()
    if not repo_url:
        raise UsageError(
            "cannot tell which repository holds art's .pre-commit-hooks.yaml",
            hint="pass --repo URL --rev TAG (the art repository and a release tag)",
        )
    rev = rev or default_rev(repo_url)
    path = top / CONFIG
    old = path.read_text() if path.exists() else ""
    lines, _ = _strip_block(old.splitlines())
    at = next((i for i, line in enumerate(lines) if re.match(r"^repos\s*:\s*(#.*)?$", line)), None)
    if at is None:
        if any(re.match(r"^repos\s*:", line) for line in lines):
            raise UsageError(
                f"{CONFIG} has 'repos:' in flow style; cannot add art's hooks automatically",
                hint="add the art repository by hand (see docs/hooks.md)",
            )
        if not lines:
            lines = ["# pre-commit configuration", "default_install_hook_types: [pre-commit, post-checkout, pre-push]"]
        lines.append("repos:")
        at = len(lines) - 1
    item = next((line for line in lines[at + 1 :] if line.strip() and not line.lstrip().startswith("#")), "")
    dash = re.match(r"^(\s*)-", item)
    indent = dash.group(1) if dash else ""
    lines[at + 1 : at + 1] = _block(repo_url, rev, names, prefix, indent)
    new = "\n".join(lines) + "\n"
    if new != old:
        atomic_write(path, new)
    return FrameworkResult(str(path), repo_url, rev, names, new != old)


def remove_from_config(top: Path) -> bool:
    """Remove art's block from ``.pre-commit-config.yaml``; return whether there was one."""
    path = top / CONFIG
    if not path.exists():
        return False
    lines, found = _strip_block(path.read_text().splitlines())
    if found:
        atomic_write(path, "\n".join(lines) + "\n")
    return found
