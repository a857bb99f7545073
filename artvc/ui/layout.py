"""A small layered DAG layout for the dashboard's SVG graphs (pure: no I/O, no imports from other layers).

The classic Sugiyama steps, kept simple and deterministic (the same input always gives the same picture):

1. **cycles**: the data is stored and may be wrong, so edges closing a cycle are reversed for the layout (and
   drawn reversed: they still point from their source to their target);
2. **layers**: longest path from the sources, top to bottom; an edge spanning several layers gets a virtual
   node in each layer it crosses, so it is routed around the boxes instead of through them;
3. **order**: a few barycentre sweeps down and up, keeping the order with the fewest crossings;
4. **coordinates**: each layer is placed where its neighbours pull it, as close as the boxes allow (an
   isotonic regression with minimum separations, so boxes of one layer never overlap);
5. **routes**: every edge as an SVG path of cubic curves from the bottom of its source to the top of its
   target, through its virtual nodes, with ports spread along the box sides.

``layout(names, edges, widths=...)`` is the whole interface.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NODE_WIDTH = 150.0  # default box width, in SVG user units (CSS pixels)
NODE_HEIGHT = 46.0
GAP = 28.0  # horizontal space between two boxes of one layer
LAYER_GAP = 56.0  # vertical space between two layers (where the edges curve)
DUMMY_WIDTH = 12.0  # the room an edge takes where it crosses a layer
MARGIN = 12.0
SWEEPS = 6  # barycentre ordering passes (each one down and one up)
PLACEMENT_ROUNDS = 4  # coordinate refinement passes
VIRTUAL_BUDGET = 3000  # virtual nodes at most: beyond, the longest edges are drawn straight across the layers


@dataclass(frozen=True, slots=True)
class Box:
    """A node's box: top-left corner, size, and its layer (0 = top)."""

    name: str
    x: float
    y: float
    width: float
    height: float
    layer: int

    @property
    def cx(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True, slots=True)
class Route:
    """An edge's drawing: the SVG path data from the source box to the target box."""

    source: str
    target: str
    d: str
    reversed: bool = False  # drawn against the layering (the edge closed a cycle)


@dataclass(frozen=True, slots=True)
class Layout:
    """Boxes in the input order of their names, one route per distinct edge, and the drawing's size."""

    boxes: dict[str, Box]
    routes: list[Route]
    width: float
    height: float


def layout(
    names: Sequence[str],
    edges: Sequence[tuple[str, str]],
    *,
    widths: Mapping[str, float] | None = None,
    node_height: float = NODE_HEIGHT,
) -> Layout:
    """Lay out the graph of ``names`` (duplicates ignored) and ``edges`` (upstream, downstream).

    Edges naming an unknown node, self-loops and repeated edges are ignored. ``widths`` gives a box width per
    name (default ``NODE_WIDTH``).
    """
    order = list(dict.fromkeys(names))
    index = {name: i for i, name in enumerate(order)}
    n = len(order)
    pairs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for a, b in edges:
        ia, ib = index.get(a), index.get(b)
        if ia is None or ib is None or ia == ib or (ia, ib) in seen:
            continue
        seen.add((ia, ib))
        pairs.append((ia, ib))
    flipped = _back_edges(n, pairs)
    directed = [(b, a) if (a, b) in flipped else (a, b) for a, b in pairs]
    layer = _layers(n, directed)
    width = [float((widths or {}).get(name, NODE_WIDTH)) for name in order]
    graph = _Graph(layer, width, directed)
    graph.order_layers()
    graph.place(node_height)
    return graph.result(order, pairs, flipped, node_height)


def _back_edges(n: int, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Edges that close a cycle in a depth-first search (iterative, in node order)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b in pairs:
        succ[a].append(b)
    state = [0] * n  # 0 new, 1 on the stack, 2 done
    back: set[tuple[int, int]] = set()
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, 0)]
        while stack:
            v, i = stack[-1]
            if i < len(succ[v]):
                stack[-1] = (v, i + 1)
                w = succ[v][i]
                if state[w] == 1:
                    back.add((v, w))
                elif state[w] == 0:
                    state[w] = 1
                    stack.append((w, 0))
            else:
                state[v] = 2
                stack.pop()
    return back


