"""``art ls``."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json, human, say


@click.command("ls")
@click.argument("url", metavar="[URL|PATH]", required=False)
@click.argument("path", required=False)
@click.option("--rev", help="A git revision (branch, tag, commit); default: the workspace (or, with URL, its HEAD).")
@common()
def cli(url: str | None, path: str | None, rev: str | None) -> None:
    """List tracked artifacts (from pointer files and art.lock), here or in another art repository.

    With one PATH in this workspace, list that artifact, what a tracked folder (or a folder inside one) holds, or
    the artifacts below a folder. With URL (a git URL or the path of another git repository), list what that
    repository tracks at --rev (default: its HEAD) without fetching its data; with PATH after it, only that
    artifact, or what a tracked folder holds there.

    \b
    Examples:
      art ls
      art ls data/images
      art ls --rev v1.0 --json
      art ls https://example.com/team/registry.git
      art ls ../registry models --rev v1.1.0
    """
    if url is None:
        return _local(rev)
    from ..workspace.imports import list_external
    from ..workspace.ls import is_workspace_path, ls_path

    with _optional_repo() as repo:
        if repo is not None and path is None and is_workspace_path(repo, url):
            rows = ls_path(repo, url, rev=rev)
            if flags().get("json"):
                emit_json({"artifacts": rows})
            else:
                _rows(rows)
            return
        items = list_external(url, path, rev=rev, repo=repo)
    if flags().get("json"):
        emit_json(items.as_dict())
        return
    _rows(items.entries)


def _rows(rows: list[dict]) -> None:
    """Short id, kind, size, files (``-`` where a tree entry does not count them), path."""
    for i in rows:
        oid = i["oid"][:10] if i.get("oid") else "-" * 10
        files = i.get("files", 1 if i["kind"] != "dir" else "-")
        say(f"{oid}  {i['kind']:4}  {human(i['size']):>10}  {files:>7}  {i['path']}")


@pass_repo
def _local(repo, rev: str | None) -> None:
    from ..workspace.ls import ls

    items = ls(repo, rev=rev)
    if flags().get("json"):
        emit_json({"artifacts": [i.as_dict() for i in items]})
        return
    for i in items:
        p = i.pointer
        say(f"{p.oid[:10]}  {p.kind:4}  {human(p.size):>10}  {p.files:>7}  {i.path}")


class _optional_repo:
    """The workspace around the current directory, or None outside any (``art ls URL`` works anywhere)."""

    def __enter__(self):
        from ..errors import NotARepoError
        from ..workspace.repo import Repo

        try:
            self.repo = Repo.find()
        except NotARepoError:
            self.repo = None
        return self.repo

    def __exit__(self, *exc):
        if self.repo is not None:
            self.repo.close()
