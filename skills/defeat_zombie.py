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
    # A hit creature may step away alive (attack then returns too): hunt until the kill counts.
    start, before = api.step, api.achievements.get("defeat_zombie", 0)
    while api.step - start < max_steps:
        yield from api.attack("zombie", max_steps - (api.step - start))
        if api.achievements.get("defeat_zombie", 0) > before:
            return True
    return False
