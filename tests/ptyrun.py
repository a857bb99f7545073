"""Run art with stderr on a pseudo-terminal (as a person at a terminal sees it), stdout on a pipe."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios

ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_pty(cwd, *args: str, env: dict | None = None, timeout: float = 300) -> tuple[int, str, str]:
    """Run ``python -m artvc ARGS`` in ``cwd`` with stderr on a pty; return (exit code, stdout, raw stderr)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    environ = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40", **(env or {})}
    environ.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "artvc", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=environ,
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                raise TimeoutError(f"art {' '.join(args)} printed nothing for {timeout} s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        out = proc.stdout.read().decode()
        code = proc.wait(timeout)
    finally:
        os.close(master)
        proc.stdout.close()
    return code, out, b"".join(chunks).decode(errors="replace")


def screens(raw: str) -> list[str]:
    """The successive lines a terminal showed: split on carriage returns and newlines, escapes removed."""
    return [s.strip() for s in re.split(r"[\r\n]+", ESC.sub("\n", raw)) if s.strip()]


def percentages(raw: str) -> list[int]:
    """Every percentage the bar drew, in order."""
    return [int(m) for m in re.findall(r"\b(\d{1,3})%", ESC.sub(" ", raw))]
