SKILL = {
    "name": "make_wood_sword",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Make a wood sword (uses 1 wood) next to a table: walks to the known ones, placing a "
        "missing one when the inventory affords it. Fails when materials are missing."
    ),
    "preconditions": {"inventory": {"wood": 1}, "nearby": ["table"]},
    "effects": {"inventory": {"wood_sword": 1}, "nearby": []},
    "params": {},
}


def act(api):
    return (yield from api.make("wood_sword"))
