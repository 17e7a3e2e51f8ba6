"""What the trained encoders share: training parameters, the fit loop around
``musiclust.plugins.encoders.nn``, the posterior-mean latent, and what a run logs about training.

An encoder of the family says which branches it has (:meth:`NeuralEncoder.branches`: a
convolutional one over the 2-D blocks, an MLP one over vectors) and may change the model or the
loss; everything else (seeds, device, validation split by clip, beta schedule, early stopping
with the best weights restored, active units, the per-epoch history) lives here once.

Fitted state: ``module_`` (the torch model, on the CPU), ``history_`` (one dict per epoch:
``train.loss``, ``val.loss``, ``kl``, ``train.recon.<branch>``, ``train.active_units``, ``beta``,
``seconds``), ``kl_per_dim_`` (mean KL per latent dimension over all rows), ``examples_``
(a few validation inputs and their reconstructions, for the ``reconstructions`` plot).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from musiclust import Bool, Choice, Encoder, EncoderInput, Float, Int, SpecError
from musiclust.scale import scratch_array

log = logging.getLogger("musiclust")

#: Latent dimensions whose mean KL exceeds this many nats are "active" (the contract's rule).
ACTIVE_KL = 0.01
#: What the training bar shows after each epoch.
SHOWN = ("train.loss", "val.loss", "kl")
N_EXAMPLES = 4


def parse_widths(text: str, what: str) -> tuple[int, ...]:
    """``"256,128"`` -> (256, 128); an empty string is no hidden layer."""
    try:
        widths = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise SpecError(f"{what}: expected comma-separated integers, got {text!r}") from None
    if any(w < 1 for w in widths):
        raise SpecError(f"{what}: widths must be positive, got {text!r}")
    return widths


class NeuralEncoder(Encoder):
    """Base of the trained encoders (not registered itself)."""

    #: False: a plain autoencoder (no posterior variance, no KL).
    variational: ClassVar[bool] = True
    requirements = ("torch",)
    params = (
        Int(
            "latent_dim",
            16,
            low=1,
            high=1024,
            searchable=True,
            space=(4, 64),
            log=True,
            help="latent dimensions",
        ),
        Int("epochs", 300, low=1, high=100_000, help="most epochs (early stopping may end sooner)"),
        Int("batch_size", 64, low=2, high=65_536, help="rows per mini-batch"),
        Float(
            "lr",
            1e-3,
            low=1e-6,
            high=1.0,
            searchable=True,
            space=(1e-4, 3e-3),
            log=True,
            help="Adam learning rate",
        ),
        Float("weight_decay", 0.0, low=0.0, high=1.0, help="Adam weight decay"),
        Float(
            "dropout",
            0.1,
            low=0.0,
            high=0.9,
            searchable=True,
            space=(0.0, 0.3),
            help="dropout in the encoder trunks",
        ),
        Float("grad_clip", 5.0, low=0.0, high=1e6, help="gradient norm clip (0: none)"),
        Float(
            "val_fraction",
            0.15,
            low=0.0,
            high=0.5,
            help="share of clips held out for early stopping (whole clips, never windows)",
        ),
        Int("patience", 40, low=1, high=100_000, help="epochs without improvement before stopping"),
        Choice("device", "auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA when present"),
        Bool("deterministic", False, help="deterministic kernels (slower on GPU)"),
        Choice(
            "precision",
            "float32",
            choices=("float32", "bfloat16"),
            help="bfloat16: mixed-precision training for a GPU (layers compute in bfloat16; "
            "weights and latent stay float32); on a CPU without bfloat16 units it is slower",
        ),
    )

    # -- what subclasses say ---------------------------------------------------------------
    def branches(self, X: EncoderInput) -> tuple[list[Any], dict[str, np.ndarray], dict]:
        """(branch specs, input arrays by branch, masks by branch) for ``X``."""
        raise NotImplementedError

    def condition_matrix(self, X: EncoderInput, fit: bool) -> np.ndarray | None:
        """The condition matrix of a conditional encoder (None: unconditional)."""
        return None

    def build(self, specs: list[Any], cond_dim: int) -> Any:
        from musiclust.plugins.encoders.nn.nets import BranchVAE

        return BranchVAE(specs, self.latent_dim, self.variational, cond_dim)

    def loss_mode(self) -> str:
        return "sum"

    def beta_settings(self) -> dict[str, Any]:
        return {"beta": 1.0, "schedule": "constant", "warmup_epochs": 0, "cycles": 1}

    def free_bits_value(self) -> float:
        return 0.0

    def loss_fn(self, specs: list[Any]) -> Callable:
        """The ELBO (or the reconstruction alone for an autoencoder), as ``loss_mode`` says."""
        from musiclust.plugins.encoders.nn.losses import kl_per_dim, kl_term, reconstruction

        mode, free_bits = self.loss_mode(), self.free_bits_value()

        def loss(model: Any, batch: Any, beta: float) -> tuple[Any, dict[str, Any], Any]:
            recon, mu, logvar, _ = model(batch.inputs, batch.cond)
            terms = reconstruction(recon, batch.inputs, batch.masks, specs, mode)
            total = sum(s.weight * terms[s.name] for s in specs).mean()
            parts = {f"recon.{k}": v.detach().mean() for k, v in terms.items()}
            kl_dims = None
            if logvar is not None:
                kl = kl_per_dim(mu, logvar)
                total = total + beta * kl_term(kl, mode, free_bits)
                kl_dims = kl.mean(dim=0)
                parts["kl"] = kl.detach().sum(dim=1).mean()
            parts["loss"] = total.detach()
            return total, parts, kl_dims

        return loss

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: EncoderInput) -> NeuralEncoder:
        self._train(X)
        return self

    def fit_transform(self, X: EncoderInput) -> np.ndarray:
        # the training input read once: past 256 MiB a flattened input is a scratch file
        # (EncoderInput.flat), which fit-then-transform wrote twice
        data = self._train(X)
        return posterior(self.module_, data)[0]

    def _train(self, X: EncoderInput) -> Any:
        """Trains on ``X``; gives its rows as the model reads them (a ``Batch``)."""
        import torch
        from tqdm.auto import tqdm

        from musiclust.plugins.encoders.nn.nets import count_parameters
        from musiclust.plugins.encoders.nn.train import Batch, TrainConfig, train

        specs, inputs, masks = self.branches(X)
        self.input_scale_ = {name: _unit_scale(a, masks.get(name)) for name, a in inputs.items()}
        cond = self.condition_matrix(X, fit=True)
        with torch.random.fork_rng(devices=[]):  # seeded weights, global RNG untouched
            torch.manual_seed(self.random_state or 0)
            model = self.build(specs, 0 if cond is None else cond.shape[1])
        self.specs_ = specs
        data = _batch(Batch, inputs, masks, cond, self.input_scale_)
        cfg = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            grad_clip=self.grad_clip,
            val_fraction=self.val_fraction,
            patience=self.patience,
            device=self.device,
            seed=self.random_state or 0,
            deterministic=self.deterministic,
            precision=self.precision,
            **self.beta_settings(),
        )
        self.pretrain(model, data, cfg, X)
        groups = np.arange(len(X)) if X.groups is None else X.groups
        callback = self.epoch_callback
        # a bar on a terminal for the run's own encoder (progress_ is set by the run)
        bar = tqdm(
            total=self.epochs,
            desc=f"{self.name}: training",
            unit="epoch",
            disable=None if self.progress_ else True,  # None: a terminal
            leave=False,
        )

        def on_epoch(epoch: int, row: dict[str, float]) -> None:
            bar.set_postfix({k: f"{row[k]:.4g}" for k in SHOWN if k in row}, refresh=False)
            bar.update(1)  # drawn with the epoch's losses
            if callback is not None:
                callback(epoch, row, lambda: posterior(model, data)[0])

        try:
            result = train(model, data, self.loss_fn(specs), cfg, groups=groups, on_epoch=on_epoch)
        finally:
            bar.close()
        self.device_ = str(next(model.parameters()).device)
        self.module_ = model.cpu().eval()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.stopped_early_ = result.stopped_early
        self.monitored_ = result.monitored
        self.n_parameters_ = count_parameters(model)
        with torch.no_grad():
            self._summarise(data, result.val_rows if len(result.val_rows) else result.train_rows)
        self.notes_ = self._training_notes(result)
        return data

    def pretrain(self, model: Any, data: Any, cfg: Any, X: EncoderInput) -> None:
        """A stage before the main training (VaDE's autoencoder pretraining); none here."""

    def _summarise(self, data: Any, example_rows: np.ndarray) -> None:
        mu, logvar = posterior(self.module_, data)
        if logvar is not None:
            kl = 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)
            self.kl_per_dim_ = kl.mean(axis=0)
            self.active_units_ = int((self.kl_per_dim_ > ACTIVE_KL).sum())
        else:  # an autoencoder has no KL: count dimensions whose code varies (Burda et al.)
            self.kl_per_dim_ = None
            self.active_units_ = int((mu.var(axis=0) > ACTIVE_KL).sum())
        import torch

        rows = torch.as_tensor(np.sort(example_rows)[:N_EXAMPLES])
        batch = data.take(rows)
        recon = self.module_.decode(self.module_.encode(batch.inputs, batch.cond)[0], batch.cond)
        self.examples_ = {
            s.name: (batch.inputs[s.name].numpy(), recon[s.name].numpy(), s.kind)
            for s in self.specs_
        }

    def _training_notes(self, result: Any) -> list[str]:
        notes = []
        if not len(result.val_rows):
            notes.append(
                f"{self.name}: too few clips for a validation split; the best epoch was "
                "chosen by the training loss"
            )
        if not result.stopped_early and result.best_epoch >= len(result.history) - 2:
            notes.append(
                f"{self.name}: {len(result.history)} epochs ran and the loss was still falling; "
                f"more epochs ({self.name}.epochs) may help"
            )
        return notes

    # -- using it --------------------------------------------------------------------------
    def transform(self, X: EncoderInput) -> np.ndarray:
        """The posterior mean of every row."""
        from musiclust.plugins.encoders.nn.train import Batch

        _, inputs, masks = self.branches(X)
        cond = self.condition_matrix(X, fit=False)
        data = _batch(Batch, inputs, masks, cond, self.input_scale_)
        return posterior(self.module_, data)[0]

    def planned_epochs(self) -> int | None:
        return self.epochs

    def history(self) -> list[dict[str, float]]:
        """One dict of metrics per epoch (logged to MLflow with the epoch as step)."""
        return list(getattr(self, "history_", []))

    def torch_module(self) -> Any:
        """The trained torch model (logged with ``mlflow.pytorch``, class kept)."""
        return getattr(self, "module_", None)

    def diagnostics(self) -> dict[str, float]:
        last = self.history_[self.best_epoch_]
        out = {
            "active_units": float(self.active_units_),
            "encoder.latent_dim": float(self.latent_dim),
            "encoder.parameters": float(self.n_parameters_),
            "encoder.epochs_run": float(len(self.history_)),
            "encoder.best_epoch": float(self.best_epoch_),
            "encoder.stopped_early": float(self.stopped_early_),
            "encoder.seconds_per_epoch": float(np.mean([h["seconds"] for h in self.history_])),
            f"encoder.best_{self.monitored_.replace('.', '_')}": float(last[self.monitored_]),
        }
        if self.kl_per_dim_ is not None:
            out["encoder.kl"] = float(self.kl_per_dim_.sum())
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("epoch_callback", None)  # a live hook (MLflow, a pruner), not model state
        return state


