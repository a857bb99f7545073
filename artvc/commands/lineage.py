"""``art lineage``."""

import click

from ._options import absolute, common, flags, pass_repo
from ._render import emit_json, say


@click.command("lineage")
@click.argument("path", required=False)
@click.option(
    "--used-by",
    "used_by",
    metavar="PATH",
    help="Look forward: every run that read a version of PATH, their outputs, and onwards to the final outputs.",
)
@click.option("--run", "run_ref", metavar="RUN", help="Show one run (an id or its first digits) in full.")
@click.option("--packages", is_flag=True, help="With --run: print the installed packages the run recorded.")
@common()
@pass_repo
def cli(repo, path: str | None, used_by: str | None, run_ref: str | None, packages: bool) -> None:
    """Show where an artifact comes from: the run that made it, the runs that made its inputs, down to the
    added source data — with commands, code hashes and git commits. --used-by looks the other way: what was
    made from a path. --run shows one run record. PATH may also
    name an artifact of a Python pipeline (PIPELINE/STEP/OUTPUT, its newest version).

    \b
    Examples:
      art lineage metrics.json
      art lineage models/model.pkl --json
      art lineage digits_pipeline/evaluator/output
      art lineage --used-by data/raw          # every run and output made from any version of data/raw
      art lineage --run 91354936e2            # one run: code, params, inputs, outputs, env, git
      art lineage --run 91354936e2 --packages # the installed packages it ran with
    """
    from ..errors import UsageError

    if sum(x is not None for x in (path, used_by, run_ref)) != 1:
        raise UsageError("give one of PATH, --used-by PATH or --run RUN", hint="art lineage PATH")
    if packages and run_ref is None:
        raise UsageError("--packages goes with --run RUN", hint="art lineage --run RUN --packages")
    if used_by is not None:
        _used_by(repo, used_by)
    elif run_ref is not None:
        _run(repo, run_ref, packages)
    elif path is not None:
        _lineage(repo, path)


def _lineage(repo, path: str) -> None:
    from ..pipeline.lineage import artifact_lineage, lineage
    from ..workspace.tracked import select

    source = None
    if repo.state.artifact_versions(path):  # an artifact of a Python pipeline: PIPELINE/STEP/OUTPUT
        node = artifact_lineage(repo, path)
    else:
        node = lineage(repo, absolute([path])[0])
        source = next((a.pointer.source for a in select(repo, absolute([path])) if a.pointer.source), None)
    if flags().get("json"):
        emit_json({**node.as_dict(), **({"import": source.as_dict()} if source else {})})
        return
    for line in _lines(node, "", None):
        say(line)
    if source:
        say(f"    imported from {source.describe()}")


def _describe(run) -> str:
    git = run.get("git") or {}
    commit = (git.get("commit") or "no commit")[:10] + (" (dirty)" if git.get("dirty") else "")
    when = run.get("started", "?")
    if run.get("kind") == "add":
        return f"added by {run.get('user', '?')} at {when}, git {commit}, run {run.oid[:10]}"
    what = run.get("cmd") or f"call {run.get('call')}"
    kind = f"step {run.get('pipeline')}/" if run.get("kind") == "step" else "stage "
    return (
        f"{kind}{run.get('stage')}: {what}\n    run {run.oid[:10]}, code {str(run.get('code_hash'))[:10]}, "
        f"git {commit}, {when}, {run.get('duration', 0)} s"
    )


def _lines(node, prefix: str, last: bool | None):
    connector = "" if last is None else ("└── " if last else "├── ")
    inner = prefix if last is None else prefix + ("    " if last else "│   ")
    head = f"{prefix}{connector}{node.path}  {(node.oid or 'missing')[:10]}"
    if node.run is None and node.missing_run:
        short = node.missing_run[:10]
        yield head + f"  (made by run {short}, not in the local store: art fetch --run {short})"
    elif node.run is None:
        yield head + "  (source: not produced by a recorded run)"
    elif node.seen:
        yield head + f"  (run {node.run.oid[:10]}, see above)"
    else:
        yield head
        bar = "│   " if node.inputs else "    "
        for i, text in enumerate(_describe(node.run).splitlines()):
            yield f"{inner}{bar}{'  ' if i else ''}{text.strip()}"
    for i, child in enumerate(node.inputs):
        yield from _lines(child, inner, i == len(node.inputs) - 1)


def _used_by(repo, path: str) -> None:
    from ..pipeline.usedby import used_by

    tree = used_by(repo, absolute([path])[0])
    if flags().get("json"):
        emit_json(tree.as_dict())
        return
    say(tree.path)
    if not tree.used_by:
        say("    (no recorded run read it)")
    for i, node in enumerate(tree.used_by):
        for line in _run_lines(node, tree.path, "", i == len(tree.used_by) - 1):
            say(line)


