SKILL = {
    "name": "wake_up",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Sleep until energy is full, first sealing the player into a pocket dug into stone "
        "when a wood pickaxe allows; succeeds on waking with full energy."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {}, "nearby": []},
    "params": {},
}


def act(api):
    return (yield from api.sleep())
