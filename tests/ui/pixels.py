"""Screenshot pixels for the browser tests, without an imaging library (the test venv has none): decode a PNG
with zlib and numpy, tell a blank image from a drawn one, and take a screenshot Chromium encodes for a fast
decode."""

from __future__ import annotations

import base64
import math
import struct
import zlib
from typing import Any

import numpy as np


def png_pixels(png: bytes) -> np.ndarray:
    """The (height, width, channels) uint8 pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium
    writes for a screenshot), every scanline filter undone."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat, header = 8, [], b""
    while at < len(png):
        (n,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + n]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat.append(data)
        at += 12 + n
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, stride + 1)
    if not raw[:, 0].any() or (raw[:, 0] == 2).all():  # all None, or all Up: one vectorised pass
        rows = raw[:, 1:] if raw[0, 0] == 0 else np.cumsum(raw[:, 1:], axis=0, dtype=np.uint8)
        return rows.reshape(height, width, bpp)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(height):
        kind, line = int(raw[y, 0]), raw[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: a running sum per channel, modulo 256
            row = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2:  # Up
            row = line + prev
        else:  # Average (3) and Paeth (4) depend on the byte just decoded: one byte at a time
            row = np.frombuffer(_unfilter_sequential(kind, line.tobytes(), prev.tobytes(), bpp), np.uint8)
        out[y] = row
        prev = row
    return out.reshape(height, width, bpp)


def _unfilter_sequential(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    assert kind in (3, 4), f"unknown PNG filter {kind}"
    row = bytearray(line)
    for i in range(len(row)):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        if kind == 3:
            row[i] = (row[i] + (a + b) // 2) & 0xFF
            continue
        c = prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return bytes(row)


def blankness(png: bytes) -> tuple[float, int]:
    """(variance of the grey level, distinct colours among every other pixel of every other row) of a PNG."""
    pixels = png_pixels(png)[:, :, :3]
    grey = pixels.sum(axis=2, dtype=np.int32)
    packed = pixels.astype(np.int32)
    colours = np.unique(((packed[:, :, 0] << 16) | (packed[:, :, 1] << 8) | packed[:, :, 2])[::2, ::2])
    return float(grey.var() / 9), len(colours)


def assert_not_blank(png: bytes) -> None:
    variance, colours = blankness(png)
    assert variance > 10 and colours > 8, f"a blank screenshot: variance {variance:.1f}, {colours} colours"


def capture(page, cdp, element=None) -> bytes:
    """A PNG screenshot of the viewport, or of ``element``, through the DevTools protocol with
    ``optimizeForSpeed``: Chromium then encodes every row with the Up filter, which numpy undoes in one pass,
    where Playwright's own screenshots use Paeth rows that take a pure-Python loop (half a second a page).
    ``png_pixels`` decodes either kind."""
    params: dict[str, Any] = {"format": "png", "optimizeForSpeed": True}
    if element is not None:
        element.scroll_into_view_if_needed()
        box = element.bounding_box()
        x, y = page.evaluate("[window.scrollX, window.scrollY]")  # the clip is in page coordinates
        left, top = math.floor(box["x"] + x), math.floor(box["y"] + y)  # whole pixels around the element
        right, bottom = math.ceil(box["x"] + x + box["width"]), math.ceil(box["y"] + y + box["height"])
        params["clip"] = {"x": left, "y": top, "width": right - left, "height": bottom - top, "scale": 1}
    return base64.b64decode(cdp.send("Page.captureScreenshot", params)["data"])


def encode_png(pixels: np.ndarray, filters: list[int]) -> bytes:
    """An RGB PNG whose row y uses filter filters[y % len(filters)] (to check the decoder on every filter)."""
    height, width, _ = pixels.shape
    data = pixels.reshape(height, width * 3).astype(np.int64)
    rows = []
    for y in range(height):
        kind = filters[y % len(filters)]
        cur = data[y]
        up = data[y - 1] if y else np.zeros_like(cur)
        left = np.concatenate([np.zeros(3, np.int64), cur[:-3]])
        upleft = np.concatenate([np.zeros(3, np.int64), up[:-3]])
        if kind == 0:
            pred = np.zeros_like(cur)
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = up
        elif kind == 3:
            pred = (left + up) // 2
        else:
            p = left + up - upleft
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        rows.append(bytes([kind]) + ((cur - pred) % 256).astype(np.uint8).tobytes())

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    head = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + head + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
