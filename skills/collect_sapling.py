SKILL = {
    "name": "collect_sapling",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Collect `n` sapling from the nearest grass, finding one first (explores when none is"
        " known). Grass gives a sapling one time in ten. Succeeds once `n` more are held (or "
        "at the cap of 9)."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {"sapling": 1}, "nearby": []},
    "params": {"n": 1},
}


def act(api, n=1):
    return (yield from api.collect("sapling", n))
