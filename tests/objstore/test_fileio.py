"""fileio.pwrite_all: every byte of one buffer or a list of them lands at its offset, whatever the kernel takes
per call, and a write that takes nothing is an error, not an endless loop."""

from __future__ import annotations

import errno
import os

import pytest

from artvc.objstore.fileio import pwrite_all


def test_a_list_of_buffers_is_written_back_to_back_at_its_offset(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"." * 10)
    fd = os.open(path, os.O_RDWR)
    try:
        pwrite_all(fd, [b"ab", bytearray(b""), memoryview(b"cdef")[1:], b"g"], 3)
        pwrite_all(fd, b"XY", 0)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"XY.abdefg."


def test_short_writes_are_continued_where_they_stopped(tmp_path, monkeypatch):
    """A kernel that takes at most 3 bytes per call (as a signal or a full pipe can make it): the next call
    starts where the last one stopped, inside a buffer or between two."""
    real, calls = os.pwritev, []

    def short(fd, buffers, at, *flags):
        calls.append([bytes(b) for b in buffers])
        first = memoryview(buffers[0])[:3]
        return real(fd, [first], at, *flags)

    monkeypatch.setattr(os, "pwritev", short)
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        pwrite_all(fd, [b"abcde", b"f", b"ghijklm"], 0)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"abcdefghijklm"
    assert calls[:3] == [[b"abcde", b"f", b"ghijklm"], [b"de", b"f", b"ghijklm"], [b"f", b"ghijklm"]]


def test_a_write_that_takes_nothing_raises_instead_of_looping(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "pwritev", lambda fd, buffers, at, *flags: calls.append(at) or 0)
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError) as raised:
            pwrite_all(fd, [b"", b"abc"], 7)
        pwrite_all(fd, [b"", bytearray()], 9)  # nothing to write: no call at all
    finally:
        os.close(fd)
    assert raised.value.errno == errno.EIO
    assert calls == [7]