class VariationalEncoder(NeuralEncoder):
    """Base of the VAEs: beta, its schedule, free bits."""

    params = (
        Float(
            "beta",
            1.0,
            low=0.0,
            high=1000.0,
            searchable=True,
            space=(0.1, 4.0),
            log=True,
            help="weight of the KL term (losses are summed per sample, so 1 is the ELBO)",
        ),
        Choice(
            "beta_schedule",
            "linear",
            choices=("constant", "linear", "cyclical"),
            searchable=True,
            help="constant; linear warm-up from 0; cyclical (several warm-ups)",
        ),
        Int("warmup_epochs", 30, low=1, high=100_000, help="length of the linear warm-up"),
        Int("cycles", 4, low=1, high=1000, help="number of cycles of the cyclical schedule"),
        Float(
            "free_bits",
            0.0,
            low=0.0,
            high=10.0,
            searchable=True,
            space=(0.0, 0.5),
            help="nats per latent dimension below which the KL is not pushed down",
        ),
    )

    def beta_settings(self) -> dict[str, Any]:
        return {
            "beta": self.beta,
            "schedule": self.beta_schedule,
            "warmup_epochs": self.warmup_epochs,
            "cycles": self.cycles,
        }

    def free_bits_value(self) -> float:
        return self.free_bits


