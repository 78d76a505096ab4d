"""rlgpt's built-in plugins, registered like any third-party plugin (``plugins.DEFAULT_PLUGINS``).

Each module implements hooks from ``rlgpt_cli.hookspecs`` and imports nothing heavy at module
level: the plugin host imports them all whenever plugins load.
"""
