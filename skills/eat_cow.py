SKILL = {
    "name": "eat_cow",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Hunt the nearest cow (exploring grassland for one) and hit it until it dies, which "
        "eats it (+6 food). Fails when no cow is found within `max_steps` steps."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {"food": 1}, "nearby": []},
    "params": {"max_steps": 300},
}


def act(api, max_steps=300):
    # A hit creature may step away alive (attack then returns too): hunt until the kill counts.
    start, before = api.step, api.achievements.get("eat_cow", 0)
    while api.step - start < max_steps:
        yield from api.attack("cow", max_steps - (api.step - start))
        if api.achievements.get("eat_cow", 0) > before:
            return True
    return False
