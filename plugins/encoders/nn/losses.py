"""Losses of the VAE family, per sample.

``sum`` (the default) sums the reconstruction over a sample's inputs (a Gaussian likelihood
with unit variance: half the squared error) and the KL over latent dimensions, then averages
over the batch, so ``beta`` weighs the two terms as the ELBO defines them. ``mean`` is the
published hybrid VAE's loss: mean squared errors and a KL averaged over batch *and* latent
dimensions, which makes the effective beta hundreds of times smaller than its nominal value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from musiclust.plugins.encoders.nn.nets import BranchSpec, MixturePrior


def reconstruction(
    recon: dict[str, torch.Tensor],
    inputs: dict[str, torch.Tensor],
    masks: dict[str, torch.Tensor],
    branches: Sequence[BranchSpec],
    mode: str,
) -> dict[str, torch.Tensor]:
    """Per-sample reconstruction term of every branch (N,), masked where inputs are missing."""
    out = {}
    for b in branches:
        err = (recon[b.name] - inputs[b.name]) ** 2
        mask = masks.get(b.name)
        if mask is not None:
            err = err * mask
        flat = err.flatten(1)
        if mode == "sum":
            out[b.name] = 0.5 * flat.sum(dim=1)
        else:  # mean over the elements present
            present = flat.shape[1] if mask is None else mask.expand_as(err).flatten(1).sum(1)
            out[b.name] = flat.sum(dim=1) / torch.clamp(torch.as_tensor(present), min=1.0)
    return out


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per sample and latent dimension (N x L)."""
    return 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar)


def kl_term(kl: torch.Tensor, mode: str, free_bits: float) -> torch.Tensor:
    """The batch's KL term: summed over dimensions (``sum``), each dimension's batch mean held
    at ``free_bits`` nats at least; or the mean over batch and dimensions (``mean``)."""
    if mode != "sum":
        return kl.mean()
    per_dim = kl.mean(dim=0)
    if free_bits > 0:
        per_dim = torch.clamp(per_dim, min=free_bits)
    return per_dim.sum()


def mixture_kl(
    mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, prior: MixturePrior
) -> tuple[torch.Tensor, torch.Tensor]:
    """VaDE's KL(q(z, c|x) || p(z, c)) per sample, and the responsibilities q(c|x) (N x K).

    q(c|x) is taken as p(c|z) at the sampled z (Jiang et al. 2017)."""
    log_joint = prior.log_joint(z)
    gamma = torch.softmax(log_joint, dim=1)
    lv_c = prior.logvars.clamp(-10.0, 2.0)
    var_c = torch.exp(lv_c)[None]  # 1 x K x L
    diff2 = (mu[:, None, :] - prior.means[None]) ** 2
    cross = 0.5 * (
        math.log(2 * math.pi) + lv_c[None] + (torch.exp(logvar)[:, None] + diff2) / var_c
    )
    log_pi = torch.log_softmax(prior.logits, dim=0)[None]
    entropy_z = 0.5 * (math.log(2 * math.pi) + 1.0 + logvar).sum(dim=1)
    kl = (
        (gamma * cross.sum(-1)).sum(1)
        - (gamma * log_pi).sum(1)
        + (gamma * torch.log(gamma + 1e-10)).sum(1)
        - entropy_z
    )
    return kl, gamma
