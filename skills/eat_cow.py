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
    return (yield from api.attack("cow", max_steps))
