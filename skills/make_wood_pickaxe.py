SKILL = {
    "name": "make_wood_pickaxe",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Make a wood pickaxe (uses 1 wood) next to a table: walks to the known ones, placing "
        "a missing one when the inventory affords it. Fails when materials are missing."
    ),
    "preconditions": {"inventory": {"wood": 1}, "nearby": ["table"]},
    "effects": {"inventory": {"wood_pickaxe": 1}, "nearby": []},
    "params": {},
}


def act(api):
    return (yield from api.make("wood_pickaxe"))