def _run_lines(node, parent: str, prefix: str, last: bool):
    run = node.run
    read = ", ".join((f"{p} " if p != parent else "") + ((o or "")[:10] or "no id") for p, o in node.read)
    what = f"stage {run.get('stage')}" if run.get("stage") else f"{run.get('kind', '?')} run"
    tail = "  (see above)" if node.seen else ""
    branch = "└── " if last else "├── "
    yield f"{prefix}{branch}run {run.oid[:10]}  {what}  (read {read}, {run.get('started', '?')}){tail}"
    inner = prefix + ("    " if last else "│   ")
    for i, out in enumerate(node.outputs):
        end = i == len(node.outputs) - 1
        mark = "  (current)" if out.current else ""
        yield f"{inner}{'└── ' if end else '├── '}{out.path}  {out.oid[:10]}{mark}"
        for j, child in enumerate(out.used_by):
            yield from _run_lines(child, out.path, inner + ("    " if end else "│   "), j == len(out.used_by) - 1)


def _run(repo, ref: str, packages: bool) -> None:
    from ..pipeline.lineage import summarize
    from ..workspace.runs import find_run, run_packages

    run = find_run(repo, ref)
    if packages:
        text = run_packages(repo, run)
        if flags().get("json"):
            rows = [line.partition("==") for line in text.splitlines() if line.strip()]
            emit_json(
                {
                    "run_oid": run.oid,
                    "packages_oid": run.get("packages"),
                    "packages": [{"name": n, "version": v or None} for n, _, v in rows],
                }
            )
        else:
            click.echo(text, nl=not text.endswith("\n"))
        return
    if flags().get("json"):
        emit_json(
            {
                **summarize(run),
                "inputs": [
                    {"path": i.get("path"), "oid": i.get("oid"), "kind": i.get("kind"), "run_oid": i.get("run")}
                    for i in run.get("inputs", [])
                ],
                "outputs": run.get("outputs", []),
            }
        )
        return
    for line in _run_text(repo, run):
        say(line)


def _run_text(repo, run):
    from ..errors import ArtError
    from ._render import human

    def row(label: str, text: str) -> str:
        return f"  {label:<9} {text}"

    yield f"run {run.oid}"
    if run.get("kind") == "stage":
        yield row("stage", str(run.get("stage")))
    else:
        yield row("kind", str(run.get("kind", "?")))
    if run.get("cmd") or run.get("call"):
        yield row("command", run.get("cmd") or f"call {run.get('call')}")
    if run.get("code_hash"):
        yield row("code", str(run.get("code_hash")))
        for p, oid in sorted((run.get("code") or {}).items()):
            yield row("", f"  {p}  {str(oid)[:10]}")
    for i, (key, value) in enumerate(sorted((run.get("params") or {}).items())):
        yield row("params" if i == 0 else "", f"{key} = {value}")
    for i, inp in enumerate(run.get("inputs", [])):
        made = f"run {inp['run'][:10]}" if inp.get("run") else "not made by a recorded run"
        yield row("inputs" if i == 0 else "", f"{inp['path']}  {(inp.get('oid') or 'missing')[:10]}  ({made})")
    for i, out in enumerate(run.get("outputs", [])):
        yield row("outputs" if i == 0 else "", f"{out['path']}  {out['oid'][:10]}  {out['kind']}, {human(out['size'])}")
    if run.get("run_key"):
        yield row("run key", str(run.get("run_key")))
    timing = [str(run.get("started", "?"))]
    if run.get("duration") is not None:
        timing.append(f"{run.get('duration')} s")
    if run.get("exit_status") is not None:
        timing.append(f"exit status {run.get('exit_status')}")
    yield row("started", ", ".join(timing))
    git = run.get("git") or {}
    yield row("git", (git.get("commit") or "no commit") + (" (dirty)" if git.get("dirty") else ""))
    env = [f"{run.get('user', '?')}@{run.get('host', '?')}", str(run.get("platform", "?"))]
    env += [f"python {run.get('python', '?')}", f"art {run.get('art', '?')}"]
    yield row("env", ", ".join(env))
    if run.get("packages"):
        try:
            n = sum(1 for line in _packages(repo, run).splitlines() if line.strip())
            detail = f"{n} installed packages: art lineage --run {run.oid[:10]} --packages"
        except ArtError:
            detail = "the list is not in the local store ('art fetch' downloads it)"
        yield row("packages", f"{str(run.get('packages'))[:10]}  ({detail})")


def _packages(repo, run) -> str:
    from ..workspace.runs import run_packages

    return run_packages(repo, run)
