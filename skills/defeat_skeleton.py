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
    return (yield from api.attack("skeleton", max_steps))
