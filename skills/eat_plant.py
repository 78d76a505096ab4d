SKILL = {
    "name": "eat_plant",
    "version": 1,
    "kind": "code",
    "world": "crafter",
    "description": (
        "Eat a ripe plant: plant a sapling at the edge of the mountains (collecting one first), "
        "wall it in with stone (`fence`) so no cow or zombie can trample it, and wait sealed "
        "into the stone close by (it grows only while the player is near), out only to drink "
        "or eat, until it ripens about 300 steps later; then dig in and eat it (+4 food). "
        "Fails after `max_steps` steps."
    ),
    "preconditions": {"inventory": {}, "nearby": []},
    "effects": {"inventory": {"food": 1}, "nearby": []},
    "params": {"max_steps": 1500},
}

RIPENS = 300  # steps a sapling takes to ripen while the player is near


def act(api, max_steps=1500):
    start = api.step
    planted = None  # the step this skill's sapling went in: a sapling of unknown age may take longer
    while api.step - start < max_steps:
        if api.seen("ripe_plant"):
            if (yield from api.navigate_to("ripe_plant", 100)) and (yield from api.face("ripe_plant")):
                eaten = api.achievements.get("eat_plant", 0)
                yield "do"
                if api.achievements.get("eat_plant", 0) > eaten:
                    return True
            continue
        if planted is None or not api.seen("plant"):  # plant one of our own (again if trampled)
            if not api.has("sapling") and not (yield from api.collect("sapling", 1, max_steps=300)):
                continue
            # Full before the wait, so that it needs no long trip for food.
            if api.inventory["drink"] < 8 and (yield from api.drink()):
                continue
            if api.inventory["food"] < 7 and (yield from api.eat()):
                continue
            if not api.nearby("stone", 5):  # near stone, where the wait can be spent sealed in
                yield from api.navigate_to("stone", 200)
                continue
            if (yield from api.place("plant")):
                planted = api.step
            continue
        if not (yield from api.fence("plant")):
            yield from api.survive()
            yield "noop"
            continue
        yield from api.survive()
        if api.step - planted < RIPENS:
            yield from api.shelter(60)  # wait sealed in
        elif not api.nearby("plant", 3):
            yield from api.navigate_to("plant", 100)  # ripe by now: go and see
        yield "noop"
    return False
