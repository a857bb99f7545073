"""Plot test data, and PNG chunks (the pixels are counted by the browser test)."""

from __future__ import annotations

import json
import random
import struct
import zlib

from tests.pipeline.helpers import PY

# a stage writing every kind of plot file; the scale comes from params.toml so a new value changes them all
WRITER = """import json, math, tomllib
k = tomllib.load(open("params.toml", "rb"))["train"]["scale"]
open("eval/loss.csv", "w").write("epoch,loss\\n" + "".join(f"{i},{k / (i + 1):.5f}\\n" for i in range(30)))
json.dump([{"fpr": i / 10, "tpr": min(1, (i / 10) ** (1 / k))} for i in range(11)], open("eval/roc.json", "w"))
open("eval/scores.tsv", "w").write("model\\tscore\\nsvc\\t%s\\ntree\\t%s\\n" % (k, k * 2))
labels = "cat dog bird".split()
rows = [(labels[i % 3], labels[(i * int(k)) % 3]) for i in range(60)]
open("eval/classes.csv", "w").write("actual,predicted\\n" + "".join(f"{a},{p}\\n" for a, p in rows))
"""

PIPELINE = f"""
[stages.evaluate]
cmd = "{PY} writer.py"
deps = ["writer.py"]
params = ["train.scale"]
plots = [
    {{path = "eval/loss.csv", x = "epoch", y = "loss", title = "Loss"}},
    {{path = "eval/roc.json", x = "fpr", y = "tpr", template = "scatter"}},
    {{path = "eval/scores.tsv", template = "bar"}},
    {{path = "eval/classes.csv", template = "confusion", x = "actual", y = "predicted"}},
    "eval/chart.png",
]
"""

SVG_IMAGE = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="15" '
    b'fill="#d62728"/></svg>'
)


def png_image(width: int = 32, height: int = 24, seed: int = 1) -> bytes:
    """A small RGB PNG of random pixels."""
    rnd = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(rnd.randrange(256) for _ in range(width * 3)) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def plot_workspace(ws, scale: float = 1.0) -> None:
    """The plotting pipeline with its params (the PNG image is written by the stage's writer too)."""
    writer = WRITER + f"open('eval/chart.png', 'wb').write({png_image()!r})\n"
    ws.gen({"writer.py": writer, "params.toml": f"[train]\nscale = {scale}\n", "art.toml": PIPELINE, "eval": {}})


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    out, at = [], 8
    while at < len(png):
        (n,) = struct.unpack(">I", png[at : at + 4])
        out.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + n]))
        at += 12 + n
    return out


def size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    width, height = struct.unpack(">II", chunks(png)[0][1][:8])
    return width, height


def records(n: int) -> str:
    return json.dumps([{"x": i, "y": i * i} for i in range(n)])
