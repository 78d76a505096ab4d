SKILL = {
    "name": "explore",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Walk toward the largest unexplored areas for `steps` steps, biased toward where "
        "`hint` (a material such as \"iron\" or a creature such as \"cow\") is likely. Use it "
        "when nothing needed is known yet. Always succeeds."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {}, "nearby": []},
    "params": {"steps": 50, "hint": None},
}


def act(api, steps=50, hint=None):
    return (yield from api.explore(steps, hint))
