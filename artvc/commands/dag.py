"""``art dag``."""

import click

from ._options import common, flags, pass_repo
from ._render import emit_json


@click.command("dag")
@click.argument("target", required=False)
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
def cli(repo, target: str | None, fmt: str | None, mark: str | None) -> None:
    """Draw the pipeline's stage graph (art.toml), or with TARGET (MODULE:PIPELINE) the steps of a Python
    pipeline built with its default parameters.

    By default each stage is marked with the outcome of the last 'art repro' in this workspace
    (ran | cached | up-to-date | failed | not-run); each step with its status in the newest run of that
    pipeline (ran = executed, cached, failed, not-run = skipped).

    \b
    Examples:
      art dag
      art dag --status
      art dag --mermaid >> README.md
      art dag --dot | dot -Tsvg > pipeline.svg
      art dag digits:digits_pipeline
    """
    from ..pipeline import draw
    from ..pipeline.outcome import last_outcome
    from ..pipeline.repro import load_pipeline

    marks: dict[str, str]
    if target is not None:
        from ..errors import UsageError
        from ..pipeline.flow.graphview import last_marks, step_graph
        from ..pipeline.flow.target import load_target

        if mark == "status":
            raise UsageError("--status is for art.toml stages", hint="a Python pipeline shows its newest run")
        pipe = load_target(repo.root, target)
        graph = step_graph(pipe, {})
        marks = {} if mark == "none" else last_marks(repo, pipe.name)
    else:
        _, graph = load_pipeline(repo)
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
