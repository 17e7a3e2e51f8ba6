"""Built-in plugins, one family per folder; each module is one entry point in the ``musiclust``
group, declared in pyproject.toml exactly as a third-party package declares its own."""
