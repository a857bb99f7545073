"""art import-url: a bucket object or an outside file, tracked by content with its source (issue 13)."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.builders import random_bytes
from tests.remote.conftest import add_remote, assert_error


def jrun(w, *args: str) -> dict:
    return json.loads(w.art(*args, "--json").stdout)


def imports(w) -> list[tuple[str, str]]:
    return [(i["path"], i["state"]) for i in jrun(w, "status")["imports"]]


@pytest.mark.long
def test_import_url_from_a_bucket_status_and_update(ws, s3_server, tmp_path):
    from tests.bucket_fixtures import _object_bucket, bucket_name

    bucket = _object_bucket(s3_server, bucket_name("import-url"))
    add_remote(ws, bucket.url, dict(bucket.storage_options))  # its endpoint is how the bucket is reached
    first = random_bytes(50_000, 1)
    bucket.fs.pipe(bucket.join("raw", "events.csv"), first)
    url = bucket.url.rsplit("/", 1)[0] + "/" + bucket.join("raw", "events.csv").split("/", 1)[1]
    got = jrun(ws, "import-url", url, "events.csv")
    assert got["import"]["url"] == url and got["size"] == len(first)
    assert (ws.root / "events.csv").read_bytes() == first
    assert "[source]" in (ws.root / "events.csv.art").read_text()
    assert imports(ws) == [("events.csv", "up-to-date")]
    assert jrun(ws, "status")["artifacts"][0]["state"] == "unchanged"

    time.sleep(1.1)  # the storage's modification time has one-second resolution
    second = random_bytes(60_000, 2)
    bucket.fs.pipe(bucket.join("raw", "events.csv"), second)
    assert imports(ws) == [("events.csv", "behind")]
    done = jrun(ws, "update", "events.csv")["updated"][0]
    assert done["changed"] is True
    assert (ws.root / "events.csv").read_bytes() == second
    assert imports(ws) == [("events.csv", "up-to-date")]
    assert jrun(ws, "update", "events.csv")["updated"][0]["changed"] is False


def test_import_url_of_a_file_and_bad_input(ws, tmp_path):
    outside = tmp_path / "share" / "labels.json"
    outside.parent.mkdir()
    outside.write_text('{"a": 1}\n')
    ws.art("import-url", str(outside))
    assert (ws.root / "labels.json").read_text() == '{"a": 1}\n'
    r = ws.art("import-url", str(outside), code=None)
    assert_error(r, 1, "already exists")
    r = ws.art("import-url", str(tmp_path / "share" / "nope.json"), "nope.json", code=None)
    assert_error(r, 1, "there is no object at")
    assert not (ws.root / "nope.json").exists() and not (ws.root / "nope.json.art").exists()
    st = os.stat(outside)
    outside.write_text('{"a": 2}\n')
    os.utime(outside, (st.st_atime, st.st_mtime + 5))
    assert imports(ws) == [("labels.json", "behind")]
    ws.art("update")
    assert (ws.root / "labels.json").read_text() == '{"a": 2}\n'
