"""What a remote's failure means to the user, and how long art waits for a remote.

A backend (s3fs/botocore, gcsfs/google-auth/aiohttp, adlfs/azure-core, sshfs/asyncssh or paramiko) fails with
its own exception types and messages. ``classify`` sorts them into what the user must fix: credentials that
are missing or rejected, access denied to credentials that work, an endpoint that cannot be reached, or
anything else; ``remote_error`` turns that into one StoreIOError whose hint says how to configure
credentials for that backend, or which endpoint did not answer and how long art waited.

``connect_settings`` reads art's own remote options ``timeout`` (seconds to wait for a connection, default
5) and ``retries`` (retries of a failed request inside the backend, default 1) and passes them to the backend
in its own terms, so an unreachable endpoint fails in bounded time. ``Connecting`` prints
``art: note: connecting to ENDPOINT...`` on a terminal when the first request has not been answered in 1 s.
"""

from __future__ import annotations

import contextlib
import errno
import sys
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError, StoreIOError

CREDENTIALS, DENIED, UNREACHABLE, OTHER = "credentials", "denied", "unreachable", "other"
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 1
NOTE_AFTER = 1.0

_CREDENTIAL_TYPES = {
    "NoCredentialsError",  # botocore: nothing in the environment, config files or options
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "NoAuthTokenError",
    "UnauthorizedSSOTokenError",
    "DefaultCredentialsError",  # google.auth
    "RefreshError",
    "ClientAuthenticationError",  # azure.core
    "PermissionDenied",  # asyncssh: the server refused every key and password
    "AuthenticationException",  # paramiko
    "BadAuthenticationType",
}
_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AuthorizationHeaderMalformed",
    "401",
}
_DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "Forbidden", "403", "AuthorizationFailure"}
_UNREACHABLE_TYPES = {
    "EndpointConnectionError",  # botocore
    "ConnectTimeoutError",
    "ProxyConnectionError",
    "ClientConnectorError",  # aiohttp
    "ServerTimeoutError",
    "ConnectionTimeoutError",
    "ServiceRequestError",  # azure.core: the request never got an answer
    "FSTimeoutError",
    "gaierror",
}
_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
# a connection that was made and then cut is a failure mid-way, not an unreachable endpoint (botocore wraps a
# reset upload in EndpointConnectionError too): it is retried, and told as "failed while ..."
_CUT_TYPES = {"ServerDisconnectedError", "ConnectionClosedError", "ClientPayloadError", "ConnectionLost"}
_CUT_ERRNOS = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}
_CUT_WORDS = ("connection reset", "broken pipe", "server disconnected", "connection aborted")
_CREDENTIAL_WORDS = (
    "unable to locate credentials",
    "invalidaccesskeyid",
    "signaturedoesnotmatch",
    "access key id you provided does not exist",
    "request signature we calculated does not match",
    "expiredtoken",
    "credentials",
    "authentication failed",
    "unauthorized",
    "permission denied (publickey",
)
_DENIED_WORDS = ("access denied", "accessdenied", "forbidden", "not authorized", "authorizationfailure")
_UNREACHABLE_WORDS = (
    "could not connect to the endpoint",
    "connect timeout",
    "connection refused",
    "cannot connect to host",
    "name or service not known",
    "temporary failure in name resolution",
    "timed out",
    "network is unreachable",
    "no route to host",
)

