"""Docs samples: the commands shown in README.md and docs/*.md, run for real and compared with what they print.

Markup (an HTML comment, invisible on the rendered page):

    <!-- sample: NAME -->            right before a ```console block: every `$ COMMAND` line is run, and the
                                     lines after it (up to the next `$ `) are what it must print (stdout and
                                     stderr together)
    <!-- sample: NAME -->            right before a ```bash block: the block runs as one script (`set -e`) and
                                     must exit 0 (output not compared: for steps whose output is not shown)
    <!-- sample-setup: NAME          a hidden script (up to `-->`) run where it stands, must exit 0
    cmd ...
    -->

NAME is a scenario: the blocks of one page with the same NAME run in document order in one fresh directory
(`$HOME/proj`, shown as /home/ana/proj), with a real git, the installed `art`, a fixed git identity and commit
date (so commit ids are stable), and `$ART_SRC` naming this checkout (to copy examples from). `cd` carries
over from one command to the next.

Comparison normalises only what varies from run to run: the temporary home (shown as /home/ana), durations
(`1.21 s`), times (`2026-11-25T14:03:12.511Z`, `2026-11-25 14:03`) and the ids after `run ` (run records name
their time and host). In the documented text, `<oid>` stands for any id, `<n>` any number (for results that
depend on library versions), `<size>` any size, `<tmp>` a temporary path, `<any>` any text on the line, and a
line `...` for any number of lines.

    python -m tests.docs_samples              # check every page; print the differences
    python -m tests.docs_samples --update     # rewrite the documented output from a real run
    python -m tests.docs_samples docs/cli.md  # only these pages

`--update` keeps every documented line that still matches (so placeholders and `...` survive) and writes
what art prints everywhere else.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISPLAY_HOME = "/home/ana"
GIT_DATE = "2026-11-25T14:00:00+00:00"
TIMEOUT = 300

_MARK = re.compile(r"^<!-- sample: (?P<name>[\w.-]+) -->\n```(?P<lang>console|bash)\n(?P<body>.*?)^```$", re.M | re.S)
_SETUP = re.compile(r"^<!-- sample-setup: (?P<name>[\w.-]+)\n(?P<body>.*?)^-->$", re.M | re.S)
_VARIES = (
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?\b"), "<time>"),
    (re.compile(r"\b\d+(?:\.\d+)? ?(?:s|ms)\b(?!\w)"), "<dur>"),
    (re.compile(r"\brun [0-9a-f]{10,64}\b"), "run <run>"),
)
_HOLES = {
    "<oid>": r"[0-9a-f]{6,64}",
    "<n>": r"[0-9][0-9,.]*",
    "<size>": r" *[0-9.]+ (?:B|KiB|MiB|GiB|TiB)",
    "<any>": r".*",
    "<tmp>": r"/\S+",
    "<time>": r"<time>",
    "<dur>": r"<dur>",
    "<run>": r"<run>",
}
_HOLE = re.compile("|".join(re.escape(h) for h in _HOLES))


@dataclass
class Command:
    text: str
    expected: list[str]  # documented output lines (empty for a run-only block)
    compare: bool


@dataclass
class Block:
    page: Path
    name: str
    start: int  # offset of the body in the page text
    end: int
    commands: list[Command]
    compare: bool
    hidden: bool = False
    actual: list[list[str]] = field(default_factory=list)


@dataclass
class Mismatch:
    page: str
    scenario: str
    command: str
    expected: list[str]
    actual: list[str]

    def __str__(self) -> str:
        exp = "\n".join(f"    {ln}" for ln in self.expected) or "    (nothing)"
        act = "\n".join(f"    {ln}" for ln in self.actual) or "    (nothing)"
        return f"{self.page} [{self.scenario}] $ {self.command}\n  documented:\n{exp}\n  printed:\n{act}"


def pages(selected: list[str] | None = None) -> list[Path]:
    """Every markdown page that holds a sample (or just ``selected``)."""
    if selected:
        return [Path(p).resolve() for p in selected]
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in found if "<!-- sample" in p.read_text()]


def parse(page: Path) -> list[Block]:
    """The sample blocks of ``page`` in document order."""
    text = page.read_text()
    blocks = []
    for m in _MARK.finditer(text):
        compare = m["lang"] == "console"
        commands = _console(m["body"]) if compare else _script(m["body"], compare=False)
        blocks.append(Block(page, m["name"], m.start("body"), m.end("body"), commands, compare))
    for m in _SETUP.finditer(text):
        commands = _script(m["body"], compare=False)
        blocks.append(Block(page, m["name"], m.start("body"), m.end("body"), commands, False, hidden=True))
    marks = text.count("<!-- sample: ") + text.count("<!-- sample-setup: ")
    if marks != len(blocks):  # a mark not right before a console/bash block, or a setup without its '-->'
        raise ValueError(f"{page}: {marks} sample marks but {len(blocks)} sample blocks")
    return sorted(blocks, key=lambda b: b.start)


def _console(body: str) -> list[Command]:
    commands: list[Command] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append(Command(line[2:], [], True))
        elif commands:
            commands[-1].expected.append(line.rstrip())
        elif line.strip():
            raise ValueError(f"output before the first '$ ' line: {line!r}")
    return commands


def _script(body: str, *, compare: bool) -> list[Command]:
    """A whole block as one bash script that stops at the first failing command."""
    return [Command("set -e\n" + body, [], compare)]


class Scenario:
    """A fresh home and project directory where one scenario's commands run, one shell each."""

    def __init__(self, base: Path) -> None:
        self.home = base / "home"
        self.cwd = self.home / "proj"
        self.cwd.mkdir(parents=True)
        (self.home / ".gitconfig").write_text(
            "[init]\n\tdefaultBranch = main\n[user]\n\tname = ana\n\temail = ana@example.com\n"
            "[advice]\n\tdetachedHead = false\n"
        )
        self.pwd_file = base / "pwd"
        self.rc = 0
        bindir = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ART_", "GIT_", "PYTEST_"))}
        env.update(
            HOME=str(self.home),
            PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
            ART_SRC=str(ROOT),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_DATE=GIT_DATE,
            GIT_COMMITTER_DATE=GIT_DATE,
            PYTHONUNBUFFERED="1",
            COLUMNS="100",
            NO_COLOR="1",
            TERM="dumb",
            LC_ALL="C.UTF-8",
            TZ="UTC",
            USER="ana",
            LOGNAME="ana",
        )
        env.pop("VIRTUAL_ENV", None)
        self.env = env

    def run(self, command: str, *, check: bool) -> list[str]:
        # $? starts as the exit status of the previous command, so a documented `echo $?` works
        script = f'(exit {self.rc})\n{command}\n__rc=$?; pwd > "{self.pwd_file}"; exit $__rc\n'
        proc = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
        )
        self.rc = proc.returncode
        if self.pwd_file.exists():
            self.cwd = Path(self.pwd_file.read_text().strip())
        out = proc.stdout
        for real in {str(self.home.resolve()), str(self.home)}:
            out = out.replace(real, DISPLAY_HOME)
        lines = [ln.rstrip() for ln in out.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        if check and proc.returncode != 0:
            shown = "\n".join(lines)
            raise RuntimeError(f"$ {command}\nexited {proc.returncode}:\n{shown}")
        return lines


def _varies(line: str) -> str:
    for rx, sub in _VARIES:
        line = rx.sub(sub, line)
    return line


@functools.lru_cache(maxsize=4096)
def _pattern(doc_line: str) -> re.Pattern:
    parts, pos = [], 0
    doc_line = _varies(doc_line)
    for m in _HOLE.finditer(doc_line):
        parts += [re.escape(doc_line[pos : m.start()]), _HOLES[m.group()]]
        pos = m.end()
    parts.append(re.escape(doc_line[pos:]))
    return re.compile("".join(parts))


def line_matches(doc_line: str, actual: str) -> bool:
    return doc_line != "..." and _pattern(doc_line).fullmatch(_varies(actual)) is not None


def matches(expected: list[str], actual: list[str]) -> bool:
    """True when ``actual`` is what ``expected`` documents (placeholders, ``...`` lines, varying parts)."""

    @functools.cache
    def at(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i] == "...":
            return any(at(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and line_matches(expected[i], actual[j]) and at(i + 1, j + 1)

    return at(0, 0)


def merged(expected: list[str], actual: list[str]) -> list[str]:
    """What ``--update`` writes: documented lines that still match their printed line, printed lines elsewhere."""
    if matches(expected, actual):
        return expected
    out, j = [], 0

    def keep_dots(upto: int) -> None:  # a documented '...' passed over stays (it may match no line)
        if "..." in expected[j:upto] and out[-1:] != ["..."]:
            out.append("...")

    for i, line in enumerate(actual):
        hit = next((k for k in range(j, min(j + 8, len(expected))) if line_matches(expected[k], line)), None)
        if hit is not None:
            keep_dots(hit)
            out.append(expected[hit])
            j = hit + 1
        elif j < len(expected) and expected[j] == "..." and _resumes(expected, j + 1, actual[i + 1 :]):
            keep_dots(j + 1)  # absorbed by the documented '...': what follows it is still printed later
        else:
            out.append(line)
    keep_dots(len(expected))
    return out


def scenarios(page: Path) -> list[str]:
    """The scenario names of ``page``, in order of first appearance."""
    return list(dict.fromkeys(b.name for b in parse(page)))


def _resumes(expected: list[str], k: int, rest: list[str]) -> bool:
    """True when the documented line after a '...' (or the end) still matches one of the ``rest`` lines."""
    return k >= len(expected) or any(line_matches(expected[k], line) for line in rest)


def run_page(page: Path, base: Path, only: str | None = None) -> list[Block]:
    """Run every scenario of ``page`` (or just ``only``), each in its own directory under ``base``; fill each
    block's output."""
    blocks = [b for b in parse(page) if only is None or b.name == only]
    scenarios: dict[str, Scenario] = {}
    for block in blocks:
        if block.name not in scenarios:
            (base / block.name).mkdir(parents=True)
            scenarios[block.name] = Scenario(base / block.name)
        sc = scenarios[block.name]
        block.actual = [sc.run(c.text, check=not block.compare) for c in block.commands]
    return blocks


def mismatches(blocks: list[Block]) -> list[Mismatch]:
    found = []
    for b in blocks:
        if not b.compare:
            continue
        for c, actual in zip(b.commands, b.actual, strict=True):
            if not matches(c.expected, actual):
                found.append(Mismatch(_rel(b.page), b.name, c.text, c.expected, actual))
    return found


def update(page: Path, blocks: list[Block]) -> bool:
    """Rewrite the documented output of ``page`` from ``blocks``' run; True when the page changed."""
    text = page.read_text()
    new, pos = [], 0
    for b in blocks:
        if not b.compare:
            continue
        body = []
        for c, actual in zip(b.commands, b.actual, strict=True):
            body += [f"$ {c.text}", *merged(c.expected, actual)]
        new += [text[pos : b.start], "\n".join(body) + "\n"]
        pos = b.end
    new.append(text[pos:])
    result = "".join(new)
    if result != text:
        page.write_text(result)
    return result != text


def _rel(page: Path) -> str:
    try:
        return str(page.relative_to(ROOT))
    except ValueError:
        return str(page)


def main(argv: list[str]) -> int:
    do_update = "--update" in argv
    selected = [a for a in argv if a != "--update"]
    failed = 0
    for page in pages(selected):
        with tempfile.TemporaryDirectory(prefix="art-docs-") as tmp:
            blocks = run_page(page, Path(tmp))
        if do_update:
            print(f"{_rel(page)}: {'updated' if update(page, blocks) else 'unchanged'}")
            continue
        found = mismatches(blocks)
        failed += len(found)
        for m in found:
            print(m, end="\n\n")
        print(f"{_rel(page)}: {'ok' if not found else f'{len(found)} differ'}")
    return 1 if failed else 0


if __name__ == "__main__":
    shutil.which("git") or sys.exit("docs samples need git")
    sys.exit(main(sys.argv[1:]))
