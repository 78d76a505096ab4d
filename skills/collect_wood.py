SKILL = {
    "name": "collect_wood",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Collect `n` wood from the nearest tree, finding one first (explores when none is "
        "known). Succeeds once `n` more are held (or at the cap of 9)."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {"wood": 1}, "nearby": []},
    "params": {"n": 1},
}


def act(api, n=1):
    return (yield from api.collect("wood", n))
