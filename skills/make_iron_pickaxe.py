SKILL = {
    "name": "make_iron_pickaxe",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Make an iron pickaxe (uses 1 wood, 1 coal, 1 iron) next to a table and a furnace: "
        "walks to the known ones, placing a missing one when the inventory affords it. Fails "
        "when materials are missing."
    ),
    "preconditions": {"inventory": {"wood": 1, "coal": 1, "iron": 1}, "nearby": ["table", "furnace"]},
    "effects": {"inventory": {"iron_pickaxe": 1}, "nearby": []},
    "params": {},
}


def act(api):
    return (yield from api.make("iron_pickaxe"))
