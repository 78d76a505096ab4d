"""Worlds the agents act in: the registry (:mod:`.base`) and the built-in worlds."""
