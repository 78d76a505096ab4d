"""The symbolic Crafter observation: what the player sees, as small integer arrays.

The layout is fixed by ``docs/CONTRACTS.md``: a 2x9x7 local view (crafter's
material ids, then object ids) centred on the player at ``[4, 3]``, the 16
inventory counts in crafter's ``items`` order, daylight, facing, position and
whether the player sleeps. It holds exactly what crafter's own 64x64 image
shows (the same 9x7 window and inventory) plus the player's own position and
facing, which an agent counting its moves knows anyway.
"""

from __future__ import annotations

import numpy as np
from crafter import objects

VIEW = (9, 7)  # crafter's local view: 9 wide, 7 tall (9x9 minus two inventory rows)
OFFSET = (VIEW[0] // 2, VIEW[1] // 2)  # the player's cell in the view
N_ITEMS = 16

#: Object ids of the view's channel 1 (0 = no object). Ripe plants get their own id.
OBJECT_IDS = {"player": 1, "cow": 2, "zombie": 3, "skeleton": 4, "arrow": 5, "plant": 6, "ripe_plant": 7}
_CLASS_IDS = (
    (objects.Player, 1), (objects.Cow, 2), (objects.Zombie, 3),
    (objects.Skeleton, 4), (objects.Arrow, 5), (objects.Plant, 6),
)

#: Keys, shapes and dtypes of the observation, in the space's order.
FIELDS = {
    "view": ((2, *VIEW), np.uint8),
    "inventory": ((N_ITEMS,), np.uint8),
    "daylight": ((1,), np.float32),
    "facing": ((2,), np.int8),
    "pos": ((2,), np.int16),
    "sleeping": ((1,), np.uint8),
}


def observation_space():
    """The ``gymnasium.spaces.Dict`` of the symbolic observation."""
    from gymnasium import spaces

    return spaces.Dict({
        "view": spaces.Box(0, 255, FIELDS["view"][0], np.uint8),
        "inventory": spaces.Box(0, 9, (N_ITEMS,), np.uint8),
        "daylight": spaces.Box(0.0, 1.0, (1,), np.float32),
        "facing": spaces.Box(-1, 1, (2,), np.int8),
        "pos": spaces.Box(0, 63, (2,), np.int16),
        "sleeping": spaces.Box(0, 1, (1,), np.uint8),
    })


def empty(batch: int | None = None) -> dict[str, np.ndarray]:
    """Zeroed observation arrays, with a leading batch axis when ``batch`` is given."""
    lead = () if batch is None else (batch,)
    return {key: np.zeros(lead + shape, dtype) for key, (shape, dtype) in FIELDS.items()}


def object_id(obj) -> int:
    """The view id of a crafter object (subclasses included)."""
    for cls, ident in _CLASS_IDS:
        if isinstance(obj, cls):
            if ident == 6 and obj.ripe:
                return 7
            return ident
    return 0  # fences and other objects crafter does not create


def write_view(view: np.ndarray, world, player) -> None:
    """Write the 2x9x7 local view around ``player`` into ``view``."""
    x, y = player.pos
    w, h = world.area
    x0, y0 = x - OFFSET[0], y - OFFSET[1]
    x1, y1 = x0 + VIEW[0], y0 + VIEW[1]
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        view[0] = world._mat_map[x0:x1, y0:y1]
        things = world._obj_map[x0:x1, y0:y1].ravel()
        ox = oy = 0
    else:  # part of the window lies outside the world: those cells stay 0
        ax, ay, bx, by = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        view[0] = 0
        ox, oy = ax - x0, ay - y0
        view[0, ox:ox + bx - ax, oy:oy + by - ay] = world._mat_map[ax:bx, ay:by]
        inside = np.zeros(VIEW, np.uint32)
        inside[ox:ox + bx - ax, oy:oy + by - ay] = world._obj_map[ax:bx, ay:by]
        things = inside.ravel()
    view[1] = 0
    cells = things.nonzero()[0]
    objs = world._objects
    layer = view[1]
    for cell, index in zip(cells.tolist(), things[cells].tolist()):
        layer[divmod(cell, VIEW[1])] = object_id(objs[index])


def fill(out: dict[str, np.ndarray], index: int, world, player) -> None:
    """Write the observation of ``player`` into row ``index`` of batched arrays (:func:`empty`)."""
    write_view(out["view"][index], world, player)
    out["inventory"][index] = list(player.inventory.values())
    out["daylight"][index, 0] = world.daylight
    out["facing"][index] = player.facing
    out["pos"][index] = player.pos
    out["sleeping"][index, 0] = player.sleeping


def observe(world, player) -> dict[str, np.ndarray]:
    """A fresh symbolic observation of ``player`` in ``world``."""
    view = np.empty((2, *VIEW), np.uint8)
    write_view(view, world, player)
    return {
        "view": view,
        "inventory": np.fromiter(player.inventory.values(), np.uint8, N_ITEMS),
        "daylight": np.array([world.daylight], np.float32),
        "facing": np.array(player.facing, np.int8),
        "pos": np.array(player.pos, np.int16),
        "sleeping": np.array([player.sleeping], np.uint8),
    }
