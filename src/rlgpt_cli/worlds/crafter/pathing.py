"""Shortest paths on the player's seen map, compiled with numba.

Every macro-action walks somewhere, and each leg starts with a Dijkstra search over the
64x64 map: in pure Python it was two thirds of `rlgpt learn`'s time. This is the same
search: the heap orders entries by (distance, x, y), and no two entries are equal (a cell is
pushed again only with a strictly smaller distance), so cells pop in exactly the order
``heapq`` gave and the distances and parents are the same, bit for bit. The heap's entries
hold the cell as one key (x * height + y, which orders like (x, y)) and move by holes rather
than swaps: the same order, fewer loads and stores.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit  # a dependency: world generation needs it too


@njit(cache=True)
def _dijkstra(cost, sx, sy, goals, use_goals, hd, hk):
    w, h = cost.shape
    dist = np.full((w, h), np.inf)
    px = np.full((w, h), -1, np.int64)
    py = np.full((w, h), -1, np.int64)
    # The heap: distance hd and cell key hk = x * h + y (ordering keys orders (x, y), since
    # y < h), in the caller's scratch arrays of 4 * w * h + 1 entries: each cell is relaxed at
    # most once per neighbour, so at most 4 pushes a cell, plus the start.
    dist[sx, sy] = 0.0
    hd[0], hk[0] = 0.0, sx * h + sy
    size = 1
    dx = (-1, 1, 0, 0)
    dy = (0, 0, -1, 1)
    while size > 0:
        d, key = hd[0], hk[0]
        x, y = key // h, key % h
        size -= 1
        if size > 0:  # move the last entry to the root and sift it down
            ld, lk = hd[size], hk[size]
            i = 0
            while True:
                left, right, best = 2 * i + 1, 2 * i + 2, i
                bd, bk = ld, lk
                if left < size and (hd[left] < bd or (hd[left] == bd and hk[left] < bk)):
                    best, bd, bk = left, hd[left], hk[left]
                if right < size and (hd[right] < bd or (hd[right] == bd and hk[right] < bk)):
                    best, bd, bk = right, hd[right], hk[right]
                if best == i:
                    break
                hd[i], hk[i] = bd, bk
                i = best
            hd[i], hk[i] = ld, lk
        if d > dist[x, y]:
            continue
        if use_goals and goals[x, y]:
            return dist, px, py, x, y
        for k in range(4):
            nx, ny = x + dx[k], y + dy[k]
            if 0 <= nx < w and 0 <= ny < h:
                nd = d + cost[nx, ny]
                if nd < dist[nx, ny]:
                    dist[nx, ny] = nd
                    px[nx, ny], py[nx, ny] = x, y
                    nk = nx * h + ny
                    i = size
                    size += 1
                    while i > 0:  # sift the new entry up
                        parent = (i - 1) // 2
                        pd, pk = hd[parent], hk[parent]
                        if not (nd < pd or (nd == pd and nk < pk)):
                            break
                        hd[i], hk[i] = pd, pk
                        i = parent
                    hd[i], hk[i] = nd, nk
    return dist, px, py, -1, -1


_SCRATCH = threading.local()


def _heap(cells: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's heap arrays for a map of ``cells`` cells, reused from call to call (fresh
    ones each call were 400 KB of allocation: page faults on every search)."""
    cap = 4 * cells + 1
    heap = getattr(_SCRATCH, "heap", None)
    if heap is None or heap[0].shape[0] < cap:
        heap = _SCRATCH.heap = (np.empty(cap), np.empty(cap, np.int64))
    return heap


def shortest_paths(cost: np.ndarray, start: tuple[int, int], goals=None):
    """``(dist, (px, py), reached)``: distances from ``start`` over per-cell step ``cost``
    (inf: never), each cell's predecessor on its shortest path (-1: none), and the first goal
    cell reached (None without ``goals``, or when no goal is reachable; the search stops there)."""
    mask = np.zeros(cost.shape, np.bool_)
    for cell in goals or ():
        mask[cell] = True
    dist, px, py, rx, ry = _dijkstra(np.ascontiguousarray(cost, np.float64), int(start[0]), int(start[1]),
                                     mask, goals is not None, *_heap(cost.size))
    return dist, (px, py), (None if rx < 0 else (int(rx), int(ry)))


@njit(cache=True)
def window_sum(mask, w, h):
    """Count of True cells of ``mask`` in the w x h window centred on each cell (zero padding),
    as float64. Counts are small integers, so this is exactly what a float cumulative sum
    gives (the numpy version it replaces), in one pass and no temporary arrays but one."""
    mw, mh = mask.shape
    c = np.zeros((mw + 1, mh + 1), np.int64)  # c[i, j]: True cells in mask[:i, :j]
    for i in range(mw):
        row = 0
        for j in range(mh):
            row += mask[i, j]
            c[i + 1, j + 1] = c[i, j + 1] + row
    out = np.empty((mw, mh))
    for i in range(mw):
        x0, x1 = max(i - w // 2, 0), min(i + w - w // 2, mw)
        for j in range(mh):
            y0, y1 = max(j - h // 2, 0), min(j + h - h // 2, mh)
            out[i, j] = c[x1, y1] - c[x0, y1] - c[x1, y0] + c[x0, y0]
    return out


def unwind(parents, cell, origin) -> list[tuple[int, int]]:
    """The path from ``origin`` (excluded) to ``cell`` (included) along ``parents``."""
    px, py = parents
    path = [cell]
    while path[-1] != origin:
        x, y = path[-1]
        if px[x, y] < 0:
            raise ValueError(f"cell {cell} is not reachable from {origin}")
        path.append((int(px[x, y]), int(py[x, y])))
    return path[::-1][1:]


def warm() -> None:
    """Compile (or load the cached compilation) now, outside any skill's time budget."""
    shortest_paths(np.ones((2, 2)), (0, 0))
    window_sum(np.ones((2, 2), np.bool_), 1, 1)
