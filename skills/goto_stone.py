SKILL = {
    "name": "goto_stone",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Walk next to the nearest known stone block, exploring toward likely places while "
        "none has been seen. Succeeds when standing next to one; fails after `max_steps` "
        "steps."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {}, "nearby": ["stone"]},
    "params": {"max_steps": 300},
}


def act(api, max_steps=300):
    return (yield from api.navigate_to("stone", max_steps))
