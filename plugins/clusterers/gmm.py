"""``gmm``: Gaussian mixture; K given or chosen by BIC (default), AIC, the label-free rule of a
search, or an internal score."""

from __future__ import annotations

import numpy as np

from musiclust import Choice, Clusterer, Float, Int, hookimpl
from musiclust.plugins.clusterers.selection import (
    INTERNAL,
    LABEL_FREE,
    check_range,
    choose_k,
    k_params,
)


class GaussianMixtureClusterer(Clusterer):
    """Gaussian mixture model; 'auto' picks K by BIC unless another criterion is named."""

    name = "gmm"
    params = (
        *k_params(("bic", "aic", LABEL_FREE, *INTERNAL), "bic"),
        Choice(
            "covariance",
            "full",
            choices=("full", "diag", "tied", "spherical"),
            searchable=True,
            help="covariance structure of each component",
        ),
        Int("n_init", 3, low=1, high=100, help="restarts; the best likelihood is kept"),
        Float(
            "reg_covar", 1e-6, low=1e-12, high=1.0, log=True, help="added to covariance diagonals"
        ),
    )

    def check(self) -> None:
        check_range(self)

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.mixture import GaussianMixture

        def fit(k: int) -> tuple[np.ndarray, GaussianMixture]:
            model = GaussianMixture(
                n_components=k,
                covariance_type=self.covariance,
                n_init=self.n_init,
                reg_covar=self.reg_covar,
                random_state=self.random_state,
            ).fit(Z)
            return model.predict(Z), model

        def information(labels: np.ndarray, model: GaussianMixture) -> float:
            return -float(getattr(model, self.criterion)(Z))

        own = information if self.criterion in ("bic", "aic") else None
        labels, self.model_ = choose_k(self, Z, fit, own)
        return labels

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict(Z)


@hookimpl
def register_clusterers(register):
    register(GaussianMixtureClusterer)
