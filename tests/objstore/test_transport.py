"""The transport layer: the retry wrapper retries transient failures only, with bounded jittered backoff, and a
remote store works unchanged over a transport that fails now and then (a test transport that really fails
N times, implementing the public interface: no patching)."""

import errno
import random

import pytest

from artvc.errors import CorruptObjectError, PackMissingError, StoreIOError
from artvc.objstore.hashing import hash_bytes
from artvc.objstore.objects import Kind
from artvc.objstore.store.remote import RemoteStore, pack_path
from artvc.objstore.store.transport import RetryTransport, TransientStoreError
from artvc.objstore.store.transport_fsspec import is_transient, open_transport
from artvc.objstore.store.transport_local import DirTransport


class FlakyTransport(DirTransport):
    """A directory transport whose next ``failures[op]`` calls of ``op`` fail with ``error`` before doing
    anything; ``calls[op]`` counts every call."""

    def __init__(self, root, *, error=None, **failures):
        super().__init__(str(root), name="flaky")
        self.error = error or (lambda op: TransientStoreError(f"remote 'flaky' failed while {op}: reset"))
        self.failures = dict(failures)
        self.calls: dict[str, int] = {}

    def _fail(self, op):
        self.calls[op] = self.calls.get(op, 0) + 1
        if self.failures.get(op, 0) > 0:
            self.failures[op] -= 1
            raise self.error(op)

    def list(self, folder):
        self._fail("list")
        return super().list(folder)

    def read(self, path, start=0, end=None):
        self._fail("read")
        return super().read(path, start, end)

    def publish_bytes(self, path, data):
        self._fail("publish_bytes")
        super().publish_bytes(path, data)

    def publish_file(self, path, local, *, movable=False):
        self._fail("publish_file")
        super().publish_file(path, local, movable=movable)

    def delete(self, path):
        self._fail("delete")
        super().delete(path)


def retrying(inner, sleeps, attempts=3):
    return RetryTransport(inner, attempts=attempts, base=0.25, max_delay=4.0, sleep=sleeps.append, rng=random.Random(7))


def test_transient_failures_are_retried_with_growing_jittered_waits(tmp_path):
    flaky = FlakyTransport(tmp_path, read=2)
    flaky.publish_bytes("a/b.bin", b"payload")
    sleeps: list[float] = []
    t = retrying(flaky, sleeps)
    assert t.read("a/b.bin", 2, 5) == b"ylo"
    assert flaky.calls["read"] == 3 and t.retries == 2
    assert len(sleeps) == 2
    assert 0.125 <= sleeps[0] < 0.25 and 0.25 <= sleeps[1] < 0.5  # base * 2**(n-1) * [0.5, 1)


def test_retries_are_bounded(tmp_path):
    flaky = FlakyTransport(tmp_path, publish_bytes=5)
    sleeps: list[float] = []
    with pytest.raises(TransientStoreError, match="failed while"):
        retrying(flaky, sleeps, attempts=3).publish_bytes("x", b"1")
    assert flaky.calls["publish_bytes"] == 3 and len(sleeps) == 2
    assert not (tmp_path / "x").exists()


def test_waits_are_capped(tmp_path):
    t = RetryTransport(FlakyTransport(tmp_path), base=1.0, max_delay=3.0, rng=random.Random(1))
    assert all(t.delay(n) <= 3.0 for n in range(1, 20))
    assert 1.0 <= t.delay(2) < 2.0


def test_missing_files_and_permission_errors_are_not_retried(tmp_path):
    sleeps: list[float] = []
    flaky = FlakyTransport(tmp_path)
    t = retrying(flaky, sleeps)
    with pytest.raises(FileNotFoundError):
        t.read("nothing/here")
    assert flaky.calls["read"] == 1

    denied = FlakyTransport(
        tmp_path, list=1, error=lambda op: StoreIOError(f"remote 'flaky': permission denied while {op}")
    )
    with pytest.raises(StoreIOError, match="permission denied") as caught:
        retrying(denied, sleeps).list("index")
    assert not isinstance(caught.value, TransientStoreError)
    assert denied.calls["list"] == 1 and sleeps == []


def test_a_remote_store_over_a_flaky_transport_publishes_and_reads_everything(tmp_path):
    flaky = FlakyTransport(tmp_path / "remote", publish_file=1, publish_bytes=1, read=1, list=1)
    store = RemoteStore(retrying(flaky, []), name="flaky")
    blobs = [bytes([i]) * (1000 + i) for i in range(20)]
    with store.writer(jobs=1) as writer:
        for b in blobs:
            writer.put(hash_bytes(b), Kind.CHUNK, b)
    again = RemoteStore(retrying(FlakyTransport(tmp_path / "remote", list=2, read=2), []), name="flaky")
    assert [again.get(hash_bytes(b), Kind.CHUNK) for b in blobs] == blobs


