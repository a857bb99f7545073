"""``art plots show | diff``."""

import click

from ._errors import SuggestingGroup
from ._options import common, flags, pass_repo
from ._render import count, emit_json, say

DEFAULT_OUTPUT = "plots.html"


def _outputs(f):
    options = [
        click.option(
            "-o",
            "--output",
            default=DEFAULT_OUTPUT,
            show_default=True,
            metavar="FILE",
            help="Where to write the HTML page (inside the workspace); '-' prints it on stdout.",
        ),
        click.option(
            "--png", "png_dir", metavar="DIR", help="Also render each chart to DIR/NAME.png (needs Chromium)."
        ),
        click.option(
            "-t",
            "--template",
            type=click.Choice(["line", "scatter", "bar", "confusion"]),
            help="Draw the named TARGETS with this template.",
        ),
        click.option("-x", "x", metavar="FIELD", help="The x field of the named TARGETS."),
        click.option("-y", "y", metavar="FIELD", multiple=True, help="A y field of the named TARGETS (repeatable)."),
        click.option("-f", "--force", is_flag=True, help="Replace output files that art did not write."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.group("plots", cls=SuggestingGroup)
def cli() -> None:
    """Draw the plots the stages declare (or any CSV/TSV/JSON/image file) into one HTML page.

    The page is self-contained: charts are inline SVG, images are embedded, nothing is fetched when it is
    opened. 'show' draws the workspace; 'diff' overlays revisions.

    \b
    Examples:
      art plots show                       # every declared plot, into plots.html
      art plots show eval/loss.csv -x epoch -y loss -y val_loss
      art plots diff                       # HEAD against the workspace
      art plots diff main exp-1 -o cmp.html --png charts
    """


@cli.command("show")
@click.argument("targets", nargs=-1)
@_outputs
@common()
@pass_repo
def show(repo, targets, output, png_dir, template, x, y, force) -> None:
    """Draw the plots of the workspace (all declared ones, or TARGETS).

    \b
    Examples:
      art plots show
      art plots show eval/roc.csv --template scatter -o roc.html
    """
    _run(repo, [None], targets, output, png_dir, {"template": template, "x": x, "y": list(y)}, force)


@cli.command("diff")
@click.argument("revisions", nargs=-1)
@click.option("--target", "targets", multiple=True, metavar="PATH", help="Draw only this plot file (repeatable).")
@_outputs
@common()
@pass_repo
def diff(repo, revisions, targets, output, png_dir, template, x, y, force) -> None:
    """Overlay the plots of git revisions: none given, HEAD against the workspace; one, that revision
    against the workspace; several, those revisions.

    A revision's data is the output recorded in its art.lock, read from the local store ('art fetch'
    gets what is missing), or the file itself when git tracks it.

    \b
    Examples:
      art plots diff
      art plots diff HEAD~1
      art plots diff v1 v2 v3 --target eval/loss.csv
    """
    revs: list = list(revisions) if len(revisions) > 1 else [revisions[0] if revisions else "HEAD", None]
    _run(repo, revs, targets, output, png_dir, {"template": template, "x": x, "y": list(y)}, force)


def _run(repo, revisions, targets, output, png_dir, override, force) -> None:
    import os
    from pathlib import Path

    from ..errors import UsageError
    from ..pipeline.plotscollect import gather
    from ..pipeline.plotsexport import check_html, place, write_html, write_pngs
    from ..pipeline.plotsrender import render_html

    as_json = flags().get("json")
    if output == "-" and as_json:
        raise UsageError("-o - prints the page on stdout, which --json needs", hint="name a file with -o")
    cwd = Path(os.getcwd())
    dest = None if output == "-" else place(repo, output, cwd=cwd)
    folder = place(repo, png_dir, cwd=cwd) if png_dir else None
    plots, labels = gather(repo, revisions, targets, cwd=cwd, override=override)
    html = render_html(plots, labels)
    if dest is not None:
        check_html(dest, force=force)  # refuse before writing any PNG
    pngs = write_pngs(repo, plots, labels, folder, force=force) if folder is not None else []
    if dest is None:
        click.echo(html, nl=False)
    else:
        write_html(repo, dest, html, force=force)
    if as_json:
        emit_json(
            {
                "html": str(dest) if dest else None,
                "png": [str(p) for p in pngs],
                "revisions": labels,
                "plots": [p.as_dict() for p in plots],
            }
        )
        return
    if dest is None:
        return
    notes = sum(len(p.notes) for p in plots)
    say(
        f"wrote {os.path.relpath(dest)}: {count(len(plots), 'plot')} of {', '.join(labels)}"
        + (f" ({count(notes, 'revision')} without data, see the page)" if notes else "")
    )
    for png in pngs:
        say(f"wrote {os.path.relpath(png)}")
