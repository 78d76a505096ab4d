SKILL = {
    "name": "place_table",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Place a crafting table on a free grass, sand or path tile next to the player (uses 2"
        " wood). Tools are made near a table."
    ),
    "preconditions": {"inventory": {"wood": 2}, "nearby": []},
    "effects": {"inventory": {}, "nearby": ["table"]},
    "params": {},
}


def act(api):
    return (yield from api.place("table"))
