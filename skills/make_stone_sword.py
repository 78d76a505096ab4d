SKILL = {
    "name": "make_stone_sword",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Make a stone sword (uses 1 wood, 1 stone) next to a table: walks to the known ones, "
        "placing a missing one when the inventory affords it. Collects missing materials first."
    ),
    "preconditions": {"inventory": {"wood": 1, "stone": 1}, "nearby": ["table"]},
    "effects": {"inventory": {"stone_sword": 1}, "nearby": []},
    "params": {},
}


def act(api):
    yield from api.gather("stone_sword")  # what was put by for it may be gone (shelter walls use stone)
    return (yield from api.make("stone_sword"))
