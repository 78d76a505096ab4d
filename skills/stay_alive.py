SKILL = {
    "name": "stay_alive",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Stay alive for `steps` steps: first a wood pickaxe and a wood sword, and by day a few "
        "stones (so a night can be spent sealed into stone, or walled in on open ground, and a "
        "zombie dies in 3 hits rather than 5), then drink, eat, fight what comes close and "
        "shelter at night. Succeeds when the steps have passed."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {}, "nearby": []},
    "params": {"steps": 300},
}

STONE = 6  # a two-cell pocket walled in on open ground has six sides
TOOLS = ("wood_pickaxe", "wood_sword")


def act(api, steps=300):
    start = api.step
    while api.step - start < steps:
        left = steps - (api.step - start)
        missing = [tool for tool in TOOLS if not api.has(tool)]
        if missing:
            wood = len(missing) + (0 if api.seen("table") else 2)  # a table takes 2
            if api.inventory["wood"] < wood:
                yield from api.collect("wood", wood - api.inventory["wood"], max_steps=min(left, 200))
            for tool in missing:
                yield from api.make(tool, max_steps=min(left, 60))
        elif api.inventory["stone"] < STONE and api.daylight > 0.5 and api.nearby("stone", 10):
            yield from api.collect("stone", STONE - api.inventory["stone"], max_steps=min(left, 150))
        before = api.step
        yield from api.survive()
        if api.step == before:
            yield "noop"
    return True
