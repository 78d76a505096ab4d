SKILL = {
    "name": "survive",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Keep the player alive now: fight adjacent monsters, drink, eat or sleep when a vital"
        " is low, shelter at night. Takes no step when all is well. Always succeeds."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {}, "nearby": []},
    "params": {},
}


def act(api):
    return (yield from api.survive())
