"""The stage graph: which stage produces each path, who depends on whom, a stable topological order, cycles.

Pure: built from declared stages only, no I/O. Edges run from the producer of a path to every stage that
lists that path (or a path inside it, or a directory containing it) in its deps.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from .errors import CycleError

if TYPE_CHECKING:  # spec.validate builds a Graph at run time; the reverse is for annotations only
    from .spec import Stage


class Graph:
    """Dependencies between stages.

    Args:
        stages: stages by name, in declaration order (the order breaks ties in ``order``).

    Raises:
        CycleError: when the stages depend on each other in a circle.
    """

    def __init__(self, stages: Mapping[str, Stage]) -> None:
        self.stages = dict(stages)
        self.producer: dict[str, str] = {out: s.name for s in self.stages.values() for out in s.outs}
        self._outs_sorted = sorted(self.producer)
        self.upstream: dict[str, set[str]] = {name: set() for name in self.stages}
        self.downstream: dict[str, set[str]] = {name: set() for name in self.stages}
        for s in self.stages.values():
            for dep in s.deps:
                for p in self.producers(dep):
                    if p != s.name:
                        self.upstream[s.name].add(p)
                        self.downstream[p].add(s.name)
                    else:
                        raise CycleError([s.name, s.name])
        self.order = self._toposort()

    def producers(self, path: str) -> set[str]:
        """Stages whose outputs are ``path``, contain it, or lie inside it."""
        found = set()
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            owner = self.producer.get("/".join(parts[:i]))
            if owner:
                found.add(owner)
        prefix = path + "/"
        lo = _bisect(self._outs_sorted, prefix)
        while lo < len(self._outs_sorted) and self._outs_sorted[lo].startswith(prefix):
            found.add(self.producer[self._outs_sorted[lo]])
            lo += 1
        return found

    def producer_of(self, path: str) -> str | None:
        """The stage whose output is ``path`` or contains it (None for source data)."""
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            owner = self.producer.get("/".join(parts[:i]))
            if owner:
                return owner
        return None

    def _toposort(self) -> list[str]:
        rank = {name: i for i, name in enumerate(self.stages)}
        indegree = {name: len(ups) for name, ups in self.upstream.items()}
        ready = [(rank[n], n) for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for child in self.downstream[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, (rank[child], child))
        if len(order) != len(self.stages):
            raise CycleError(self._find_cycle({n for n, d in indegree.items() if d > 0}))
        return order

    def _find_cycle(self, left: set[str]) -> list[str]:
        start = min(left, key=list(self.stages).index)
        path, seen = [start], {start: 0}
        node = start
        while True:
            node = min((u for u in self.upstream[node] if u in left), key=list(self.stages).index)
            if node in seen:
                cycle = path[seen[node] :] + [node]
                return list(reversed(cycle))
            seen[node] = len(path)
            path.append(node)

    def ancestors(self, names: Iterable[str]) -> set[str]:
        """Every stage the given ones depend on, directly or not (not including them)."""
        return self._closure(names, self.upstream)

    def descendants(self, names: Iterable[str]) -> set[str]:
        """Every stage that depends on the given ones, directly or not (not including them)."""
        return self._closure(names, self.downstream)

    @staticmethod
    def _closure(names: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
        out: set[str] = set()
        stack = [n for name in names for n in edges[name]]
        while stack:
            n = stack.pop()
            if n not in out:
                out.add(n)
                stack.extend(edges[n])
        return out

    def edges(self) -> list[tuple[str, str]]:
        """(upstream, downstream) pairs in topological order."""
        pos = {n: i for i, n in enumerate(self.order)}
        return sorted(((u, d) for d, ups in self.upstream.items() for u in ups), key=lambda e: (pos[e[0]], pos[e[1]]))


def _bisect(items: list[str], key: str) -> int:
    import bisect

    return bisect.bisect_left(items, key)
