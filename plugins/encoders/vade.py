"""``vade``: a deep-clustering VAE with a Gaussian-mixture prior (VaDE, Jiang et al. 2017).

Training has three stages: an autoencoder pretraining (``pretrain_epochs``), a Gaussian
mixture fitted to the pretrained codes to initialise the prior (K given, or chosen by BIC over
``k_min..k_max`` when ``n_clusters=auto``: label-free), then joint training of the networks and
the prior on the ELBO with the mixture prior. Besides the latent (posterior means), it yields
cluster assignments, p(c|z) at the posterior mean: the ``from_encoder`` clusterer uses them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musiclust import Int, hookimpl
from musiclust.plugins.clusterers.selection import check_range, choose_k, k_params
from musiclust.plugins.encoders.ae import MLP_HIDDEN, MLPBranch
from musiclust.plugins.encoders.neural import VariationalEncoder, posterior


class VaDE(MLPBranch, VariationalEncoder):
    """Deep-clustering VAE with a Gaussian-mixture prior; yields clusters (from_encoder)."""

    name = "vade"
    accepts = frozenset({"vector", "matrix"})
    default_features = ("audio_stats",)
    params = (
        MLP_HIDDEN,
        *k_params(("bic",), "bic")[:3],  # n_clusters (or auto), k_min, k_max
        Int("pretrain_epochs", 100, low=0, high=100_000, help="autoencoder pretraining epochs"),
    )

    #: How ``n_clusters=auto`` scores each K (on the pretrained codes; never labels).
    criterion = "bic"

    def check(self) -> None:
        super().check()
        check_range(self)

    def build(self, specs: list[Any], cond_dim: int) -> Any:
        model = super().build(specs, cond_dim)
        model.prior = None  # set after pretraining, when K is known
        return model

    def pretrain(self, model: Any, data: Any, cfg: Any, X: Any) -> None:
        import dataclasses

        import torch

        from musiclust.plugins.encoders.nn.losses import reconstruction
        from musiclust.plugins.encoders.nn.nets import MixturePrior
        from musiclust.plugins.encoders.nn.train import train

        specs = model.branches

        def ae_loss(net: Any, batch: Any, beta: float) -> tuple[Any, dict[str, Any], None]:
            mu, _ = net.encode(batch.inputs, batch.cond)
            recon = net.decode(mu, batch.cond)
            terms = reconstruction(recon, batch.inputs, batch.masks, specs, "sum")
            total = sum(s.weight * terms[s.name] for s in specs).mean()
            return total, {"loss": total.detach()}, None

        groups = np.arange(len(data)) if X.groups is None else X.groups
        if self.pretrain_epochs:
            stage = dataclasses.replace(
                cfg, epochs=self.pretrain_epochs, schedule="constant", patience=10**9
            )
            self.pretrain_history_ = train(model, data, ae_loss, stage, groups=groups).history
        codes = posterior(model, data)[0]  # on the model's device (CUDA after training there)
        mixture = self._initial_mixture(codes)
        prior = MixturePrior(mixture.n_components, codes.shape[1])
        with torch.no_grad():
            prior.logits.copy_(torch.as_tensor(np.log(mixture.weights_ + 1e-8)))
            prior.means.copy_(torch.as_tensor(mixture.means_))
            prior.logvars.copy_(torch.as_tensor(np.log(mixture.covariances_)))
        model.prior = prior.to(next(model.parameters()).device)
        self.n_clusters_ = int(mixture.n_components)

    def _initial_mixture(self, codes: np.ndarray) -> Any:
        from sklearn.mixture import GaussianMixture

        def fit(k: int) -> tuple[np.ndarray, GaussianMixture]:
            model = GaussianMixture(
                k, covariance_type="diag", n_init=3, reg_covar=1e-4, random_state=self.random_state
            ).fit(codes)
            return model.predict(codes), model

        _, mixture = choose_k(self, codes, fit, lambda _, model: -float(model.bic(codes)))
        return mixture

    def loss_fn(self, specs: list[Any]) -> Any:
        from musiclust.plugins.encoders.nn.losses import kl_per_dim, mixture_kl, reconstruction

        def loss(model: Any, batch: Any, beta: float) -> tuple[Any, dict[str, Any], Any]:
            recon, mu, logvar, z = model(batch.inputs, batch.cond)
            terms = reconstruction(recon, batch.inputs, batch.masks, specs, "sum")
            total = sum(s.weight * terms[s.name] for s in specs).mean()
            kl, _ = mixture_kl(mu, logvar, z, model.prior)
            total = total + beta * kl.mean()
            parts = {f"recon.{k}": v.detach().mean() for k, v in terms.items()}
            parts["kl"] = kl.detach().mean()
            parts["loss"] = total.detach()
            return total, parts, kl_per_dim(mu, logvar).mean(dim=0)

        return loss

    def cluster_latent(self, Z: np.ndarray) -> np.ndarray:
        """The most probable mixture component of each latent point (posterior means)."""
        import torch

        with torch.no_grad():
            joint = self.module_.prior.log_joint(torch.as_tensor(Z, dtype=torch.float32))
        return joint.argmax(dim=1).numpy().astype(int)

    def diagnostics(self) -> dict[str, float]:
        return {**super().diagnostics(), "encoder.n_clusters": float(self.n_clusters_)}


@hookimpl
def register_encoders(register):
    register(VaDE)
