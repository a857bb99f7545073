"""``art stage add``."""

import click

from ._errors import SuggestingGroup
from ._options import common, flags, pass_repo
from ._render import emit_json, say


@click.group("stage", cls=SuggestingGroup)
def cli() -> None:
    """Define pipeline stages in art.toml.

    \b
    Example:
      art stage add train -d data/prepared -d src/train.py -o models/model.pkl \\
          -p params.toml:train.C -- python src/train.py
    """


@cli.command("add")
@click.argument("name")
@click.argument("command", nargs=-1, required=False)
@click.option("-d", "--dep", "deps", multiple=True, help="A file or directory the stage reads (repeatable).")
@click.option("-o", "--out", "outs", multiple=True, help="A file or directory the stage writes (repeatable).")
@click.option(
    "-m",
    "--metrics",
    "metrics",
    multiple=True,
    help="A metrics file the stage writes (JSON, YAML, TOML or CSV; an output too; repeatable).",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    help="FILE:KEY of a parameter the stage uses (repeatable); only listed keys count.",
)
@click.option("--code", "code", multiple=True, help="A source file whose content is part of the stage's code hash.")
@click.option("--call", help="Run a Python function MODULE:FUNCTION instead of a shell command.")
@click.option("-f", "--force", is_flag=True, help="Replace a stage of the same name.")
@common()
@pass_repo
def add(repo, name: str, command: tuple[str, ...], deps, outs, metrics, params, code, call, force: bool) -> None:
    """Add stage NAME to art.toml (the command follows --).

    Paths are relative to the current directory; art.toml stores them relative to the workspace root, where
    the command runs. A `python FILE` in the command is
    detected and its content hashed, so editing the script makes the stage stale.

    \b
    Examples:
      art stage add prepare -d data/raw -o data/prepared -- python src/prepare.py
      art stage add train -d data/prepared -o model.pkl -p params.toml:train.C -- python src/train.py
      art stage add evaluate -d model.pkl -m eval/metrics.json -- python src/evaluate.py
      art stage add report --call reports.build:main -d model.pkl -o report.html
    """
    from ..errors import UsageError
    from ..pipeline.spec import add_stage, parse_param

    if bool(command) == bool(call):
        raise UsageError(
            "give either a command after -- or --call MODULE:FUNCTION",
            hint="art stage add NAME -d DEP -o OUT -- CMD ARGS...",
        )
    from ..workspace.paths import to_repo_path
    from ._options import absolute

    def rel(paths):
        return [to_repo_path(repo.root, p) for p in absolute(paths)]

    for p in params:
        parse_param(p)
    body = {
        "cmd": _join(command) if command else None,
        "call": call,
        "deps": rel(deps),
        "outs": rel(outs),
        "metrics": rel(metrics),
        "params": list(params),
        "code": rel(code),
    }
    with repo.lock:  # art.toml is read, changed and replaced as one step
        stage = add_stage(repo.root, name, body, force=force)
    if flags().get("json"):
        emit_json(
            {
                "name": stage.name,
                "cmd": stage.cmd,
                "call": stage.call,
                "deps": list(stage.deps),
                "outs": [o for o in stage.outs if o not in stage.metrics],
                "metrics": list(stage.metrics),
                "params": [str(p) for p in stage.params],
                "code": list(stage.code),
            }
        )
        return
    say(f"Added stage {stage.name} to art.toml: {stage.command}")
    say("Run it with 'art repro', then commit art.toml and art.lock.")


def _join(tokens) -> str:
    """One token is the command as written; several are joined, quoting only those with spaces or quotes
    (so shell operators such as && and > keep working)."""
    import shlex

    if len(tokens) == 1:
        return tokens[0]
    return " ".join(t if t and not any(c.isspace() or c in "'\"" for c in t) else shlex.quote(t) for t in tokens)
