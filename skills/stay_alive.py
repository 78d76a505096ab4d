SKILL = {
    "name": "stay_alive",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Stay alive for `steps` steps: first a wood pickaxe (so the nights can be spent "
        "sealed into stone), then drink, eat, fight what comes close and shelter at night. "
        "Succeeds when the steps have passed."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {}, "nearby": []},
    "params": {"steps": 300},
}


def act(api, steps=300):
    start = api.step
    while api.step - start < steps:
        left = steps - (api.step - start)
        if not api.has("wood_pickaxe"):
            if not api.can_make("wood_pickaxe"):
                yield from api.collect("wood", 3 - api.inventory["wood"], max_steps=min(left, 200))
            yield from api.make("wood_pickaxe", max_steps=min(left, 60))
        before = api.step
        yield from api.survive()
        if api.step == before:
            yield "noop"
    return True
