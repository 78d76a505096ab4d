SKILL = {
    "name": "place_plant",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Plant a sapling on a grass tile next to the player (uses 1 sapling); it ripens into "
        "food if no cow or zombie eats it first."
    ),
    "preconditions": {"inventory": {"sapling": 1}, "nearby": []},
    "effects": {"inventory": {}, "nearby": ["plant"]},
    "params": {},
}


def act(api):
    return (yield from api.place("plant"))
