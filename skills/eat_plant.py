SKILL = {
    "name": "eat_plant",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Eat a ripe plant: go back to a sapling planted earlier (planting one when none is "
        "known), stand guard next to it, driving off cows and zombies, until it ripens (about "
        "300 steps after planting), then eat it (+4 food). Fails after `max_steps` steps."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {"food": 1}, "nearby": []},
    "params": {"max_steps": 1200},
}


def act(api, max_steps=1200):
    start = api.step
    while api.step - start < max_steps:
        if api.seen("ripe_plant"):
            if (yield from api.navigate_to("ripe_plant", 100)) and (yield from api.face("ripe_plant")):
                eaten = api.achievements.get("eat_plant", 0)
                yield "do"
                if api.achievements.get("eat_plant", 0) > eaten:
                    return True
            continue
        if not api.seen("plant"):  # none planted, or trampled: plant one
            if not api.has("sapling") and not (yield from api.collect("sapling", 1, max_steps=300)):
                continue
            yield from api.place("plant")
            continue
        if not api.nearby("plant"):
            yield from api.navigate_to("plant", 100)
            continue
        # A cow, zombie or skeleton next to the sapling destroys it: drive them off first.
        for creature in ("cow", "zombie"):
            if any(max(abs(c[0] - p[0]), abs(c[1] - p[1])) <= 2
                   for c in api.seen(creature) for p in api.seen("plant")):
                yield from api.attack(creature, 20)
        yield from api.survive()
        yield "noop"
    return False
