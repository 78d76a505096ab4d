SKILL = {
    "name": "collect_diamond",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Collect `n` diamond from the nearest diamond, finding one first (explores when none "
        "is known). Needs a iron_pickaxe (fails at once without). Succeeds once `n` more are "
        "held (or at the cap of 9)."
    ),
    "preconditions": {"inventory": {"iron_pickaxe": 1}, "nearby": []},
    "effects": {"inventory": {"diamond": 1}, "nearby": []},
    "params": {"n": 1},
}


def act(api, n=1):
    return (yield from api.collect("diamond", n))
