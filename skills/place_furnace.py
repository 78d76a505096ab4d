SKILL = {
    "name": "place_furnace",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Place a furnace (uses 4 stone), next to the nearest known table when one is known, "
        "so that iron tools can be made with both in reach."
    ),
    "preconditions": {"inventory": {"stone": 4}, "nearby": []},
    "effects": {"inventory": {}, "nearby": ["furnace"]},
    "params": {},
}


def act(api):
    if api.seen("table") and not api.nearby("table", 1):
        yield from api.navigate_to("table", 100)
    yield from api.gather("furnace")  # what was put by for it may be gone (shelter walls use stone)
    return (yield from api.place("furnace"))
