"""What a fetch in progress has brought so far, for a checkout that runs beside it (``workspace/pull_overlap.py``).

A pull used to fetch everything, then check out. With ``Arrivals`` the checkout of a folder starts as soon as
the fetch's walk has read and verified the trees (``walked``): it plans from those trees (no tree read from
the store, none stored early) and writes each file as soon as the object it needs is in the local store, a
whole pack adopted at a time (``arrived``). A file whose object is not stored yet waits for the next pack
(``located``); one that never comes is found missing once the fetch ``end``s, as in a checkout after it.

Safety: a checkout beside a fetch writes only into its private staging folders (a folder that is not there,
built whole and renamed into place), and the rename waits for the end of the fetch (``settle``): a fetch that
failed, was interrupted, or left anything damaged or missing raises ``FetchNotWhole`` there, the staging
folder is removed, and the workspace has not changed. Every object is in the local store, verified, before a
file is written from it, as before.

Once the fetch has ended whole, the thread that ended it does nothing but wait for the checkout
(``end(waits=True)``, from ``pull_overlap.Overlap.finish``): the checkout may then write the rest in two
processes (``waiting``; ``workspace/forked_writes.py``). When that waiting thread is interrupted it ``cancel``s:
the checkout stops before its next job (``check``) and removes its staging folder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ..errors import ArtError
from .oid import Oid
from .pulled_tree import FileTree

Rows = list[tuple[Any, ...] | None]


class FetchNotWhole(ArtError):
    """The fetch a checkout ran beside did not bring everything whole: nothing was put in place."""


class Arrivals:
    """The progress of one fetch, shared with the checkout running beside it (thread-safe)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._arrived = 0  # packs (or batches of objects) stored so far
        self._trees: dict[Oid, bytes | FileTree] | None = None
        self._walked = False
        self._over = False
        self._whole = False
        self._waiter: int | None = None  # the thread that ended the fetch and only waits now (``end(waits=True)``)

    # -- the fetch's side ----------------------------------------------------------------------------------

    def walked(self, trees: dict[Oid, bytes | FileTree]) -> None:
        """The walk read and verified these trees (id -> encoding, or the file holding a large one): a checkout
        may plan from them now. Only the first walk counts (a download that retries walks again)."""
        with self._cond:
            if not self._walked:
                self._trees, self._walked = trees, True
                self._cond.notify_all()

    def arrived(self) -> None:
        """More objects are in the local store, verified and indexed (a whole pack adopted, a batch committed)."""
        with self._cond:
            self._arrived += 1
            self._cond.notify_all()

    def end(self, whole: bool, *, waits: bool = False) -> None:
        """The fetch is over: ``whole`` when nothing failed verification or was missing (and it was not
        interrupted). ``waits``: the calling thread does nothing from now on but wait for the checkout (a join),
        so a fork by the checkout may leave it behind (``waiting``)."""
        with self._cond:
            self._over, self._whole, self._walked = True, whole, True
            if waits:
                self._waiter = threading.get_ident()
            self._cond.notify_all()

    def cancel(self) -> None:
        """The pull was interrupted while its checkout went on (Ctrl-C in the thread waiting for it): the fetch
        counts as not whole, so the checkout stops before its next job (``check``) and puts nothing in place."""
        with self._cond:
            self._over, self._whole, self._walked, self._waiter = True, False, True, None
            self._cond.notify_all()

    # -- the checkout's side -------------------------------------------------------------------------------

    def trees(self) -> dict[Oid, bytes | FileTree] | None:
        """Wait for the walk; the trees it verified (None: the fetch ended first, or walked no tree), the
        caller's from now on (it may let them go: the fetch stores its own)."""
        with self._cond:
            self._cond.wait_for(lambda: self._walked)
            return self._trees if not self._over or self._whole else None

    def located(self, locate: Callable[[Sequence[str]], Rows], oids: Sequence[str], rows: Rows) -> Rows:
        """``rows`` (``locate(oids)``, None for what the store lacks) completed as the fetch stores the rest:
        each time more arrives, the missing ones are located again, until none is missing or the fetch is over.

        Raises:
            FetchNotWhole: the fetch ended without everything (a file waiting for it is never written).
        """
        last: int | None = None  # arrivals counted before the last locate (None: locate once more first)
        while True:
            missing = [k for k, row in enumerate(rows) if row is None]
            if not missing:
                return rows
            with self._cond:
                if last is not None:
                    self._cond.wait_for(partial(self._news, last))
                if self._over and not self._whole:
                    raise FetchNotWhole("the fetch did not complete")
                last, over = self._arrived, self._over
            for k, row in zip(missing, locate([oids[k] for k in missing]), strict=True):
                rows[k] = row
            if over:  # what the store lacks now it will not get: the caller's usual way (not found)
                return rows

    def check(self) -> None:
        """Raise now (without waiting) when the fetch is over and not whole, or the pull was interrupted: a
        checkout beside it checks before each job, so it stops soon and removes its staging folder.

        Raises:
            FetchNotWhole: as ``settle``.
        """
        if self._over and not self._whole:
            raise FetchNotWhole("the fetch did not complete")

    def waiting(self) -> frozenset[int] | None:
        """None while the fetch goes on, or when it did not end whole; else the threads (their idents) that only
        wait for the checkout now (``end(waits=True)``): those a fork by the checkout may leave behind."""
        with self._cond:
            if not (self._over and self._whole):
                return None
            return frozenset(() if self._waiter is None else (self._waiter,))

    def _news(self, since: int) -> bool:
        return self._over or self._arrived != since

    def settle(self) -> None:
        """Wait for the end of the fetch before anything is put in place.

        Raises:
            FetchNotWhole: when it did not bring everything whole.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._over)
            if not self._whole:
                raise FetchNotWhole("the fetch did not complete")
