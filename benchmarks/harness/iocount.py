"""art in a child process that reports its own I/O counters (``/proc/self/io``) when it exits.

Shared by ``benchmarks/large_files.py`` and the tests that count bytes read or written (``tests/remote/``):

    subprocess.run([python, "-c", WRAP, counters_file, "pull"], ...)
    counters = read_counters(counters_file)  # {"rchar": ..., "read_bytes": ..., "write_bytes": ...}

Standard library only, so a test imports it without the benchmark harness.
"""

from __future__ import annotations

import os

# argv[1]: where to write /proc/self/io at exit; argv[2:]: the art command line
WRAP = """\
import atexit, sys
def _io(out=sys.argv[1]):
    with open("/proc/self/io") as f, open(out, "w") as g:
        g.write(f.read())
atexit.register(_io)
sys.argv = ["art", *sys.argv[2:]]
from artvc.commands import main
main()
"""


def read_counters(path: str | os.PathLike[str]) -> dict[str, int]:
    """The counters a WRAP child wrote (empty when it wrote none: it died before exiting)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    return {k: int(v) for k, v in (line.split(": ") for line in text.splitlines() if ": " in line)}
