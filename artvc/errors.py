"""The one exception hierarchy of art: every layer raises a subclass of ArtError.

Each class owns its exit code; only ``commands/_errors.py`` turns an error into output and an exit status.
"""

from __future__ import annotations


class ArtError(Exception):
    """Root of every error art raises on purpose.

    Args:
        message: lowercase, no trailing period; names the object or path concerned.
        hint: what the user can do about it, or None.
    """

    exit_code = 1
    #: set by a command that has already printed this error in its own --json result (``art fsck --json``),
    #: so that the error handler does not print a second JSON document
    reported: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        assert message, "ArtError needs a message"
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotARepoError(ArtError):
    exit_code = 10


class RepoLockedError(ArtError):
    exit_code = 11


class ConfigError(ArtError):
    pass


class UsageError(ArtError):
    """Bad arguments detected by the library (the CLI maps these to exit 2 like click's own)."""

    exit_code = 2


class ObjectError(ArtError):
    def __init__(self, oid: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.oid = oid


class ObjectNotFoundError(ObjectError, LookupError):
    def __init__(self, oid: str, kind: str = "object", *, hint: str | None = None) -> None:
        super().__init__(
            oid,
            f"{kind} {oid[:10]} is not in the store",
            hint=hint or "run 'art fetch' (or 'art pull') to download missing objects",
        )
        self.kind = kind


class CorruptObjectError(ObjectError):
    exit_code = 3

    def __init__(self, oid: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(
            oid,
            f"object {oid[:10]} is corrupt: {reason}",
            hint=hint or "run 'art fsck' to list damaged objects; fetch them again from a remote",
        )
        self.reason = reason


class WrongKindError(ObjectError):
    def __init__(self, oid: str, expected: str, actual: str) -> None:
        super().__init__(oid, f"object {oid[:10]} is a {actual}, not a {expected}")
        self.expected = expected
        self.actual = actual


class LocalStoreError(ArtError):
    """The local store cannot be opened or read (a disk problem, not a remote one)."""

    exit_code = 12


class FileSystemError(ArtError):
    """The operating system refused an ordinary operation: disk full, permission denied, read-only file
    system, a name or a tree too long or too deep for it. Not a bug in art, and nothing was half-written.

    Args:
        message: what art was doing and the path concerned.
        errno: the OS error number when there is one.
    """

    exit_code = 13

    def __init__(
        self, message: str, *, path: str | None = None, errno: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.errno = errno


class FormatError(ArtError):
    """A stored or written file does not follow its format (pointer, pack, index, lock)."""

    exit_code = 3


class RemoteError(ArtError):
    exit_code = 12

    def __init__(self, message: str, *, remote: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.remote = remote


class RemoteNotConfiguredError(RemoteError):
    exit_code = 1


class BackendMissingError(RemoteError):
    exit_code = 1


class StoreIOError(RemoteError):
    pass


class PackMissingError(StoreIOError):
    """A remote index lists a pack whose file is gone: damage, repairable from a clone that has the data."""

    def __init__(self, remote: str, pack: str) -> None:
        super().__init__(
            f"remote {remote!r} lists pack {pack[:10]} but the pack file is missing",
            remote=remote,
            hint=f"repair the remote from a clone that has the data: art fsck --remote {remote} --repair",
        )
        self.pack = pack


class TransferError(RemoteError):
    def __init__(
        self, message: str, *, failed: list[str] | None = None, remote: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, remote=remote, hint=hint)
        self.failed = failed or []


class WorkspaceError(ArtError):
    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class UnsafePathError(WorkspaceError):
    """A path that art refuses to touch: it leaves the workspace (through ``..`` or a symlink), names
    ``.git``/``.art``, or is otherwise unsafe to create, replace or delete."""

    exit_code = 10


class WouldOverwriteError(WorkspaceError):
    """Going on would delete or replace something the store cannot give back (``--force`` overrides)."""


class ConflictError(WouldOverwriteError):
    """A path holds something of another kind than its artifact (a folder where a file belongs, or the
    reverse) that art cannot restore; it is reported and left alone unless ``--force`` is given."""


class PathNotTrackedError(WorkspaceError):
    pass


class GitError(ArtError):
    pass


class IntegrityError(ArtError):
    """``art fsck`` (or a check) found problems; carries them as data."""

    exit_code = 3

    def __init__(self, message: str, *, problems: list | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or []


class StaleError(ArtError):
    """Something is out of date (``art status --check``, the pre-commit hook)."""

    exit_code = 4

    def __init__(self, message: str, *, items: list | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.items = items or []
