"""``art dag``."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json


@click.command("dag")
@click.option("--mermaid", "fmt", flag_value="mermaid", help="Print a mermaid flowchart.")
@click.option("--dot", "fmt", flag_value="dot", help="Print a graphviz digraph.")
@click.option(
    "--status",
    "mark",
    flag_value="status",
    help="Mark each stage with its current state (up-to-date | stale) instead of the last repro's outcome.",
)
@click.option("--no-marks", "mark", flag_value="none", help="Draw the stages only.")
@common()
@pass_repo
def cli(repo, fmt: str | None, mark: str | None) -> None:
    """Draw the pipeline's stage graph.

    By default each stage is marked with the outcome of the last 'art repro' in this workspace
    (ran | cached | up-to-date | failed | not-run).

    \b
    Examples:
      art dag
      art dag --status
      art dag --mermaid >> README.md
      art dag --dot | dot -Tsvg > pipeline.svg
    """
    from ..pipeline import draw
    from ..pipeline.outcome import last_outcome
    from ..pipeline.repro import load_pipeline

    _, graph = load_pipeline(repo)
    marks: dict[str, str]
    if mark == "none":
        marks = {}
    elif mark == "status":
        from ..pipeline.staleness import stage_states

        marks = {s.name: s.state for s in stage_states(repo)}
    else:
        marks = {k: v for k, v in last_outcome(repo).items() if k in graph.stages}
    if flags().get("json"):
        emit_json(draw.as_dict(graph, marks))
    elif fmt == "mermaid":
        click.echo(draw.mermaid(graph, marks))
    elif fmt == "dot":
        click.echo(draw.dot(graph, marks))
    else:
        click.echo(draw.text(graph, marks) or "(no stages)")