# how to give each backend credentials (the remote's name is filled in)
_CREDENTIAL_HINTS = {
    "s3": "give S3 credentials: art remote modify {name} -o key=ACCESS_KEY_ID -o secret=SECRET_ACCESS_KEY "
    "(kept in .art/config.local), or -o profile=PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "in the environment",
    "gs": "give GCS credentials: art remote modify {name} -o token=/path/to/service-account.json, or run "
    "'gcloud auth application-default login', or set GOOGLE_APPLICATION_CREDENTIALS",
    "azure": "give Azure credentials: art remote modify {name} -o connection_string=... (kept in "
    ".art/config.local), or -o account_name=NAME -o account_key=KEY, or AZURE_STORAGE_CONNECTION_STRING "
    "in the environment",
    "ssh": "check the user in the URL and give a key: art remote modify {name} "
    "-o client_keys='[\"~/.ssh/id_ed25519\"]', or -o password=... (kept in .art/config.local), or load "
    "the key into ssh-agent",
}
# each URL scheme's backend family (also the name of art's extra that installs its backend)
FAMILY = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gs",
    "gcs": "gs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "adl": "azure",
    "sftp": "ssh",
    "ssh": "ssh",
}


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it was raised from or during, at most 10 deep (cycles are cut)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen and len(seen) < 10:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _code(e: BaseException) -> str | None:
    response = getattr(e, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = error.get("Code") or (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return str(code) if code is not None else None
    status = getattr(e, "status_code", None) or getattr(e, "status", None)
    return str(status) if isinstance(status, int) else None


def classify(exc: BaseException) -> str:
    """CREDENTIALS, DENIED, UNREACHABLE or OTHER for a backend exception (its whole cause chain is read)."""
    chain = list(exception_chain(exc))
    for e in chain:
        name = type(e).__name__
        code = _code(e)
        if name in _CREDENTIAL_TYPES or code in _CREDENTIAL_CODES:
            return CREDENTIALS
        if code in _DENIED_CODES:
            return DENIED
    if _was_cut(chain):
        return OTHER
    import socket  # here: a transfer that succeeds never loads it

    for e in chain:
        if type(e).__name__ in _UNREACHABLE_TYPES or isinstance(e, (ConnectionRefusedError, socket.gaierror)):
            return UNREACHABLE
        if isinstance(e, OSError) and e.errno in _UNREACHABLE_ERRNOS:
            return UNREACHABLE
    text = " ".join(str(e) for e in chain).lower()
    if any(w in text for w in _CREDENTIAL_WORDS):
        return CREDENTIALS
    if any(isinstance(e, PermissionError) for e in chain) or any(w in text for w in _DENIED_WORDS):
        return DENIED
    if any(isinstance(e, TimeoutError) for e in chain) or any(w in text for w in _UNREACHABLE_WORDS):
        return UNREACHABLE
    return OTHER


def _was_cut(chain: list[BaseException]) -> bool:
    for e in chain:
        if type(e).__name__ in _CUT_TYPES or isinstance(e, (ConnectionResetError, BrokenPipeError)):
            return True
        if isinstance(e, OSError) and e.errno in _CUT_ERRNOS:
            return True
    text = " ".join(str(e) for e in chain).lower()
    return any(w in text for w in _CUT_WORDS)


def endpoint(protocol: str, url: str, options: dict[str, Any]) -> str:
    """What art connects to, for messages: the configured endpoint, else the host of the URL, else the URL."""
    for key in ("endpoint_url", "account_url"):
        if options.get(key):
            return str(options[key])
    client = options.get("client_kwargs")
    if isinstance(client, dict) and client.get("endpoint_url"):
        return str(client["endpoint_url"])
    family = FAMILY.get(protocol)
    if family == "ssh":
        parts = urlsplit(url)
        host = options.get("host") or parts.hostname or "?"
        return f"{host}:{options.get('port') or parts.port or 22}"
    if family == "azure" and options.get("account_name"):
        return f"{options['account_name']}.blob.core.windows.net"
    return {"s3": "the AWS S3 endpoint", "gs": "storage.googleapis.com"}.get(family or "", url)


def connect_settings(protocol: str, url: str, options: dict[str, Any], name: str) -> tuple[str, float]:
    """Pop art's ``timeout``/``retries`` options and set the backend's own connect timeout and retries
    (options the user gave the backend directly win); return (endpoint, timeout).

    Raises:
        ConfigError: when ``timeout`` is not a positive number of seconds or ``retries`` not a count.
    """
    timeout = _number(options.pop("timeout", DEFAULT_TIMEOUT), name, "timeout", "a number of seconds above 0")
    retries = _number(options.pop("retries", DEFAULT_RETRIES), name, "retries", "a whole number, 0 or more")
    if timeout <= 0:
        raise _bad(name, "timeout", timeout, "a number of seconds above 0")
    if retries < 0 or retries != int(retries):
        raise _bad(name, "retries", retries, "a whole number, 0 or more")
    retries = int(retries)
    family = FAMILY.get(protocol)
    if family == "s3":
        config = dict(options.get("config_kwargs") or {})
        config.setdefault("connect_timeout", timeout)
        config.setdefault("retries", {"max_attempts": retries, "mode": "standard"})  # botocore: retries
        options["config_kwargs"] = config
    elif family == "gs" and "requests_timeout" not in options:
        try:
            import aiohttp

            # aiohttp's defaults (300 s in all) with art's connect timeout
            options["requests_timeout"] = aiohttp.ClientTimeout(total=300, sock_connect=timeout)
        except ImportError:  # no gcsfs either: opening the remote says which extra to install
            pass
    elif family == "azure":
        options.setdefault("connection_timeout", int(max(1, timeout)))
    elif family == "ssh":
        options.setdefault("connect_timeout", timeout)
    return endpoint(protocol, url, options), timeout


def _number(value: Any, name: str, key: str, what: str) -> float:
    if isinstance(value, bool):
        raise _bad(name, key, value, what)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(name, key, value, what) from None


def _bad(name: str, key: str, value: Any, what: str) -> ConfigError:
    return ConfigError(
        f"remote {name!r}: option {key}={value!r} must be {what}",
        hint=f"art remote modify {name} -o {key}={DEFAULT_TIMEOUT:g}"
        if key == "timeout"
        else f"art remote modify {name} -o {key}={DEFAULT_RETRIES}",
    )


def remote_error(exc: BaseException, store: Any, what: str) -> StoreIOError:
    """The StoreIOError for backend exception ``exc`` that remote ``store`` (an FsspecStore: its ``name``,
    ``protocol``, ``endpoint`` and ``timeout``) met while ``what`` (e.g. "listing indexes")."""
    name, protocol, where, timeout = store.name, store.protocol, store.endpoint, store.timeout
    text = str(exc).strip()
    reason = (text.splitlines()[0] if text else type(exc).__name__)[:200]
    kind = classify(exc)
    family = FAMILY.get(protocol, "")
    how = _CREDENTIAL_HINTS.get(family, "check the remote's credentials and options ('art remote list')")
    if kind == CREDENTIALS:
        return StoreIOError(
            f"remote {name!r}: credentials are missing or were rejected while {what}: {reason}",
            remote=name,
            hint=how.format(name=name),
        )
    if kind == DENIED and not family:  # a local directory: file permissions, no credentials
        return StoreIOError(
            f"remote {name!r}: permission denied while {what}: {reason}",
            remote=name,
            hint="check that you may read and write the remote's directory and the folders in it",
        )
    if kind == DENIED:
        return StoreIOError(
            f"remote {name!r}: access denied while {what}: {reason}",
            remote=name,
            hint="the credentials were accepted but may not do this here: grant them list, read, write and "
            f"delete on the remote's bucket and prefix, or use others ({how.format(name=name)})",
        )
    if kind == UNREACHABLE:
        return StoreIOError(
            f"cannot reach remote {name!r} at {where} while {what}: {reason}",
            remote=name,
            hint=f"check the address, that the server is running, and the network; art waits up to {timeout:g} s "
            f"for a connection (art remote modify {name} -o timeout=SECONDS); re-running resumes where this stopped",
        )
    return StoreIOError(
        f"remote {name!r} failed while {what}: {reason}",
        remote=name,
        hint="check the network and the remote's URL/endpoint; re-running resumes where this stopped",
    )


_CONNECT_FAILED = {"EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError", "gaierror"}


def retryable(exc: BaseException) -> bool:
    """Whether art should try again on top of the backend: not for missing or refused credentials, nor for
    denied access, nor when no connection could be made (the backend already retried ``retries`` times)."""
    chain = list(exception_chain(exc))
    if _was_cut(chain):
        return True
    if any(type(e).__name__ in _CONNECT_FAILED or isinstance(e, ConnectionRefusedError) for e in chain):
        return False
    return classify(exc) not in (CREDENTIALS, DENIED)


_quiet = False


def set_quiet(flag: bool) -> None:
    """The CLI's -q: no connecting note."""
    global _quiet
    _quiet = flag


class Connecting:
    """Says ``art: note: connecting to ENDPOINT (remote NAME)...`` on a terminal when a request made before
    the remote first answered takes longer than NOTE_AFTER seconds; silent once it has answered, when
    stderr is not a terminal, and with -q (as git shows progress only on a terminal)."""

    def __init__(self, name: str, where: str) -> None:
        self.name, self.where = name, where
        self.answered = False
        self._said = False
        self._lock = threading.Lock()

    def _say(self) -> None:
        with self._lock:
            if self.answered or self._said or _quiet:
                return
            self._said = True
        try:
            if sys.stderr.isatty():
                sys.stderr.write(f"art: note: connecting to {self.where} (remote {self.name})...\n")
                sys.stderr.flush()
        except (OSError, ValueError):
            pass

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Around one request: arm the note until the remote has answered once."""
        if self.answered or self._said:
            yield
            return
        timer = threading.Timer(NOTE_AFTER, self._say)
        timer.daemon = True
        timer.start()
        try:
            yield
            self.answered = True
        finally:
            timer.cancel()
