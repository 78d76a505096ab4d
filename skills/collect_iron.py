SKILL = {
    "name": "collect_iron",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Collect `n` iron from the nearest iron ore, finding one first (explores when none is"
        " known). Needs a stone_pickaxe (fails at once without). Succeeds once `n` more are "
        "held (or at the cap of 9)."
    ),
    "preconditions": {"inventory": {"stone_pickaxe": 1}, "nearby": []},
    "effects": {"inventory": {"iron": 1}, "nearby": []},
    "params": {"n": 1},
}


def act(api, n=1):
    return (yield from api.collect("iron", n))
