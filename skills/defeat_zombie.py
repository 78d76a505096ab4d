SKILL = {
    "name": "defeat_zombie",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Hunt the nearest zombie (grassland, mostly at night) and hit it until it dies; a "
        "sword helps. Fails when none is found within `max_steps` steps."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {}, "nearby": []},
    "params": {"max_steps": 300},
}


def act(api, max_steps=300):
    return (yield from api.attack("zombie", max_steps))
