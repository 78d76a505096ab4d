SKILL = {
    "name": "collect_drink",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Drink `n` times from the nearest water, finding one first (explores when none is "
        "known). Succeeds once drink rose by `n` (or is full at 9)."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {"drink": 1}, "nearby": []},
    "params": {"n": 1},
}


def act(api, n=1):
    return (yield from api.collect("drink", n))
