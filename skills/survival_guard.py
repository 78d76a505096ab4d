SKILL = {
    "name": "survival_guard",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "The survival guard the runner hands control to while the player is in danger: hit "
        "a zombie within reach, step out of an arrow's or skeleton's line, eat or drink when "
        "nearly out. Returns True once safe."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {}, "nearby": []},
    "params": {},
}


def act(api):
    return (yield from api.guard())
