"""``art install``: git hook shims (chained with existing hooks), or the pre-commit framework's config."""

import click

from ._options import common, flags
from ._render import emit_json, say, warn

HOOK_NAMES = ("pre-commit", "post-checkout", "pre-push")


@click.command("install")
@click.option(
    "--hook",
    "hooks",
    multiple=True,
    type=click.Choice(HOOK_NAMES),
    help="Install only this hook (repeatable). Default: all three.",
)
@click.option("--uninstall", "remove", is_flag=True, help="Remove art's hooks and restore the hooks they chained.")
@click.option(
    "--pre-commit-framework",
    "framework",
    is_flag=True,
    help="Add art's hooks to .pre-commit-config.yaml instead of writing git hooks.",
)
@click.option(
    "--repo",
    "hooks_repo",
    metavar="URL",
    help="With --pre-commit-framework: the repository holding .pre-commit-hooks.yaml "
    "(default: where art was installed from).",
)
@click.option(
    "--rev",
    "hooks_rev",
    metavar="REV",
    help="With --pre-commit-framework: the revision of that repository (default: its HEAD "
    "for a local clone, else v<art version>).",
)
@common()
def cli(hooks, remove, framework, hooks_repo, hooks_rev) -> None:
    """Install git hooks that keep artifacts in step with commits, checkouts and pushes.

    pre-commit refuses commits with modified, un-added artifacts (or pointers to objects missing from the
    store); post-checkout runs 'art checkout' after switching branches; pre-push pushes the pushed
    commits' artifacts to the default remote. Hooks already present keep running (they are chained).

    \b
    Examples:
      art install
      art install --hook pre-push
      art install --uninstall
      art install --pre-commit-framework && pre-commit install
    """
    from pathlib import Path

    from ..hooks.framework import add_to_config, remove_from_config
    from ..hooks.install import foreign_art_on_path, install, uninstall
    from ..workspace.repo import Repo

    with Repo.find() as repo:
        root = Path(repo.root)
        prefix = repo.git_prefix
        git_top = repo.git.workdir if repo.git else root
    names = list(hooks) or None
    if not remove and (other := foreign_art_on_path()):
        warn(
            f"the 'art' on PATH ({other}) is another program, not this tool; the hooks do not use it, but "
            "your scripts should call 'artvc' or 'python -m artvc'"
        )
    if framework:
        if remove:
            changed = remove_from_config(git_top)
            payload = {"config": str(git_top / ".pre-commit-config.yaml"), "removed": changed}
            text = (
                "removed art's hooks from .pre-commit-config.yaml"
                if changed
                else "art's hooks were not in .pre-commit-config.yaml"
            )
        else:
            res = add_to_config(git_top, names, repo_url=hooks_repo, rev=hooks_rev, prefix=prefix)
            payload = res.as_dict()
            text = (
                f"added {', '.join(res.hooks)} to {res.config} (repo {res.repo_url} @ {res.rev})\n"
                if res.changed
                else f"{res.config} already has art's hooks\n"
            )
            text += "now run: pre-commit install --hook-type pre-commit --hook-type post-checkout --hook-type pre-push"
        if flags().get("json"):
            emit_json(payload)
        else:
            say(text)
        return
    result = uninstall(root, names) if remove else install(root, names, prefix=prefix)
    if flags().get("json"):
        emit_json(result.as_dict())
        return
    for name in result.installed:
        say(
            f"installed {name}"
            + (f" (your previous hook runs first: {name}.pre-art)" if name in result.chained else "")
        )
    for name in result.unchanged:
        say(f"{name} already installed")
    for name in result.removed:
        say(f"removed {name}" + (" (restored your previous hook)" if name in result.restored else ""))
    for name in result.foreign:
        say(f"{name} is not art's hook; left alone")
    say(f"hooks directory: {result.hooks_dir}")
