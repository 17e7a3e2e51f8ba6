"""The training loop of the VAE family: mini-batches, a beta schedule, a validation split by
clip, early stopping that restores the best weights, and a history of every epoch."""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

#: What a loss function returns for a batch: the total to minimise, named numbers for the
#: history (per-sample means: floats, or detached 0-d tensors, which the loop reads once an
#: epoch rather than waiting on the GPU for them every step), and the batch mean KL per
#: latent dimension (None for an AE).
LossOut = tuple[torch.Tensor, dict[str, float | torch.Tensor], torch.Tensor | None]
LossFn = Callable[[torch.nn.Module, "Batch", float], LossOut]


@dataclass
class Batch:
    """Rows of a branch model's input: torch tensors, or numpy arrays (memory-mapped ones too)
    that become float32 tensors only as their rows are taken, batch by batch, so training
    never holds a second copy of a large input. ``scales`` multiply a branch's rows as they
    are taken (in float64, then float32: the values a scaled copy of the input would hold)."""

    inputs: dict[str, torch.Tensor | np.ndarray]
    masks: dict[str, torch.Tensor | np.ndarray] = field(default_factory=dict)
    cond: torch.Tensor | None = None
    scales: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    @property
    def device(self) -> torch.device:
        """Where the rows live (numpy arrays: the CPU)."""
        first = next(iter(self.inputs.values()))
        return first.device if isinstance(first, torch.Tensor) else torch.device("cpu")

    @property
    def nbytes(self) -> int:
        """Size of the rows as float32 tensors."""
        arrays = [*self.inputs.values(), *self.masks.values()]
        return sum(4 * (a.numel() if isinstance(a, torch.Tensor) else a.size) for a in arrays)

    def take(self, index: torch.Tensor) -> Batch:
        """The rows ``index`` (on the rows' device), as tensors with the scales applied."""
        return Batch(
            {k: _rows(v, index, self.scales.get(k)) for k, v in self.inputs.items()},
            {k: _rows(v, index, None) for k, v in self.masks.items()},
            None if self.cond is None else self.cond[index],
        )

    def to(self, device: torch.device) -> Batch:
        """Every row as tensors on ``device``, the scales applied (numpy rows in blocks)."""
        return Batch(
            {k: _tensor(v, device, self.scales.get(k)) for k, v in self.inputs.items()},
            {k: _tensor(v, device, None) for k, v in self.masks.items()},
            None if self.cond is None else self.cond.to(device),
        )


#: Rows per block when numpy rows move to a device.
_BLOCK = 4096


def _float32(rows: np.ndarray, scale: float | None) -> torch.Tensor:
    if scale is not None:
        rows = rows * np.float64(scale)
    return torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))


def _scaled(rows: torch.Tensor, scale: float | None) -> torch.Tensor:
    """Tensor rows scaled by the same rule as numpy rows (float64, then float32)."""
    return rows if scale is None else (rows.double() * scale).float()


def _rows(v: torch.Tensor | np.ndarray, index: torch.Tensor, scale: float | None) -> torch.Tensor:
    if isinstance(v, np.ndarray):
        return _float32(v[index.cpu().numpy()], scale)
    return _scaled(v[index], scale)


def _tensor(v: torch.Tensor | np.ndarray, device: torch.device, scale: float | None) -> Any:
    if isinstance(v, torch.Tensor):
        return _scaled(v, scale).to(device)
    out = torch.empty(v.shape, dtype=torch.float32, device=device)
    for first in range(0, len(v), _BLOCK):
        out[first : first + _BLOCK] = _float32(v[first : first + _BLOCK], scale).to(device)
    return out


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    val_fraction: float = 0.15
    patience: int = 30
    beta: float = 1.0
    schedule: str = "linear"  # constant | linear | cyclical
    warmup_epochs: int = 30
    cycles: int = 4
    device: str = "auto"
    seed: int = 0
    deterministic: bool = False
    precision: str = "float32"  # float32 | bfloat16 (autocast; weights stay float32)


