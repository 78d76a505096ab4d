SKILL = {
    "name": "collect_drink",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Drink `n` times from the nearest water, finding one first (explores when none is "
        "known). Succeeds once drink rose by `n`, or after one sip when it is full at 9."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {"drink": 1}, "nearby": []},
    "params": {"n": 1},
}


def act(api, n=1):
    if api.has("drink", 9):  # full: drinking still counts (collect_drink), so take one sip
        if not ((yield from api.navigate_to("water")) and (yield from api.face("water"))):
            return False
        yield "do"
        return True
    return (yield from api.collect("drink", n))
