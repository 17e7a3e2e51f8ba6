"""A valid clusterer that fails while fitting: the run must end FAILED, not RUNNING."""

from musiclust import Clusterer, hookimpl


class Explode(Clusterer):
    """Raises during fit."""

    name = "explode"

    def cluster(self, Z):
        raise RuntimeError("the explode clusterer always fails")


@hookimpl
def register_clusterers(register):
    register(Explode)
