SKILL = {
    "name": "place_stone",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Place a stone block in front of the player on grass, sand, path, water or lava (uses"
        " 1 stone): bridges water, blocks lava and walls off monsters."
    ),
    "preconditions": {"inventory": {"stone": 1}, "nearby": []},
    "effects": {"inventory": {}, "nearby": ["stone"]},
    "params": {},
}


def act(api):
    return (yield from api.place("stone"))