def test_a_hash_mismatch_is_not_retried(tmp_path):
    flaky = FlakyTransport(tmp_path / "remote")
    store = RemoteStore(retrying(flaky, []), name="flaky")
    data = b"x" * 5000
    with store.writer(jobs=1) as writer:
        writer.put(hash_bytes(data), Kind.CHUNK, data)
    (pack,) = store.packs
    path = tmp_path / "remote" / pack_path(pack)
    raw = bytearray(path.read_bytes())
    entry = store.packs[pack][0]
    raw[entry.offset + 10] ^= 0xFF
    path.write_bytes(bytes(raw))
    reads = flaky.calls.get("read", 0)
    with pytest.raises(CorruptObjectError):
        store.get(hash_bytes(data), Kind.CHUNK)
    assert flaky.calls["read"] == reads + 1


def test_a_missing_pack_is_reported_not_retried(tmp_path):
    flaky = FlakyTransport(tmp_path / "remote")
    store = RemoteStore(retrying(flaky, []), name="flaky")
    with store.writer(jobs=1) as writer:
        writer.put(hash_bytes(b"abc"), Kind.CHUNK, b"abc")
    (pack,) = store.packs
    (tmp_path / "remote" / pack_path(pack)).unlink()
    before = flaky.calls.get("read", 0)
    with pytest.raises(PackMissingError):
        store.get(hash_bytes(b"abc"), Kind.CHUNK)
    assert flaky.calls["read"] == before + 1


def test_open_transport_picks_the_implementation_by_url(tmp_path):
    assert isinstance(open_transport(str(tmp_path)).inner, DirTransport)
    assert isinstance(open_transport(f"file://{tmp_path}").inner, DirTransport)
    memory = open_transport("memory://art-transport-test/root")
    memory.publish_bytes("index/x.idx", b"1")
    assert [(e.name, e.size) for e in memory.list("index")] == [("x.idx", 1)]
    memory.delete("index/x.idx")
    assert memory.list("index") == []


def _client_error(status, code):
    from botocore.exceptions import ClientError

    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PutObject")


def test_failures_are_sorted_into_transient_and_final():
    assert is_transient(ConnectionResetError(errno.ECONNRESET, "reset"))
    assert is_transient(TimeoutError("timed out"))
    assert is_transient(_client_error(503, "SlowDown"))
    assert is_transient(_client_error(500, "InternalError"))
    assert not is_transient(_client_error(403, "AccessDenied"))
    assert not is_transient(_client_error(404, "NoSuchKey"))
    assert not is_transient(FileNotFoundError("gone"))
    assert not is_transient(PermissionError("denied"))
    assert not is_transient(OSError(errno.EIO, "damaged"))
    try:  # s3fs turns unknown ClientErrors into OSError(EIO) raised from them: the cause decides
        raise OSError(errno.EIO, "server error") from _client_error(502, "BadGateway")
    except OSError as exc:
        assert is_transient(exc)
    from botocore.exceptions import NoCredentialsError

    assert not is_transient(NoCredentialsError())


@pytest.mark.parametrize("where", ["same", "tmpfs"])
def test_a_published_file_is_an_independent_copy(tmp_path, where):
    import os
    import tempfile

    src_dir = tmp_path if where == "same" else tempfile.mkdtemp(prefix="art-shm-", dir="/dev/shm")  # two filesystems
    local = os.path.join(src_dir, "local.pack")
    data = random.Random(3).randbytes((9 << 20) + 123)  # not a multiple of any copy step
    with open(local, "wb") as f:
        f.write(data)
    try:
        t = DirTransport(str(tmp_path / "remote"), name="r")
        t.publish_file("packs/ab/x.pack", local)
        published = tmp_path / "remote" / "packs" / "ab" / "x.pack"
        assert published.read_bytes() == data
        assert os.stat(local).st_nlink == 1 and published.stat().st_ino != os.stat(local).st_ino
        with open(published, "r+b") as f:
            f.write(b"\0" * 16)
        with open(local, "rb") as f:
            assert f.read() == data
        assert os.listdir(tmp_path / "remote" / "tmp") == []
    finally:
        if where == "tmpfs":
            import shutil

            shutil.rmtree(src_dir)
