SKILL = {
    "name": "collect_coal",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Collect `n` coal from the nearest coal ore, finding one first (explores when none is"
        " known). Needs a wood_pickaxe (fails at once without). Succeeds once `n` more are "
        "held (or at the cap of 9)."
    ),
    "preconditions": {"inventory": {"wood_pickaxe": 1}, "nearby": []},
    "effects": {"inventory": {"coal": 1}, "nearby": []},
    "params": {"n": 1},
}


def act(api, n=1):
    return (yield from api.collect("coal", n))