def _layers(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Longest-path layering (sources on layer 0), in a deterministic topological order."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for a, b in pairs:
        succ[a].append(b)
        indegree[b] += 1
    layer = [0] * n
    ready = [v for v in range(n) if indegree[v] == 0]
    heapq.heapify(ready)
    while ready:
        v = heapq.heappop(ready)
        for w in succ[v]:
            layer[w] = max(layer[w], layer[v] + 1)
            indegree[w] -= 1
            if indegree[w] == 0:
                heapq.heappush(ready, w)
    return layer


class _Graph:
    """The layered graph with virtual nodes: ids 0..n-1 are the real nodes, the others virtual."""

    def __init__(self, layer: list[int], width: list[float], pairs: list[tuple[int, int]]) -> None:
        self.n = len(layer)
        self.layer = list(layer)
        self.width = list(width)
        self.up: list[list[int]] = [[] for _ in layer]
        self.down: list[list[int]] = [[] for _ in layer]
        self.chains: dict[tuple[int, int], list[int]] = {}  # edge -> its nodes, source to target
        self.direct: set[tuple[int, int]] = set()  # long edges drawn without virtual nodes (over the budget)
        spans = sorted(pairs, key=lambda e: layer[e[1]] - layer[e[0]])
        budget = VIRTUAL_BUDGET
        for a, b in spans:
            need = layer[b] - layer[a] - 1
            if need > budget:
                self.direct.add((a, b))
                self.chains[a, b] = [a, b]
                continue
            budget -= need
            chain = [a]
            for lay in range(layer[a] + 1, layer[b]):
                chain.append(self._virtual(lay))
            chain.append(b)
            for u, v in zip(chain, chain[1:], strict=False):
                self.down[u].append(v)
                self.up[v].append(u)
            self.chains[a, b] = chain
        depth = max(self.layer, default=-1) + 1
        self.rows: list[list[int]] = [[] for _ in range(depth)]
        for v in self._initial_order():
            self.rows[self.layer[v]].append(v)
        self.pos = [0] * len(self.layer)
        self._number()
        self.x = [0.0] * len(self.layer)

    def _virtual(self, lay: int) -> int:
        self.layer.append(lay)
        self.width.append(DUMMY_WIDTH)
        self.up.append([])
        self.down.append([])
        return len(self.layer) - 1

    def _initial_order(self) -> list[int]:
        """Depth-first from each source in input order: connected nodes start next to each other."""
        done = [False] * len(self.layer)
        out: list[int] = []
        starts = [v for v in range(len(self.layer)) if not self.up[v]]
        for root in starts:
            stack = [root]
            while stack:
                v = stack.pop()
                if done[v]:
                    continue
                done[v] = True
                out.append(v)
                stack.extend(reversed(self.down[v]))
        return out

    def _number(self) -> None:
        for row in self.rows:
            for i, v in enumerate(row):
                self.pos[v] = i

    # -- ordering ----------------------------------------------------------------------------------------

    def order_layers(self) -> None:
        best = [list(r) for r in self.rows]
        best_crossings = self.crossings()
        for _ in range(SWEEPS):
            for lay in range(1, len(self.rows)):
                self._sort_row(lay, self.up)
            for lay in range(len(self.rows) - 2, -1, -1):
                self._sort_row(lay, self.down)
            now = self.crossings()
            if now < best_crossings:
                best, best_crossings = [list(r) for r in self.rows], now
            if best_crossings == 0:
                break
        self.rows = best
        self._number()

    def _sort_row(self, lay: int, neighbours: list[list[int]]) -> None:
        row = self.rows[lay]

        def key(v: int) -> tuple[float, int]:
            near = neighbours[v]
            if not near:
                return (float(self.pos[v]), self.pos[v])
            return (sum(self.pos[u] for u in near) / len(near), self.pos[v])

        row.sort(key=key)
        for i, v in enumerate(row):
            self.pos[v] = i

    def crossings(self) -> int:
        """Edge crossings between adjacent layers (inversions counted with a Fenwick tree)."""
        total = 0
        for lay in range(len(self.rows) - 1):
            ends = sorted((self.pos[u], self.pos[v]) for u in self.rows[lay] for v in self.down[u])
            size = len(self.rows[lay + 1])
            tree = [0] * (size + 1)
            for count, (_, p) in enumerate(ends):
                i, below = p + 1, 0
                while i > 0:
                    below += tree[i]
                    i -= i & -i
                total += count - below  # earlier edges ending right of p
                i = p + 1
                while i <= size:
                    tree[i] += 1
                    i += i & -i
        return total

    # -- coordinates -------------------------------------------------------------------------------------

    def place(self, node_height: float) -> None:
        for row in self.rows:
            left = 0.0
            for v in row:
                self.x[v] = left + self.width[v] / 2
                left += self.width[v] + GAP
        for _ in range(PLACEMENT_ROUNDS):
            for lay in range(1, len(self.rows)):
                self._pull(lay, self.up, self.down)
            for lay in range(len(self.rows) - 2, -1, -1):
                self._pull(lay, self.down, self.up)

    def _pull(self, lay: int, first: list[list[int]], second: list[list[int]]) -> None:
        """Move a layer's centres towards the mean of their neighbours' (``first`` side weighs more)."""
        row = self.rows[lay]
        want: list[float] = []
        weight: list[float] = []
        for v in row:
            near = first[v] or second[v]
            if near:
                want.append(sum(self.x[u] for u in near) / len(near))
                weight.append(1.0 if v < self.n else 4.0)  # straight long edges matter more
            else:
                want.append(self.x[v])
                weight.append(0.05)
        gaps = [(self.width[a] + self.width[b]) / 2 + GAP for a, b in zip(row, row[1:], strict=False)]
        for v, x in zip(row, _separated(want, weight, gaps), strict=True):
            self.x[v] = x

    # -- result ------------------------------------------------------------------------------------------

    def result(
        self, order: list[str], pairs: list[tuple[int, int]], flipped: set[tuple[int, int]], node_height: float
    ) -> Layout:
        lefts = [self.x[v] - self.width[v] / 2 for v in range(len(self.x))]
        rights = [self.x[v] + self.width[v] / 2 for v in range(len(self.x))]
        shift = MARGIN - min(lefts, default=0.0)
        step = node_height + LAYER_GAP

        def top(v: int) -> float:
            return MARGIN + self.layer[v] * step

        boxes = {
            name: Box(name, _r(lefts[v] + shift), _r(top(v)), self.width[v], node_height, self.layer[v])
            for v, name in enumerate(order)
        }
        ports_out = self._ports(self.down, shift)
        ports_in = self._ports(self.up, shift)
        routes = []
        for a, b in pairs:
            rev = (a, b) in flipped
            key = (b, a) if rev else (a, b)
            chain = self.chains[key]
            if key in self.direct:
                ends = [(self.x[v] + shift, top(v) + (node_height if i == 0 else 0)) for i, v in enumerate(chain)]
                routes.append(Route(order[a], order[b], _path(ends[::-1] if rev else ends), rev))
                continue
            points = [(ports_out[chain[0], chain[1]], top(chain[0]) + node_height)]
            for v in chain[1:-1]:
                points += [(self.x[v] + shift, top(v)), (self.x[v] + shift, top(v) + node_height)]
            points.append((ports_in[chain[-1], chain[-2]], top(chain[-1])))
            if rev:
                points.reverse()
            routes.append(Route(order[a], order[b], _path(points), rev))
        width = max(rights, default=0.0) + shift + MARGIN
        height = MARGIN * 2 + len(self.rows) * step - (LAYER_GAP if self.rows else 0)
        return Layout(boxes, routes, _r(max(width, MARGIN * 2)), _r(max(height, MARGIN * 2)))

    def _ports(self, side: list[list[int]], shift: float) -> dict[tuple[int, int], float]:
        """(node, neighbour) -> the x where that edge meets the node: spread along the box, in neighbour order."""
        out: dict[tuple[int, int], float] = {}
        for v, near in enumerate(side):
            ordered = sorted(near, key=lambda u: (self.x[u], self.pos[u]))
            span = self.width[v] * 0.6 if v < self.n else 0.0
            for i, u in enumerate(ordered):
                offset = span * ((i + 1) / (len(ordered) + 1) - 0.5)
                out[v, u] = self.x[v] + shift + offset
        return out


def _separated(want: list[float], weight: list[float], gaps: list[float]) -> list[float]:
    """Positions closest (weighted least squares) to ``want`` with ``x[i+1] - x[i] >= gaps[i]``.

    Pool-adjacent-violators on ``z[i] = x[i] - offset[i]``, which must not decrease.
    """
    offsets = [0.0]
    for g in gaps:
        offsets.append(offsets[-1] + g)
    blocks: list[list[float]] = []  # [mean, total weight, count]
    for target, w, off in zip(want, weight, offsets, strict=True):
        blocks.append([target - off, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks[-1]
            blocks[-1] = [(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2]
    out: list[float] = []
    for mean, _, count in blocks:
        start = len(out)
        out.extend(mean + offsets[start + k] for k in range(int(count)))
    return out


def _path(points: list[tuple[float, float]]) -> str:
    """Cubic curves between layers, straight lines through a virtual node's own layer."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{_r(x0)} {_r(y0)}"]
    for x1, y1 in rest:
        if x1 == x0:
            parts.append(f"L{_r(x1)} {_r(y1)}")
        else:
            mid = (y0 + y1) / 2
            parts.append(f"C{_r(x0)} {_r(mid)} {_r(x1)} {_r(mid)} {_r(x1)} {_r(y1)}")
        x0, y0 = x1, y1
    return " ".join(parts)


def _r(v: float) -> float:
    return round(v, 1)
