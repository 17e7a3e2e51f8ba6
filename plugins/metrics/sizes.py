"""``sizes``: how the clips spread over clusters (the first thing to check for collapse)."""

from __future__ import annotations

from musiclust import Evaluation, Metric, hookimpl


class Sizes(Metric):
    """Number of clusters, noise share, largest-cluster share and cluster-size entropy."""

    name = "sizes"

    def compute(self, ev: Evaluation) -> dict[str, float | str | None]:
        return dict(ev.sizes())  # the framework's own definition (every run has them)


@hookimpl
def register_metrics(register):
    register(Sizes)