def posterior(model: Any, data: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior means (and log-variances, None for an autoencoder) of every row of ``data``,
    in batches on the model's device, returned on the CPU."""
    import torch

    device = next(model.parameters()).device
    mus, logvars = [], []
    with torch.no_grad():
        model.eval()
        for first in range(0, len(data), 1024):
            batch = data.take(torch.arange(first, min(len(data), first + 1024))).to(device)
            mu, logvar = model.encode(batch.inputs, batch.cond)
            mus.append(mu.cpu().numpy())
            if logvar is not None:
                logvars.append(logvar.cpu().numpy())
    mu_all = np.concatenate(mus).astype(np.float64)
    return mu_all, (np.concatenate(logvars).astype(np.float64) if logvars else None)


def _batch(
    batch_cls: Any,
    inputs: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    cond: np.ndarray | None,
    scales: dict[str, float],
) -> Any:
    """The model's input, left where it is (a memory-mapped block stays on disk): rows become
    scaled float32 tensors batch by batch. A scaled float32 copy of a 2-D block was a second
    whole-input array in memory."""
    import torch

    return batch_cls(
        dict(inputs),
        {k: np.asarray(v, dtype=np.float32) for k, v in masks.items()},
        None if cond is None else torch.as_tensor(np.ascontiguousarray(cond, dtype=np.float32)),
        dict(scales),
    )


#: Rows per block when the input's scale is measured.
_ROWS = 2048


def _unit_scale(values: np.ndarray, mask: np.ndarray | None) -> float:
    """The factor that gives a branch's inputs unit variance per element on average.

    Fusion balances blocks for distances (each block has unit *total* variance), which for a
    Gaussian decoder of unit variance would make the whole input look like noise and the
    posterior collapse; the relative weights of the blocks are kept."""
    # In blocks of rows, two passes (mean, then squared deviations), in float64: whole-array
    # float64 temporaries took 7.5x the input's size at 20,000 stack39 rows (3.3 GB peak).
    n = len(values)
    flat = values.reshape(n, -1)
    full = None if mask is None else np.broadcast_to(mask, values.shape)

    def rows(first: int) -> tuple[np.ndarray, np.ndarray | None]:
        x = flat[first : first + _ROWS].astype(np.float64)
        if full is None:
            return x, None
        return x, full[first : first + _ROWS].reshape(len(x), -1).astype(np.float64)

    total, count = np.zeros(flat.shape[1]), np.zeros(flat.shape[1])
    for first in range(0, n, _ROWS):
        x, w = rows(first)
        total += (x if w is None else x * w).sum(axis=0)
        count += len(x) if w is None else w.sum(axis=0)
    mean = total / np.maximum(count, 1.0)
    squares = np.zeros(flat.shape[1])
    for first in range(0, n, _ROWS):
        x, w = rows(first)
        x -= mean
        x *= x
        squares += (x if w is None else x * w).sum(axis=0)
    var = squares / np.maximum(count, 1.0)
    present = count > 0
    average = float(var[present].mean()) if present.any() else 1.0
    return 1.0 / np.sqrt(average) if average > 1e-12 else 1.0


# -- how EncoderInput becomes branch inputs ------------------------------------------------
def vector_input(X: EncoderInput) -> tuple[np.ndarray, np.ndarray | None]:
    """The flat input (vectors and flattened 2-D blocks) and its element mask (None when no
    row misses a block): missing blocks (lyrics) do not count in the reconstruction."""
    flat = X.flat()
    vector_blocks = [n for n, b in X.blocks.items() if b.ndim == 2]
    return flat, vector_mask(X, [*vector_blocks, *X.matrices()])


def vector_mask(X: EncoderInput, names: list[str]) -> np.ndarray | None:
    """Element mask of the named blocks laid side by side (flattened): 0 where a row misses
    the block. None when nothing is missing."""
    widths = [int(np.prod(X.blocks[name].shape[1:])) for name in names]
    mask = scratch_array((len(X), sum(widths)), np.float32)  # large: memory-mapped
    mask[:] = 1.0
    column = 0
    for name, width in zip(names, widths):
        present = X.masks.get(name)
        if present is not None:
            mask[~present, column : column + width] = 0.0
        column += width
    return None if mask.all() else mask


def matrix_input(X: EncoderInput, name: str) -> np.ndarray:
    """The 2-D blocks stacked along their rows (one image per row: sum of F x frames)."""
    matrices = X.matrices()
    if not matrices:
        raise SpecError(f"encoder '{name}' needs a 2-D feature (mfcc, mel, chroma, stack39 ...)")
    widths = {b.shape[2] for b in matrices.values()}
    if len(widths) > 1:
        raise SpecError(f"encoder '{name}': the 2-D features must have the same number of frames")
    if len(matrices) == 1:  # no copy (a large block is memory-mapped: keep it so)
        return next(iter(matrices.values()))
    blocks = list(matrices.values())
    (frames,) = widths
    out = scratch_array((len(blocks[0]), sum(b.shape[1] for b in blocks), frames), np.float32)
    first = 0
    for block in blocks:
        out[:, first : first + block.shape[1]] = block
        first += block.shape[1]
    return out