def beta_at(epoch: int, cfg: TrainConfig) -> float:
    """beta for an epoch (0-based): constant; linear from 0 to beta over ``warmup_epochs``;
    cyclical: ``cycles`` cycles over the run, each rising over its first half."""
    if cfg.schedule == "constant":
        return cfg.beta
    if cfg.schedule == "linear":
        return cfg.beta * min(1.0, (epoch + 1) / max(1, cfg.warmup_epochs))
    length = _cycle_length(cfg)
    return cfg.beta * min(1.0, (epoch % length + 1) / max(1.0, length / 2))


def _cycle_length(cfg: TrainConfig) -> int:
    return max(1, math.ceil(cfg.epochs / max(1, cfg.cycles)))


def first_full_beta(cfg: TrainConfig) -> int:
    """The first epoch at which the objective is the final one (checkpoints count from there)."""
    if cfg.schedule == "constant":
        return 0
    if cfg.schedule == "linear":
        return max(0, cfg.warmup_epochs - 1)
    return max(0, math.ceil(_cycle_length(cfg) / 2) - 1)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device=cuda was asked for, and torch sees no CUDA device")
    return torch.device(name)


def split_groups(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices for training and validation, whole groups (clips) on one side only.

    No validation when it would hold fewer than 2 groups or leave fewer than 4 for training."""
    ids = np.unique(groups)
    n_val = round(len(ids) * fraction)
    rows = np.arange(len(groups))
    if fraction <= 0 or n_val < 2 or len(ids) - n_val < 4:
        return rows, rows[:0]
    rng = np.random.default_rng(seed)
    val_ids = rng.choice(ids, size=n_val, replace=False)
    is_val = np.isin(groups, val_ids)
    return rows[~is_val], rows[is_val]


@contextlib.contextmanager
def determinism(enabled: bool, device: torch.device) -> Iterator[None]:
    """Deterministic kernels while training (restored after), when asked for."""
    if not enabled:
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    cudnn = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = cudnn


@dataclass
class TrainResult:
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    train_rows: np.ndarray
    val_rows: np.ndarray
    monitored: str


def train(
    model: torch.nn.Module,
    data: Batch,
    loss_fn: LossFn,
    cfg: TrainConfig,
    groups: np.ndarray | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place; on return it holds the best checkpoint's weights.

    The monitored quantity is the validation loss at the final beta (the training loss when
    there is no validation split), counted from the first epoch at full beta, so an early
    checkpoint from the warm-up (a small KL because beta was small) is never chosen.
    """
    device = resolve_device(cfg.device)
    groups = np.arange(len(data)) if groups is None else np.asarray(groups)
    train_rows, val_rows = split_groups(groups, cfg.val_fraction, cfg.seed)
    monitored = "val.loss" if len(val_rows) else "train.loss"
    start = first_full_beta(cfg)
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict] | None = None
    stopped_early = False
    model.to(device)
    # No copy of the training or validation rows: each batch is gathered from ``data`` by
    # index (a copy of the training set was a second full-size array in memory), and the
    # whole input moves to a GPU once only when it fits comfortably there.
    data = resident(data, device)
    train_index = torch.as_tensor(train_rows, dtype=torch.long)
    val_index = torch.as_tensor(val_rows, dtype=torch.long) if len(val_rows) else None
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
        generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        with determinism(cfg.deterministic, device):
            for epoch in range(cfg.epochs):
                started = time.perf_counter()
                beta = beta_at(epoch, cfg)
                row = {"beta": beta}
                row.update(
                    _train_epoch(
                        model, data, train_index, loss_fn, cfg, beta, generator, optimiser, device
                    )
                )
                if val_index is not None:
                    row.update(_evaluate(model, data, val_index, loss_fn, cfg, "val.", device))
                if beta != cfg.beta and monitored == "train.loss":  # the final objective too
                    final = _evaluate(model, data, train_index, loss_fn, cfg, "final.", device)
                    row["train.loss_final_beta"] = final["final.loss"]
                row["seconds"] = time.perf_counter() - started
                row["epoch"] = float(epoch)
                history.append(row)
                if on_epoch is not None:
                    on_epoch(epoch, row)
                value = row.get("train.loss_final_beta", row[monitored])
                if not math.isfinite(value):
                    raise FloatingPointError(f"the loss became {value} at epoch {epoch}")
                if epoch >= start:
                    if best is None or value < best[0] - 1e-6 * abs(best[0]):
                        best = (value, epoch, copy.deepcopy(model.state_dict()))
                    elif epoch - best[1] >= cfg.patience:
                        stopped_early = True
                        break
    if best is not None:
        model.load_state_dict(best[2])
    model.eval()
    return TrainResult(
        history,
        best[1] if best else len(history) - 1,
        stopped_early,
        train_rows,
        val_rows,
        monitored,
    )


