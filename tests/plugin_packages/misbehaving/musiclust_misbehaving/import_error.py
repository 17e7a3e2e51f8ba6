"""Fails at import, as a plugin whose own dependency is missing does."""

import a_dependency_that_is_not_installed  # noqa: F401
