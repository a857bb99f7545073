"""Content-defined chunking (FastCDC 2020 through the compiled pyfastcdc); deterministic, no I/O of its own.

The parameters are part of the store format: two stores with different parameters still interoperate
(ids are content hashes), they just deduplicate less against each other. They are recorded in the store's
config so a store keeps its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

KIB = 1024


class ChunkerParams(NamedTuple):
    """FastCDC bounds. pyfastcdc's mean chunk is about ``avg + min`` (cut-point skipping)."""

    min_size: int = 16 * KIB
    avg_size: int = 64 * KIB
    max_size: int = 256 * KIB

    def as_dict(self) -> dict[str, int]:
        return {"min_size": self.min_size, "avg_size": self.avg_size, "max_size": self.max_size}


DEFAULT_PARAMS = ChunkerParams()


class Chunker:
    """Split streams into content-defined chunks. Not thread-safe: one per thread."""

    def __init__(self, params: ChunkerParams = DEFAULT_PARAMS) -> None:
        from pyfastcdc import FastCDC  # compiled; loaded only by commands that chunk

        self.params = params
        self._cdc = FastCDC(params.avg_size, min_size=params.min_size, max_size=params.max_size)

    def chunks(self, stream: BinaryIO) -> Iterator[memoryview]:
        """Yield each chunk's bytes; a view is valid only until the next one is produced."""
        for chunk in self._cdc.cut_stream(stream):
            yield chunk.data

    def cut(self, buf: bytes | bytearray | memoryview, *, final: bool) -> list[int]:
        """The lengths of the chunks ``chunks`` would cut from a stream whose unchunked rest starts with ``buf``.

        A chunk is cut only when at least ``max_size`` bytes follow its start (or ``final``: ``buf`` runs to the
        end of the stream): ``cut_stream`` reads ahead exactly that far, so the boundaries are the same, and the
        bytes after the last cut are the caller's to carry into the next buffer.
        """
        limit = len(buf) - self.params.max_size  # a chunk starting past here could end elsewhere with more data
        out: list[int] = []
        for chunk in self._cdc.cut_buf(buf):
            if not final and chunk.offset > limit:
                break
            out.append(chunk.length)
        return out

    def split(self, data: bytes | memoryview) -> list[bytes]:
        """Split an in-memory buffer (tests, small inputs)."""
        return [bytes(c.data) for c in self._cdc.cut_buf(data)]
