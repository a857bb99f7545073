"""``.art/config`` (committed) and ``.art/config.local`` (git-ignored, secrets): load, validate, write.

Both are TOML; the local file overrides the shared one key by key. Known sections: ``core``, ``remotes``, ``executor``.

Some keys say where this machine keeps things (``LOCAL_ONLY``: ``core.store``). A committed file travels with
every clone, so it must not choose a directory on the cloner's disk (git keeps such settings out of what a
clone trusts): those keys are honoured only from ``.art/config.local``; in ``.art/config`` they are ignored
with a warning (``Config.warnings``), and ``set_value`` always writes them to the local file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..objstore import codec
from ..objstore.fileio import atomic_write

CORE_DEFAULTS: dict[str, Any] = {
    "remote": "",
    "fsync": False,
    "jobs": 2,
    "strict_pipeline": False,
    "gc_grace": "1h",
    "store": "",
    "delta": True,
    "delta_depth": 3,  # objstore.store.delta.DEFAULT_DEPTH
    "fsmonitor": False,  # status asks the file-system monitor daemon what changed (workspace/fsmonitor.py)
    "lazy_pull": False,  # art pull is art pull --lazy (workspace/lazy_pull.py)
    "direct_writes": True,  # large files written around the page cache (objstore/fileio.py direct_writes)
}
CORE_TYPES: dict[str, type] = {
    "remote": str,
    "fsync": bool,
    "jobs": int,
    "strict_pipeline": bool,
    "gc_grace": str,
    "store": str,
    "compact": bool,
    "delta": bool,
    "delta_depth": int,
    "fsmonitor": bool,
    "lazy_pull": bool,
    "direct_writes": bool,
}
DELTA_DEPTHS = range(1, 9)  # core.delta_depth: 1 .. objstore.store.delta.MAX_CHAIN
# [executor]: where art repro runs stale stages (docs/pipelines.md, docs/distributed.md)
EXECUTOR_DEFAULTS: dict[str, Any] = {
    "kind": "local",
    "scheduler": "",
    "scheduler_file": "",
    "local_cluster": 0,
    "remote": "",
    "retries": 2,
    "outputs": "fetch",
    "wait_notice": 30,
}
EXECUTOR_TYPES: dict[str, type] = {
    "kind": str,
    "scheduler": str,
    "scheduler_file": str,
    "local_cluster": int,
    "remote": str,
    "retries": int,
    "outputs": str,
    "wait_notice": float,
}
EXECUTOR_CHOICES = {"kind": ("local", "dask"), "outputs": ("fetch", "lazy")}
SECTIONS = ("core", "remotes", "executor")
LOCAL_ONLY = frozenset({"store"})  # core keys honoured only from .art/config.local
HEADER = "# art configuration (committed). Secrets belong in .art/config.local, which git ignores.\n"


def read_toml(path: Path, *, what: str, kind: str = "config") -> dict[str, Any]:
    """Parse a TOML file of ``kind`` (a key of ``codec.MAX_TOML_BYTES``); a missing file is empty.

    Raises:
        ConfigError: on a syntax error (with the file and the parser's line information), text that is not
            UTF-8, nesting too deep, or a file over the size limit.
    """
    hint = "fix the file by hand"
    try:
        with open(path, "rb") as f:
            data = codec.read_limited(f, what=f"{what} {path}", kind=kind, error=ConfigError, hint=hint)
    except FileNotFoundError:
        return {}
    return codec.toml_loads(data, what=f"{what} {path}", kind=kind, error=ConfigError, hint=hint)


def _copied(data: dict) -> dict:
    """A deep copy of TOML data: its tables and arrays copied, its values (str, int, float, bool, dates: all
    immutable) shared. Not the ``copy`` module's: importing it (with ``weakref``) cost every command ~3 M
    instructions."""
    return {
        k: _copied(v) if isinstance(v, dict) else _copied_list(v) if isinstance(v, list) else v for k, v in data.items()
    }


def _copied_list(items: list) -> list:
    return [_copied(v) if isinstance(v, dict) else _copied_list(v) if isinstance(v, list) else v for v in items]


def merge(base: dict, over: dict) -> dict:
    out = _copied(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Config:
    """Merged view of both config files, with helpers to change one of them."""

    def __init__(self, art_dir: Path, *, lock=None) -> None:
        self.shared_path = art_dir / "config"
        self.local_path = art_dir / "config.local"
        self.lock = lock  # the repository lock (a RepoLock) that update() holds, when given
        self.reload()

    def reload(self) -> None:
        """Read both files again. Unknown sections and ``core`` keys are warnings (``warnings``), not errors:
        a file written by a newer art, or a typo, must not stop every command; they are left out of ``data``.
        """
        self.shared = read_toml(self.shared_path, what="config")
        self.local = read_toml(self.local_path, what="config")
        self.warnings: list[str] = []
        shared = self._known(self.shared, ".art/config")
        local = self._known(self.local, ".art/config.local")
        core = shared.get("core")
        ignored = sorted(LOCAL_ONLY & set(core)) if isinstance(core, dict) else []
        if ignored:
            for key in ignored:
                del shared["core"][key]
                self.warnings.append(
                    f"core.{key} in .art/config is ignored: a committed file may not choose where this machine "
                    f"keeps data; set it in .art/config.local (art config core.{key} VALUE)"
                )
        self.data = merge(shared, local)
        for key, value in self.data.items():
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] in .art/config is not a table", hint="fix the file by hand")
        for name, remote in self.data.get("remotes", {}).items():
            if not isinstance(remote, dict):
                raise ConfigError(f"[remotes.{name}] in .art/config is not a table", hint="fix the file by hand")
        for key, kind in CORE_TYPES.items():
            value = self.data.get("core", {}).get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)):
                raise ConfigError(f"core.{key} in .art/config must be a {kind.__name__}", hint="fix the file by hand")
        depth = self.data.get("core", {}).get("delta_depth")
        if depth is not None and depth not in DELTA_DEPTHS:
            raise ConfigError(
                f"core.delta_depth in .art/config must be from {DELTA_DEPTHS[0]} to {DELTA_DEPTHS[-1]}, not {depth}",
                hint="fix the file by hand",
            )
        self._check_executor()

    def _check_executor(self) -> None:
        section = self.data.get("executor", {})
        for key, value in list(section.items()):
            kind = EXECUTOR_TYPES.get(key)
            if kind is None:
                del section[key]
                self.warnings.append(
                    f"unknown key executor.{key} is ignored (executor keys: {', '.join(sorted(EXECUTOR_TYPES))})"
                )
                continue
            number = isinstance(value, int | float) and not isinstance(value, bool)
            ok = number and (kind is float or isinstance(value, int)) if kind is not str else isinstance(value, str)
            if not ok or (number and value < 0) or (key == "wait_notice" and number and value == 0):
                what = {str: "a string", int: "a whole number >= 0", float: "a positive number"}[kind]
                raise ConfigError(f"executor.{key} in .art/config must be {what}", hint="fix the file by hand")
            choices = EXECUTOR_CHOICES.get(key)
            if choices and value not in choices:
                raise ConfigError(
                    f"executor.{key} in .art/config must be one of {', '.join(choices)} (not {value!r})",
                    hint="fix the file by hand",
                )

    def executor(self, key: str) -> Any:
        """An ``[executor]`` key (its default when unset)."""
        return self.data.get("executor", {}).get(key, EXECUTOR_DEFAULTS.get(key))

    def _known(self, data: dict[str, Any], label: str) -> dict[str, Any]:
        """A copy of ``data`` without unknown sections and core keys, each named in a warning."""
        out = _copied(data)
        unset = f"art config{' --local' if label.endswith('local') else ''} --unset"
        for key in list(out):
            if key not in SECTIONS:
                value = out.pop(key)
                names = sorted(flatten(value, f"{key}.")) if isinstance(value, dict) and value else [key]
                for name in names:
                    remove = f"remove it with: {unset} {name}" if "." in name else "remove it from the file"
                    self.warnings.append(
                        f"unknown key {name} in {label} is ignored (sections: {', '.join(SECTIONS)}); {remove}"
                    )
        core = out.get("core")
        core = core if isinstance(core, dict) else {}
        for key in list(core):
            if key not in CORE_TYPES:
                del core[key]
                guess = _guess(f"core.{key}")
                self.warnings.append(
                    f"unknown key core.{key} in {label} is ignored"
                    + (f" (did you mean {guess}?)" if guess else f" (core keys: {', '.join(sorted(CORE_TYPES))})")
                    + f"; remove it with: {unset} core.{key}"
                )
        return out

    def core(self, key: str) -> Any:
        return self.data.get("core", {}).get(key, CORE_DEFAULTS.get(key))

    @property
    def remotes(self) -> dict[str, dict[str, Any]]:
        return self.data.get("remotes", {})

    def update(self, mutate, *, local: bool = False) -> None:
        """Apply ``mutate(document)`` to one of the files and write it atomically (temp file + rename).

        The document is the file as tomlkit reads it: change it with ``tomledit`` (or as a dict), and
        everything else in the file (comments, blank lines, order) is written back as it was. Under the
        repository lock the file is read again first, so a change another process made since this one loaded
        the configuration is kept.

        Raises:
            ConfigError: when the file cannot be read or edited, or the result would not be valid TOML.
        """
        from contextlib import nullcontext

        from . import tomledit  # loaded only by commands that write (start-up time)

        path = self.local_path if local else self.shared_path
        what = f"config {path}"
        # the repository lock only: the store lock lives in the store, which this write may be moving
        with self.lock.repo_only() if self.lock is not None else nullcontext():
            self.reload()  # checks the size, the encoding and the syntax
            try:
                original = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                original = ""
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read {path}: {exc}", hint="fix the file by hand") from exc
            try:
                doc = tomledit.parse(original)
            except ValueError as exc:
                raise ConfigError(f"cannot edit {path}: {exc}", hint="fix the file by hand") from exc
            mutate(doc)
            text = tomledit.dumps(doc, original)
            if not original.strip() and not local:
                text = HEADER + text
            codec.toml_loads(text, what=what, kind="config", error=ConfigError, hint="the edit is not written")
            atomic_write(path, text, mode=0o600 if local else 0o644)
            self.reload()


def parse_value(text: str, kind: type) -> Any:
    """Turn a command-line value into the config type of its key.

    Raises:
        ConfigError: when ``text`` is not a valid value of that type.
    """
    if kind is bool:
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{text!r} is not a boolean", hint="use true or false")
    if kind is float:
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"{text!r} is not a number") from None
        if not number > 0 or number == float("inf"):
            raise ConfigError(f"{text!r} must be a positive number")
        return int(number) if number.is_integer() else number
    if kind is int:
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{text!r} is not a whole number") from None
        if value < 1:
            raise ConfigError(f"{text!r} must be at least 1")
        return value
    return text


def _check_executor_value(key: str, value: Any) -> None:
    choices = EXECUTOR_CHOICES.get(key)
    if choices and value not in choices:
        raise ConfigError(f"executor.{key} must be one of {', '.join(choices)} (not {value!r})")


def valid_keys() -> list[str]:
    """Every key ``art config`` accepts (``remotes.NAME.OPTION`` stands for any remote option)."""
    return (
        [f"core.{k}" for k in sorted(CORE_TYPES)]
        + [f"executor.{k}" for k in sorted(EXECUTOR_TYPES)]
        + ["remotes.NAME.OPTION"]
    )


def _guess(key: str) -> str | None:
    """The known key closest to a mistyped one (``core.job``, ``jobs``, ``core.gc.grace``), or None."""
    import difflib

    known = [f"core.{k}" for k in CORE_TYPES]
    last = key.rsplit(".", 1)[-1]
    for attempt in (key, f"core.{last}", f"core.{key.removeprefix('core.').replace('.', '_')}"):
        hits = difflib.get_close_matches(attempt, known, n=1, cutoff=0.75)
        if hits:
            return hits[0]
    return None


def split_key(key: str, *, existing: bool = False) -> list[str]:
    """Validate a dotted key (``core.jobs``, ``remotes.origin.endpoint_url``); ``existing`` also accepts any
    other dotted key, to remove one a file holds (``--unset``).

    Raises:
        ConfigError: for an unknown key, with the valid keys and the closest one as the hint.
    """
    parts = key.split(".")
    known = (
        (len(parts) == 2 and parts[0] == "core" and parts[1] in CORE_TYPES)
        or (len(parts) == 2 and parts[0] == "executor" and parts[1] in EXECUTOR_TYPES)
        or (len(parts) == 3 and parts[0] == "remotes" and all(parts))
    )
    if known or (existing and len(parts) >= 2 and all(parts)):
        return parts
    guess = _guess(key)
    if parts[0] == "remotes":
        hint = "remote options look like remotes.NAME.OPTION (e.g. remotes.origin.endpoint_url)"
    else:
        hint = ("did you mean " + guess + "? " if guess else "") + "valid keys: " + ", ".join(valid_keys())
    raise ConfigError(f"unknown config key {key!r}", hint=hint)


def get_value(config: Config, key: str) -> Any:
    """Return the merged value of ``key`` (core keys fall back to their defaults), or None."""
    parts = split_key(key)
    node: Any = config.data
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            defaults = {"core": CORE_DEFAULTS, "executor": EXECUTOR_DEFAULTS}.get(parts[0], {})
            return defaults.get(parts[1])
        node = node[part]
    return node


def is_local_only(key: str) -> bool:
    """True for keys honoured only from ``.art/config.local`` (``core.store``)."""
    parts = key.split(".")
    return len(parts) == 2 and parts[0] == "core" and parts[1] in LOCAL_ONLY


def set_value(config: Config, key: str, text: str, *, local: bool = False) -> Any:
    """Set ``key`` from its command-line text in the shared (or local) file; return the typed value.

    Local-only keys (``core.store``) always go to ``.art/config.local``.
    """
    parts = split_key(key)
    local = local or is_local_only(key)
    types = {"core": CORE_TYPES, "executor": EXECUTOR_TYPES}.get(parts[0], {})
    value = parse_value(text, types.get(parts[1], str))
    if parts[0] == "executor":
        _check_executor_value(parts[1], value)
    if parts == ["core", "delta_depth"] and value not in DELTA_DEPTHS:
        raise ConfigError(f"core.delta_depth must be from {DELTA_DEPTHS[0]} to {DELTA_DEPTHS[-1]} (not {value!r})")
    from . import tomledit

    def mutate(doc) -> None:
        node = doc
        for i, part in enumerate(parts[:-1]):
            node = tomledit.child(node, part, holds_tables=parts[0] == "remotes" and i == 0)
        tomledit.set_key(node, parts[-1], value)

    config.update(mutate, local=local)
    return value


def unset_value(config: Config, key: str, *, local: bool = False) -> bool:
    """Remove ``key`` from one file; return True when it was there."""
    from . import tomledit

    parts = split_key(key, existing=True)
    found = []

    def mutate(doc) -> None:
        chain = [doc]
        for part in parts[:-1]:
            chain.append(chain[-1].get(part, {}))
            if not isinstance(chain[-1], Mapping):
                return
        if tomledit.remove(chain[-1], parts[-1]):
            found.append(True)
            for parent, part in reversed(list(zip(chain, parts[:-1], strict=False))):
                tomledit.prune(parent, part)  # a table left empty goes too

    config.update(mutate, local=local)
    if not found:
        split_key(key)  # an unknown key that is not there either: say which keys exist
    return bool(found)


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
