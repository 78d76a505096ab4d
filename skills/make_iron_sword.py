SKILL = {
    "name": "make_iron_sword",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Make an iron sword (uses 1 wood, 1 coal, 1 iron) next to a table and a furnace: "
        "walks to the known ones, placing a missing one when the inventory affords it. Collects missing materials first."
    ),
    "preconditions": {"inventory": {"wood": 1, "coal": 1, "iron": 1}, "nearby": ["table", "furnace"]},
    "effects": {"inventory": {"iron_sword": 1}, "nearby": []},
    "params": {},
}


def act(api):
    yield from api.gather("iron_sword")  # what was put by for it may be gone (shelter walls use stone)
    return (yield from api.make("iron_sword"))
