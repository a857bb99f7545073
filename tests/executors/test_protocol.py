"""The task spec and result messages (artvc/pipeline/executors/protocol.py): what is valid round-trips
unchanged; hostile or damaged messages raise ProtocolError (never anything else, never a crash)."""

from __future__ import annotations

import copy

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artvc.objstore import codec
from artvc.pipeline.executors.protocol import (
    MAX_MESSAGE,
    ProtocolError,
    check_spec,
    decode_result,
    decode_spec,
    encode_result,
    encode_spec,
)

O1, O2 = "a" * 64, "b" * 64


def spec(**over) -> dict:
    s = {
        "v": 1,
        "art": "0.1.0",
        "session": "s1",
        "kind": "stage",
        "name": "train@lr=0.1",
        "run_key": O1,
        "code_hash": "c" * 64,
        "params": {"params.toml:train.lr": 0.1},
        "code_tree": O2,
        "code": {"src/train.py": O1},
        "argv": "python src/train.py",
        "call": None,
        "deps": [{"path": "data/raw", "oid": O1, "kind": "dir", "run": None}],
        "outs": ["model.pt"],
        "env": {"OMP_NUM_THREADS": "1"},
        "remote": {"url": "s3://bucket/store", "options": {"endpoint_url": "http://127.0.0.1:5000"}, "name": "o"},
        "git": {"commit": "f" * 40, "dirty": True, "branch": "main"},
        "resources": {"GPU": 1, "MEMORY": 16e9},
    }
    s.update(over)
    return s


def result(**over) -> dict:
    r = {
        "v": 1,
        "ok": True,
        "returncode": 0,
        "run_oid": O1,
        "cached": False,
        "outs": [{"path": "model.pt", "id": O2, "kind": "file", "size": 10, "files": 1}],
        "started": 1.5,
        "duration": 0.25,
        "host": "w1",
        "pid": 42,
        "worker": "tcp://127.0.0.1:1",
        "stderr_tail": ["x"],
        "stdout_tail": [],
        "bytes_downloaded": 7,
    }
    r.update(over)
    return r


def test_a_valid_spec_and_result_round_trip():
    s = decode_spec(encode_spec(spec()))
    assert s["deps"] == spec()["deps"] and s["outs"] == ["model.pt"] and s["resources"] == {"GPU": 1, "MEMORY": 16e9}
    assert s["remote"]["url"] == "s3://bucket/store" and s["git"]["dirty"] is True
    r = decode_result(encode_result(result()))
    assert r["run_oid"] == O1 and r["outs"][0]["id"] == O2 and r["pid"] == 42


@pytest.mark.parametrize(
    "over, field",
    [
        ({"v": 2}, "v"),
        ({"kind": "shell"}, "kind"),
        ({"session": "a/b"}, "session"),
        ({"run_key": "A" * 64}, "run_key"),
        ({"code_tree": None}, "code_tree"),
        ({"argv": None, "call": None}, "argv"),
        ({"call": "os:system; rm"}, "call"),
        ({"deps": [{"path": "../etc/passwd", "oid": O1, "kind": "file"}]}, "deps[0].path"),
        ({"deps": [{"path": "/etc/passwd", "oid": O1, "kind": "file"}]}, "deps[0].path"),
        ({"deps": [{"path": ".git/config", "oid": O1, "kind": "file"}]}, "deps[0].path"),
        ({"deps": [{"path": "a", "oid": "x", "kind": "file"}]}, "deps[0].oid"),
        ({"deps": [{"path": "a", "oid": O1, "kind": "symlink"}]}, "deps[0].kind"),
        ({"outs": ["a", "a"]}, "outs"),
        ({"outs": ["x/../../y"]}, "outs[0]"),
        ({"env": {"AWS_SECRET_ACCESS_KEY": "s"}}, "env."),
        ({"env": {"X Y": "1"}}, "env."),
        ({"remote": {"url": "s3://k:secret@bucket/x", "options": {}}}, "remote.url"),
        ({"remote": {"url": "s3://b", "options": {"secret": "s"}}}, "remote.options.secret"),
        ({"remote": {"url": "s3://b", "options": {"client_kwargs": {"aws_secret_access_key": "s"}}}}, "remote.opt"),
        ({"remote": {"url": "relative/dir", "options": {}}}, "remote.url"),
        ({"resources": {"GPU": 0}}, "resources.GPU"),
        ({"resources": {"GPU": float("nan")}}, "resources.GPU"),
        ({"resources": {"GPU": True}}, "resources.GPU"),
        ({"git": {"dirty": "yes"}}, "git.dirty"),
        ({"surprise": 1}, "unknown fields"),
    ],
)
def test_hostile_specs_are_refused_naming_the_field(over, field):
    with pytest.raises(ProtocolError, match="invalid task spec") as err:
        check_spec(spec(**over))
    assert field in str(err.value)


def test_secrets_never_travel_and_size_is_bounded():
    with pytest.raises(ProtocolError, match="secret"):
        encode_spec(spec(remote={"url": "s3://b", "options": {"password": "p"}}))
    big = spec(params={"p": "x" * (MAX_MESSAGE + 1)})
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        encode_spec(big)
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        decode_spec(b"\x80" * (MAX_MESSAGE + 1))
    with pytest.raises(ProtocolError, match="not bytes"):
        decode_spec({"v": 1})


@pytest.mark.parametrize(
    "over, field",
    [
        ({"ok": 1}, "ok"),
        ({"run_oid": None}, "run_oid"),
        ({"returncode": "0"}, "returncode"),
        ({"outs": [{"path": "../x", "id": O2, "kind": "file", "size": 1}]}, "outs[0].path"),
        ({"outs": [{"path": "x", "id": O2, "kind": "file", "size": -1}]}, "outs[0].size"),
        ({"outs": [{"path": "x", "id": O2, "kind": "tree", "size": 1}]}, "outs[0].kind"),
        ({"stderr_tail": ["x"] * 51}, "stderr_tail"),
        ({"stderr_tail": ["x" * 5000]}, "stderr_tail[]"),
        ({"duration": float("inf")}, "duration"),
        ({"pid": -1}, "pid"),
    ],
)
def test_hostile_results_are_refused(over, field):
    data = codec.encode(result(**over))
    with pytest.raises(ProtocolError, match="invalid task result") as err:
        decode_result(data)
    assert field in str(err.value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash_the_decoders(data):
    for decode in (decode_spec, decode_result):
        try:
            decode(data)
        except ProtocolError:
            pass


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(sorted(spec())), _values)
def test_a_spec_with_any_field_replaced_is_checked_or_refused(field, value):
    s = copy.deepcopy(spec())
    s[field] = value
    try:
        checked = decode_spec(msgpack.packb(s, use_bin_type=True))
    except ProtocolError:
        return
    # whatever was accepted is safe: paths inside the workspace, ids are ids, no secret option
    assert all(not p.startswith(("/", "..")) for p in checked["outs"] + [d["path"] for d in checked["deps"]])
    assert len(checked["run_key"]) == 64 and len(checked["code_tree"]) == 64


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(sorted(result())), _values)
def test_a_result_with_any_field_replaced_is_checked_or_refused(field, value):
    r = copy.deepcopy(result())
    r[field] = value
    try:
        checked = decode_result(msgpack.packb(r, use_bin_type=True))
    except ProtocolError:
        return
    assert isinstance(checked["ok"], bool) and all(len(o["id"]) == 64 for o in checked["outs"])
