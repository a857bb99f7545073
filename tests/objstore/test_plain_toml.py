"""``codec.plain_toml`` reads the plain TOML art writes exactly as tomllib does, and declines everything else."""

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artvc.objstore.codec import plain_toml, toml_loads
from artvc.objstore.oid import Oid
from artvc.workspace.pointers import Pointer

KEYS = st.text("abcz_-019", min_size=1, max_size=4)
CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
VALUES = st.one_of(
    st.integers(min_value=-5, max_value=10**20).map(str),
    st.text(CHARS, max_size=6).map(lambda s: f'"{s}"'),
    st.sampled_from(["01", "1_0", "true", "'x'", '"a" # c', "[1]", "1.5", "", '"\\n"']),
)
LINES = st.one_of(
    st.tuples(KEYS, st.sampled_from([" = ", "=", "\t= "]), VALUES).map("".join),
    st.lists(st.sampled_from(["a", "b", "remotes", "r-1"]), min_size=1, max_size=3).map(lambda ks: f"[{'.'.join(ks)}]"),
    KEYS.map(lambda k: f"[{k}]"),
    st.sampled_from(
        [
            "",
            "# a comment",
            "  # indented",
            "[a.b]",
            "[a .b]",
            "[a.]",
            "[.a]",
            "[a..b]",
            "[ a.b ]",
            "[[a]]",
            "a.b = 1",
            '"q" = 1',
            "#\x01",
            "\r",
        ]
    ),
    st.text(CHARS, max_size=8).map(lambda s: "# " + s),
)


@pytest.mark.long
@settings(max_examples=600, deadline=None)
@given(st.lists(LINES, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_plain_toml_agrees_with_tomllib_or_declines(lines, newline):
    text = newline.join(lines)
    plain = plain_toml(text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert plain is None
        return
    assert plain is None or plain == expected


def test_what_art_writes_is_read_without_tomllib():
    oid = Oid("ab" * 32)
    pointer = Pointer(oid, "dir", 92_366_075, 20_000).to_text()
    config = "# art configuration (committed). Secrets belong in .art/config.local, which git ignores.\n[core]\n"
    remote = config + '\n[remotes.origin]\nurl = "s3://bucket/art"\n\n[remotes.backup]\nurl = "/mnt/b"\n'
    for text in (pointer, config, remote, "", "[remotes]\n[remotes]\n"[:10]):
        assert plain_toml(text) == tomllib.loads(text)
    assert plain_toml(pointer) == {"version": 1, "id": str(oid), "kind": "dir", "size": 92_366_075, "files": 20_000}


@pytest.mark.parametrize("text", ['a = "x\\ty"', "a = 1\na = 2", "[t]\n[t]", "a = 1 # c", "[t\n", "a = 1e3"])
def test_anything_else_is_left_to_tomllib(text):
    assert plain_toml(text) is None
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        with pytest.raises(Exception, match="not valid TOML"):
            toml_loads(text, what="x", kind="config")
    else:
        assert toml_loads(text, what="x", kind="config") == expected
