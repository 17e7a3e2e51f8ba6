"""Plots of a trained encoder: ``training_curves``, ``latent_kl`` and ``reconstructions``.

They read what the VAE family keeps after fitting (``history_``, ``kl_per_dim_``,
``examples_``) and are not applicable (not failed) for encoders that are not trained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musiclust import Evaluation, NotComputed, Report, hookimpl
from musiclust.plugins.reports.plotting import new_figure, save

ACTIVE_KL = 0.01


def _trained(ev: Evaluation, attribute: str) -> object:
    value = getattr(ev.encoder, attribute, None)
    if value is None:
        name = ev.encoder.name if ev.encoder is not None else "none"
        raise NotComputed(f"encoder {name} is not a trained encoder")
    return value


class TrainingCurves(Report):
    """Loss, reconstruction per modality, KL and beta per epoch; the restored epoch marked."""

    name = "training_curves"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        history = _trained(ev, "history_")
        assert isinstance(history, list)
        epochs = np.array([h["epoch"] for h in history])
        best = getattr(ev.encoder, "best_epoch_", None)
        keys = sorted({k for h in history for k in h})
        panels = [
            ("loss", [k for k in ("train.loss", "val.loss") if k in keys]),
            ("reconstruction", [k for k in keys if ".recon." in k]),
            ("KL (nats per clip)", [k for k in ("kl", "val.kl") if k in keys]),
            ("beta", ["beta"] if "beta" in keys else []),
        ]
        panels = [p for p in panels if p[1]]
        fig = new_figure(4.0 * len(panels), 3.4)
        for i, (title, series) in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), i + 1)
            for key in series:
                ax.plot(epochs, [h.get(key, np.nan) for h in history], label=key, lw=1.2)
            if best is not None:
                ax.axvline(best, color="0.4", ls="--", lw=0.8, label=f"restored (epoch {best})")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            if title != "beta" and all(
                h.get(k, 1.0) > 0 for h in history for k in series if k in h
            ):
                ax.set_yscale("log")
            ax.legend(fontsize=7)
        return [save(fig, out_dir / "training_curves.png")]


class LatentKL(Report):
    """Mean KL per latent dimension (sorted), with the 0.01-nat line of active units."""

    name = "latent_kl"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        kl = getattr(ev.encoder, "kl_per_dim_", None)
        if kl is None:
            _trained(ev, "history_")
            raise NotComputed(f"encoder {ev.encoder.name} has no KL term")  # type: ignore[union-attr]
        kl = np.asarray(kl)
        order = np.argsort(kl)[::-1]
        fig = new_figure(max(4.0, 0.2 * len(kl) + 2), 3.4)
        ax = fig.add_subplot()
        colours = ["C0" if v > ACTIVE_KL else "0.6" for v in kl[order]]
        ax.bar(np.arange(len(kl)), np.maximum(kl[order], 1e-6), color=colours)
        ax.axhline(ACTIVE_KL, color="C3", ls="--", lw=0.8, label="active: > 0.01 nats")
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(kl)), [str(i) for i in order], fontsize=6)
        ax.set_xlabel("latent dimension (sorted by KL)")
        ax.set_ylabel("mean KL (nats)")
        ax.set_title(f"{int((kl > ACTIVE_KL).sum())} of {len(kl)} dimensions active")
        ax.legend(fontsize=7)
        return [save(fig, out_dir / "latent_kl.png")]


class Reconstructions(Report):
    """A few held-out inputs beside their reconstructions (images for 2-D inputs)."""

    name = "reconstructions"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        examples = _trained(ev, "examples_")
        assert isinstance(examples, dict)
        written = []
        for branch, (inputs, outputs, kind) in examples.items():
            n = len(inputs)
            if kind == "conv":
                fig = new_figure(6.4, 1.6 * n + 0.6)
                low = float(min(inputs.min(), outputs.min()))
                high = float(max(inputs.max(), outputs.max()))
                for i in range(n):
                    for j, (what, image) in enumerate((("input", inputs), ("output", outputs))):
                        ax = fig.add_subplot(n, 2, 2 * i + j + 1)
                        ax.imshow(image[i], aspect="auto", origin="lower", vmin=low, vmax=high)
                        ax.set_xticks([])
                        ax.set_yticks([])
                        if i == 0:
                            ax.set_title(what)
            else:
                fig = new_figure(6.4, 1.4 * n + 0.6)
                for i in range(n):
                    ax = fig.add_subplot(n, 1, i + 1)
                    ax.plot(inputs[i], lw=0.8, label="input")
                    ax.plot(outputs[i], lw=0.8, label="output")
                    ax.set_xticks([])
                    if i == 0:
                        ax.legend(fontsize=7)
            fig.suptitle(f"{branch}: held-out rows and their reconstructions")
            written.append(save(fig, out_dir / f"reconstructions_{branch}.png"))
        return written


@hookimpl
def register_reports(register):
    register(TrainingCurves)
    register(LatentKL)
    register(Reconstructions)
