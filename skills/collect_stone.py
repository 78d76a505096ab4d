SKILL = {
    "name": "collect_stone",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Collect `n` stone from the nearest stone block, finding one first (explores when "
        "none is known). Needs a wood_pickaxe (fails at once without). Succeeds once `n` more"
        " are held (or at the cap of 9)."
    ),
    "preconditions": {"inventory": {"wood_pickaxe": 1}, "nearby": []},
    "effects": {"inventory": {"stone": 1}, "nearby": []},
    "params": {"n": 1},
}


def act(api, n=1):
    return (yield from api.collect("stone", n))
