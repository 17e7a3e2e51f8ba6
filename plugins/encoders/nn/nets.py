"""Networks of the VAE family: MLP and convolutional branches joined in one latent.

One model class covers the plain autoencoder, the VAE, the convolutional VAE, the hybrid
audio+lyrics VAE and the conditional VAE: each input (a 2-D spectrogram-like block, or a vector
block) has a *branch*, an encoder trunk that maps it to features and a decoder head that maps
the latent back to it. The trunks' features (and a condition vector, for the conditional VAE)
are concatenated and mapped to the posterior mean and log-variance; each head sees the latent
(and the condition).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

LOGVAR_RANGE = (-10.0, 2.0)


@dataclass(frozen=True)
class BranchSpec:
    """One input of the model: ``conv`` over an F x T block, or ``mlp`` over a vector."""

    name: str
    kind: str  # "conv" | "mlp"
    shape: tuple[int, ...]  # (F, T) for conv, (d,) for mlp
    hidden: tuple[int, ...] = (256, 128)  # mlp: trunk widths; conv: channels
    dropout: float = 0.1
    weight: float = 1.0  # weight of this branch's reconstruction term
    trunk_dropout_all: bool = False  # mlp: dropout after every trunk layer (else all but last)
    extra: dict = field(default_factory=dict, compare=False)


def mlp(sizes: list[int], dropout: float = 0.0, last_act: bool = False) -> nn.Sequential:
    """Linear layers with ReLU between (and after the last when ``last_act``); dropout after
    every activation but the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        last = i == len(sizes) - 2
        if not last or last_act:
            layers.append(nn.ReLU())
        if not last and dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _halve(n: int) -> int:
    return (n - 1) // 2 + 1  # a kernel 3, stride 2, padding 1 convolution


class ConvTrunk(nn.Module):
    """Conv2d blocks (kernel 3, stride 2, padding 1) with BatchNorm2d and LeakyReLU(0.2), and
    Dropout2d after all but the last; 1 x F x T in, the flattened last feature map out."""

    def __init__(self, shape: tuple[int, int], channels: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        f, t = shape
        previous = 1
        for i, c in enumerate(channels):
            layers += [
                nn.Conv2d(previous, c, kernel_size=3, stride=2, padding=1),
                nn.BatchNorm2d(c),
                nn.LeakyReLU(0.2),
            ]
            if i < len(channels) - 1 and dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            previous = c
            f, t = _halve(f), _halve(t)
        self.net = nn.Sequential(*layers)
        self.map_shape = (channels[-1], f, t)
        self.out_dim = math.prod(self.map_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.unsqueeze(1)).flatten(1)


class ConvHead(nn.Module):
    """Linear to the trunk's last feature map, ConvTranspose2d blocks back to one channel
    (BatchNorm and LeakyReLU on all but the last), resized bilinearly to F x T."""

    def __init__(self, latent: int, trunk: ConvTrunk, shape: tuple[int, int]) -> None:
        super().__init__()
        self.shape = shape
        self.map_shape = trunk.map_shape
        self.fc = nn.Linear(latent, trunk.out_dim)
        channels = [m.out_channels for m in trunk.net if isinstance(m, nn.Conv2d)]
        sizes = [*reversed(channels), 1]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(
                nn.ConvTranspose2d(a, b, kernel_size=3, stride=2, padding=1, output_padding=1)
            )
            if i < len(sizes) - 2:
                layers += [nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(self.fc(z).view(-1, *self.map_shape))
        if tuple(x.shape[-2:]) != self.shape:
            x = F.interpolate(x, size=self.shape, mode="bilinear", align_corners=False)
        return x.squeeze(1)


class BranchVAE(nn.Module):
    """Branches joined in one latent; ``variational=False`` is a plain autoencoder.

    ``cond_dim`` > 0 makes it conditional: a condition vector is concatenated to the trunks'
    features and to the latent at every head. ``fusion`` optionally puts hidden layers between
    the concatenated features and the latent.
    """

    def __init__(
        self,
        branches: list[BranchSpec],
        latent_dim: int,
        variational: bool = True,
        cond_dim: int = 0,
        fusion: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.branches = list(branches)
        self.latent_dim = latent_dim
        self.variational = variational
        self.cond_dim = cond_dim
        self.trunks = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        width = cond_dim
        for b in self.branches:
            if b.kind == "conv":
                trunk = ConvTrunk(b.shape, b.hidden, b.dropout)  # type: ignore[arg-type]
                self.trunks[b.name] = trunk
                self.heads[b.name] = ConvHead(latent_dim + cond_dim, trunk, b.shape)  # type: ignore[arg-type]
                width += trunk.out_dim
            else:
                (d,) = b.shape
                layers = mlp([d, *b.hidden], b.dropout, last_act=True)
                if b.trunk_dropout_all and b.dropout > 0:
                    layers.append(nn.Dropout(b.dropout))
                self.trunks[b.name] = layers
                self.heads[b.name] = mlp([latent_dim + cond_dim, *reversed(b.hidden), d])
                width += b.hidden[-1] if b.hidden else d
        self.fusion = mlp([width, *fusion], last_act=True) if fusion else nn.Identity()
        width = fusion[-1] if fusion else width
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim) if variational else None
        if self.logvar is not None:  # start with small posterior variances
            nn.init.zeros_(self.logvar.weight)
            nn.init.constant_(self.logvar.bias, -2.0)

    def encode(
        self, inputs: dict[str, torch.Tensor], cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        parts = [self.trunks[b.name](inputs[b.name]) for b in self.branches]
        if self.cond_dim:
            assert cond is not None
            parts.append(cond)
        h = self.fusion(torch.cat(parts, dim=1))
        mu = self.mu(h)
        if self.logvar is None:
            return mu, None
        return mu, self.logvar(h).clamp(*LOGVAR_RANGE)

    def decode(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if self.cond_dim:
            assert cond is not None
            z = torch.cat([z, cond], dim=1)
        return {b.name: self.heads[b.name](z) for b in self.branches}

    def forward(
        self, inputs: dict[str, torch.Tensor], cond: torch.Tensor | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None, torch.Tensor]:
        mu, logvar = self.encode(inputs, cond)
        if logvar is not None and self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        return self.decode(z, cond), mu, logvar, z


class MixturePrior(nn.Module):
    """VaDE's Gaussian-mixture prior p(c) p(z|c): weights, means and diagonal log-variances."""

    def __init__(self, n_clusters: int, latent_dim: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_clusters))
        self.means = nn.Parameter(torch.randn(n_clusters, latent_dim) * 0.1)
        self.logvars = nn.Parameter(torch.zeros(n_clusters, latent_dim))

    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        """log p(c) + log p(z|c) for every row and component (N x K)."""
        lv = self.logvars.clamp(*LOGVAR_RANGE)
        log_pi = torch.log_softmax(self.logits, dim=0)
        diff = z[:, None, :] - self.means[None]
        log_pz = -0.5 * (math.log(2 * math.pi) + lv[None] + diff**2 / torch.exp(lv)[None]).sum(-1)
        return log_pi[None] + log_pz


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
