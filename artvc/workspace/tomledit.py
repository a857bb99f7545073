"""Edit TOML files that people also edit (``art.toml``, ``.art/config``, ``.art/config.local``), keeping
their comments, blank lines and order: only the value a command changes is rewritten (tomlkit).

Reading for use stays with the standard library (``tomllib``, bounded in ``objstore.codec``); these helpers
are for the read-change-write cycles, which run under the repository lock and end in a temp file + rename.

A new key goes right after the last key of its table (not after comments that trail the table, which
usually introduce the next one); a new table goes after its siblings, followed by a blank line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import InlineTable, Table
from tomlkit.toml_document import TOMLDocument

TableLike = TOMLDocument | Table | InlineTable | Container


def parse(text: str) -> TOMLDocument:
    """Parse text already validated by ``tomllib`` (the caller's limits and errors apply first).

    Raises:
        ValueError: when tomlkit disagrees (its errors derive from ValueError) or the text nests too deeply.
    """
    try:
        return tomlkit.parse(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def dumps(doc: TOMLDocument, original: str) -> str:
    """The document's text; a new table at the end leaves no extra blank line the file did not have."""
    text = tomlkit.dumps(doc)
    if text.endswith("\n\n") and not original.endswith("\n\n"):
        text = text.rstrip("\n") + "\n"
    return text


def _body(table: TableLike) -> Container | None:
    if isinstance(table, Container):
        return table
    if isinstance(table, Table):
        return table.value
    return None  # an inline table: no layout to keep


def _is_table(item: Any) -> bool:
    return isinstance(item, Table | dict) and not isinstance(item, InlineTable)


def set_key(table: TableLike, key: str, value: Any) -> None:
    """Set a plain value; an existing one is replaced in place (its comment kept), a new one goes after the
    table's last plain key (before sub-tables and trailing comments)."""
    value = _item(value)
    if key in table:
        table[key] = value
        return
    body = _body(table)
    last = None
    if body is not None:
        for i, (k, item) in enumerate(body.body):
            if k is not None and not _is_table(item):
                last = i
    if last is None or body is None:
        if body is not None and any(k is not None and _is_table(item) for k, item in body.body):
            body._insert_at(0, key, value)  # before the first sub-table, else the key would land in it
        else:
            table[key] = value
        return
    if last + 1 < len(body.body):  # ``_insert_at``, not ``_insert_after``: tomlkit 0.15.3 removed the latter
        body._insert_at(last + 1, key, value)
    else:  # the last plain key ends the table: nothing to keep after it
        table[key] = value


def child(table: TableLike, key: str, *, holds_tables: bool = False) -> Any:
    """The sub-table ``key`` of ``table``, created when missing (``holds_tables``: a table of tables such as
    ``remotes``, written only as ``[remotes.NAME]`` headers)."""
    if key not in table:
        table[key] = tomlkit.table(is_super_table=holds_tables)
    return table[key]


def set_table(table: TableLike, key: str, values: Mapping[str, Any]) -> None:
    """Make ``table[key]`` hold exactly ``values``: an existing table keeps its comments and the order of
    the keys it keeps; a new one is added after its siblings with a blank line after it."""
    if key in table and isinstance(table[key], Mapping):
        current = table[key]
        for k in [k for k in current if k not in values]:
            del current[k]
        for k, v in values.items():
            if k not in current or current[k] != v:
                set_key(current, k, v)
        return
    new = tomlkit.table()
    for k, v in values.items():
        new.add(k, _item(v))
    body = _body(table)
    trailing = _take_trailing(body) if body is not None else []
    if trailing:  # comments after the last table introduce what follows it: they now follow the new table
        _last_table_body(body).append(None, tomlkit.nl())  # type: ignore[arg-type]
        for item in trailing:
            new.add(item)
    table[key] = new


def _last_table_body(body: Container) -> Container:
    """The container that ends ``body``'s text: the body of its last table, recursively."""
    while body.body and isinstance(body.body[-1][1], Table):
        body = body.body[-1][1].value
    return body


def _take_trailing(body: Container) -> list[Any]:
    """Remove and return the comments and blank lines that end ``body``'s text (inside its last table)."""
    inner = _last_table_body(body)
    items = inner.body
    i = len(items)
    while i > 0 and items[i - 1][0] is None:
        i -= 1
    trailing = [item for _, item in items[i:]]
    del items[i:]  # unkeyed items: no index of a key points past i
    return trailing


def _item(value: Any) -> Any:
    """Nested tables and lists as inline values (``opt = {a = 1}``), so a key never becomes a sub-table
    that would have to come after every plain key of its table."""
    if isinstance(value, Mapping) and not isinstance(value, Table | InlineTable):
        inline = tomlkit.inline_table()
        for k, v in value.items():
            inline[k] = _item(v)
        return inline
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_item(v) for v in value)
        return array
    return value


def remove(table: TableLike, key: str) -> bool:
    """Delete ``key`` (a value or a whole table); True when it was there."""
    if key not in table:
        return False
    del table[key]
    return True


def prune(table: TableLike, key: str) -> None:
    """Delete the sub-table ``key`` when nothing is left in it."""
    if key in table and isinstance(table[key], Mapping) and not len(table[key]):
        del table[key]