def resident(data: Batch, device: torch.device, share: float = 0.25) -> Batch:
    """``data`` where training reads it: on the CPU as it is; on a GPU all of it when it takes
    at most ``share`` of the free memory there (no transfer per step), else left on the host
    and moved batch by batch."""
    if device.type != "cuda":
        return data
    free, _ = torch.cuda.mem_get_info(device)
    return data.to(device) if data.nbytes <= share * free else data


def _gather(data: Batch, index: torch.Tensor, device: torch.device) -> Batch:
    """The rows ``index`` of ``data``, on ``device``."""
    home = data.device
    batch = data.take(index.to(home))
    return batch if home == device else batch.to(device)


def _train_epoch(
    model: torch.nn.Module,
    data: Batch,
    rows: torch.Tensor,
    loss_fn: LossFn,
    cfg: TrainConfig,
    beta: float,
    generator: torch.Generator,
    optimiser: torch.optim.Optimizer,
    device: torch.device,
) -> dict[str, float]:
    model.train()
    n = len(rows)
    order = rows[torch.randperm(n, generator=generator)]
    sums: dict[str, float] = {}
    kl_sum: torch.Tensor | None = None
    seen = 0
    for first in range(0, n, cfg.batch_size):
        index = order[first : first + cfg.batch_size]
        if len(index) < 2 and seen:  # BatchNorm needs two rows; fold a lone row out
            continue
        batch = _gather(data, index, device)
        with _autocast(device, cfg.precision):
            loss, parts, kl = loss_fn(model, batch, beta)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimiser.step()
        size = len(index)
        seen += size
        _add(sums, parts, size)
        if kl is not None:
            kl_sum = kl.detach() * size if kl_sum is None else kl_sum + kl.detach() * size
    out = {f"train.{k}": float(v) / max(seen, 1) for k, v in sums.items()}
    if "train.kl" in out:  # the contract's per-epoch key
        out["kl"] = out.pop("train.kl")
    if kl_sum is not None:
        out["train.active_units"] = float(((kl_sum / max(seen, 1)) > 0.01).sum())
    return out


@torch.no_grad()
def _evaluate(
    model: torch.nn.Module,
    data: Batch,
    rows: torch.Tensor,
    loss_fn: LossFn,
    cfg: TrainConfig,
    prefix: str,
    device: torch.device,
) -> dict[str, float]:
    """The loss parts at the final beta, in the precision training uses."""
    model.eval()
    n = len(rows)
    sums: dict[str, float] = {}
    for first in range(0, n, 512):
        index = rows[first : first + 512]
        with _autocast(device, cfg.precision):
            _, parts, _ = loss_fn(model, _gather(data, index, device), cfg.beta)
        _add(sums, parts, len(index))
    return {f"{prefix}{k}": float(v) / n for k, v in sums.items()}


def _autocast(device: torch.device, precision: str) -> Any:
    """Mixed precision when asked for: matrix products and convolutions in bfloat16 (tensor
    cores on a GPU), reductions and losses in float32 (autocast's own lists). bfloat16 keeps
    float32's range, so no loss scaling is needed (Kalamkar et al. 2019)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")


def _add(sums: dict[str, Any], parts: dict[str, float | torch.Tensor], size: int) -> None:
    """Adds a batch's per-sample means, weighted by its rows, to ``sums``. A tensor stays where
    it is (no wait for the GPU) and adds in float64, as Python floats would: the history is
    the same either way."""
    for key, value in parts.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().double()
        sums[key] = sums.get(key, 0.0) + value * size
