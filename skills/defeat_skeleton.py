SKILL = {
    "name": "defeat_skeleton",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Hunt the nearest skeleton in the dark cave tunnels (digging through stone with a "
        "pickaxe to reach them) and hit it until it dies; a sword helps. Fails when none is "
        "found within `max_steps` steps."
    ),
    "preconditions": {"inventory": {"wood_pickaxe": 1}, "nearby": []},
    "effects": {"inventory": {}, "nearby": []},
    "params": {"max_steps": 600},
}


def act(api, max_steps=600):
    # A hit creature may step away alive (attack then returns too): hunt until the kill counts.
    start, before = api.step, api.achievements.get("defeat_skeleton", 0)
    while api.step - start < max_steps:
        yield from api.attack("skeleton", max_steps - (api.step - start))
        if api.achievements.get("defeat_skeleton", 0) > before:
            return True
    return False
