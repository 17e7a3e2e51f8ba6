"""The musicnn tagging networks (Pons and Serra, 2019) in PyTorch, with the trained weights of
the PyPI package ``musicnn`` 0.1.0 read from its TensorFlow checkpoints (no TensorFlow needed).

Facts taken from the published models (architecture, variable names, preprocessing):

- **Input**: mono audio at 16 kHz, mel power spectrogram (n_fft 512, hop 256, 96 Slaney mel
  bands, centred STFT), stored in float16 and compressed as ``log10(10000 x + 1)``; patches of
  187 frames (3 s), without overlap unless a hop is given; a clip shorter than one patch is
  repeat-padded (the models' training setting, ``pad_short: repeat-pad``).
- **musicnn** (``MSD_musicnn``, ``MTT_musicnn``): batch norm of the input; a front end of five
  convolutions, each followed by ReLU, batch norm and a max over frequency: two timbral ones
  (7 frames x 38 and x 67 mel bands, 204 filters each, the time axis zero-padded by 3) and
  three temporal ones (128, 64 and 32 frames x 1 band, 51 filters each, 'same' padding); a mid
  end of three 1-D convolutions over time (7 frames, 64 filters, ReLU then batch norm; the
  second and third residual), densely connected: the front end's 561 channels and the three
  mid-end outputs are concatenated into 753; a back end that takes the max and the mean over
  time (``max_pool``, ``mean_pool``, 753 each), interleaves them, batch-normalises, a dense
  layer of 200 with ReLU and batch norm (``penultimate``) and a dense layer of 50 tags whose
  sigmoid is the ``taggram``.
- **vgg** (``MSD_vgg``, ``MTT_vgg``): batch norm of the input; five 3 x 3 convolutions of 128
  filters ('same', ReLU, batch norm), each followed by a max pool (4 x 1 with stride 2, then
  2 x 2, 2 x 2, 2 x 2, and 4 x 4); the last pool (2 x 1 x 128) flattened feeds 50 tags.
  There is no pooling back end, so here ``penultimate`` is that flattened pool (256) and
  ``mean_pool``/``max_pool`` are the mean/max over time and frequency of the last
  convolution's (batch-normalised) maps (128).
- Batch norm uses TensorFlow's epsilon, 0.001; dropout is inactive at inference.

The module needs torch and numpy only (librosa's mel filterbank is imported lazily for the
spectrogram), so it also runs on a machine without the rest of musiclust.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH = 187  # frames: librosa.time_to_frames(3 s) + 1, as the models were trained
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
LAYERS = ("taggram", "penultimate", "max_pool", "mean_pool")
BN_EPS = 1e-3  # TensorFlow's default for tf.layers.batch_normalization

MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip


def tags(model: str) -> tuple[str, ...]:
    return MSD_TAGS if model.startswith("MSD") else MTT_TAGS


# -- input ---------------------------------------------------------------------------------
def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 96) compressed mel spectrogram of a 16 kHz signal, as the models expect.

    The float16 step is the published preprocessing's; values are capped at float16's largest
    so an extremely loud frame saturates instead of becoming infinite."""
    from musiclust.analysis import stft_magnitude
    from musiclust.dsp import mel_filterbank

    power = stft_magnitude(np.asarray(y, dtype=np.float32), N_FFT, HOP) ** 2
    mel = (mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS) @ power).T
    mel = np.minimum(mel, np.finfo(np.float16).max).astype(np.float16).astype(np.float32)
    return np.log10(10000 * mel + 1)


def patches(spec: np.ndarray, hop: int = PATCH) -> np.ndarray:
    """(patches, 187, 96): full patches every ``hop`` frames from the start (frames after the
    last full patch are left out, as in the reference); a shorter input is repeat-padded."""
    if len(spec) < PATCH:
        spec = np.concatenate([spec] * -(-PATCH // len(spec)))[:PATCH]
    starts = range(0, len(spec) - PATCH + 1, hop)
    return np.stack([spec[s : s + PATCH] for s in starts])


def hop_frames(seconds: float | None) -> int:
    """Patch hop in frames: None is one patch (no overlap); seconds convert as the reference
    converts its overlap (librosa.time_to_frames with n_fft 512)."""
    if seconds is None:
        return PATCH
    return max(1, int((seconds * SAMPLE_RATE - N_FFT // 2) // HOP))


# -- networks ------------------------------------------------------------------------------
def _bn(n: int, dims: int) -> nn.Module:
    return (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(n, eps=BN_EPS)


class _FrontBranch(nn.Module):
    """Conv over (time, freq) -> ReLU -> batch norm -> max over frequency: (B, C, T)."""

    def __init__(self, filters: int, kernel: tuple[int, int], time_pad: tuple[int, int]):
        super().__init__()
        self.time_pad = time_pad
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn = _bn(filters, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, *self.time_pad))  # (freq left, right, time before, after)
        return self.bn(F.relu(self.conv(x))).amax(dim=3)


class Musicnn(nn.Module):
    """The musically motivated CNN; ``forward`` returns every layer the feature offers."""

    def __init__(self, n_tags: int = 50, midend: int = 64, backend: int = 200) -> None:
        super().__init__()
        self.input_bn = _bn(1, 2)
        timbral, temporal = int(1.6 * 128), int(1.6 * 32)  # 204, 51
        self.front = nn.ModuleList(
            [
                _FrontBranch(timbral, (7, int(0.4 * N_MELS)), (3, 3)),
                _FrontBranch(timbral, (7, int(0.7 * N_MELS)), (3, 3)),
                _FrontBranch(temporal, (128, 1), (63, 64)),  # TF 'same' for even kernels
                _FrontBranch(temporal, (64, 1), (31, 32)),
                _FrontBranch(temporal, (32, 1), (15, 16)),
            ]
        )
        front = 2 * timbral + 3 * temporal
        self.mid = nn.ModuleList(
            [nn.Conv1d(front if i == 0 else midend, midend, 7, padding=3) for i in range(3)]
        )
        self.mid_bn = nn.ModuleList([_bn(midend, 1) for _ in range(3)])
        pooled = 2 * (front + 3 * midend)
        self.pool_bn = _bn(pooled, 1)
        self.dense = nn.Linear(pooled, backend)
        self.dense_bn = _bn(backend, 1)
        self.out = nn.Linear(backend, n_tags)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.input_bn(x[:, None])  # (B, 1, T, F)
        front = torch.cat([branch(x) for branch in self.front], dim=1)  # (B, 561, T)
        maps, h = [front], front
        for i, (conv, bn) in enumerate(zip(self.mid, self.mid_bn)):
            out = bn(F.relu(conv(h)))
            h = out if i == 0 else out + h
            maps.append(h)
        features = torch.cat(maps, dim=1)  # (B, 753, T)
        max_pool, mean_pool = features.amax(dim=2), features.mean(dim=2)
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # interleaved, as in TF
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(flat))))
        taggram = torch.sigmoid(self.out(penultimate))
        return {
            "taggram": taggram,
            "penultimate": penultimate,
            "max_pool": max_pool,
            "mean_pool": mean_pool,
        }


class Vgg(nn.Module):
    """The VGG-like baseline; ``forward`` returns the same four layer names as musicnn."""

    POOLS = ((4, 1), (2, 2), (2, 2), (2, 2), (4, 4))
    STRIDES = ((2, 2), (2, 2), (2, 2), (2, 2), (4, 4))

    def __init__(self, n_tags: int = 50, filters: int = 128) -> None:
        super().__init__()
        self.input_bn = _bn(1, 2)
        self.convs = nn.ModuleList(
            [nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5)]
        )
        self.bns = nn.ModuleList([_bn(filters, 2) for _ in range(5)])
        self.out = nn.Linear(2 * filters, n_tags)  # pool5 is 2 frames x 1 band x filters

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.input_bn(x[:, None])
        last = h
        for conv, bn, pool, stride in zip(self.convs, self.bns, self.POOLS, self.STRIDES):
            last = bn(F.relu(conv(h)))
            h = F.max_pool2d(last, pool, stride)
        flat = h.permute(0, 2, 3, 1).flatten(1)  # TF flattens (time, freq, channel)
        return {
            "taggram": torch.sigmoid(self.out(flat)),
            "penultimate": flat,
            "max_pool": last.amax(dim=(2, 3)),
            "mean_pool": last.mean(dim=(2, 3)),
        }


# -- weights -------------------------------------------------------------------------------
def _conv2d(k: np.ndarray) -> np.ndarray:
    return k.transpose(3, 2, 0, 1)  # TF (kh, kw, in, out) -> torch (out, in, kh, kw)


def _bn_params(prefix: str, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "weight": t[f"{prefix}/gamma"],
        "bias": t[f"{prefix}/beta"],
        "running_mean": t[f"{prefix}/moving_mean"],
        "running_var": t[f"{prefix}/moving_variance"],
    }


def _numbered(base: str, i: int) -> str:
    return base if i == 0 else f"{base}_{i}"


def musicnn_state(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A :class:`Musicnn` state dict from the checkpoint's tensors. TF numbered the layers in
    the order the graph created them: input norm, the five front-end branches (timbral 7x38,
    7x67, temporal 128, 64, 32), the three mid-end convolutions, the pooled-features norm, the
    penultimate dense layer and its norm, the output layer."""
    state: dict[str, np.ndarray] = {}

    def put(prefix: str, params: dict[str, np.ndarray]) -> None:
        state.update({f"{prefix}.{k}": v for k, v in params.items()})

    put("input_bn", _bn_params("batch_normalization", t))
    for i in range(5):
        kernel = t[f"{_numbered('conv2d', i)}/kernel"]
        put(
            f"front.{i}.conv",
            {"weight": _conv2d(kernel), "bias": t[f"{_numbered('conv2d', i)}/bias"]},
        )
        put(f"front.{i}.bn", _bn_params(_numbered("batch_normalization", i + 1), t))
    for i in range(3):
        kernel = t[f"conv2d_{5 + i}/kernel"][:, :, 0, :]  # (7, in, out) -> (out, in, 7)
        put(f"mid.{i}", {"weight": kernel.transpose(2, 1, 0), "bias": t[f"conv2d_{5 + i}/bias"]})
        put(f"mid_bn.{i}", _bn_params(f"batch_normalization_{6 + i}", t))
    put("pool_bn", _bn_params("batch_normalization_9", t))
    put("dense", {"weight": t["dense/kernel"].T, "bias": t["dense/bias"]})
    put("dense_bn", _bn_params("batch_normalization_10", t))
    put("out", {"weight": t["dense_1/kernel"].T, "bias": t["dense_1/bias"]})
    return state


def vgg_state(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A :class:`Vgg` state dict: convolutions named 1CNN..5CNN, norms numbered 0..5."""
    state: dict[str, np.ndarray] = {}
    for k, v in _bn_params("batch_normalization", t).items():
        state[f"input_bn.{k}"] = v
    for i in range(5):
        state[f"convs.{i}.weight"] = _conv2d(t[f"{i + 1}CNN/kernel"])
        state[f"convs.{i}.bias"] = t[f"{i + 1}CNN/bias"]
        for k, v in _bn_params(f"batch_normalization_{i + 1}", t).items():
            state[f"bns.{i}.{k}"] = v
    state["out.weight"] = t["dense/kernel"].T
    state["out.bias"] = t["dense/bias"]
    return state


def checkpoint_names(model: str) -> list[str]:
    """The checkpoint variables a model reads (the optimiser's slots are left out)."""
    bn = ("gamma", "beta", "moving_mean", "moving_variance")
    if model.endswith("vgg"):
        names = [f"{i}CNN/{p}" for i in range(1, 6) for p in ("kernel", "bias")]
        names += [f"{_numbered('batch_normalization', i)}/{p}" for i in range(6) for p in bn]
        return [*names, "dense/kernel", "dense/bias"]
    names = [f"{_numbered('conv2d', i)}/{p}" for i in range(8) for p in ("kernel", "bias")]
    names += [f"{_numbered('batch_normalization', i)}/{p}" for i in range(11) for p in bn]
    return names + [f"{_numbered('dense', i)}/{p}" for i in range(2) for p in ("kernel", "bias")]


@lru_cache(maxsize=4)
def load(model: str, folder: str, device: str = "cpu") -> nn.Module:
    """The network ``model`` with the weights of ``folder/<model>/`` (a TF checkpoint), in
    eval mode on ``device``. Cached per process: extraction workers load it once."""
    from musiclust.plugins.features.nets.tf_checkpoint import read_checkpoint

    tensors = read_checkpoint(str(Path(folder) / model) + "/", checkpoint_names(model))
    net: nn.Module = Vgg() if model.endswith("vgg") else Musicnn()
    state = vgg_state(tensors) if model.endswith("vgg") else musicnn_state(tensors)
    net.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=False
    )
    missing = (
        set(net.state_dict())
        - set(state)
        - {k for k in net.state_dict() if k.endswith("num_batches_tracked")}
    )
    if missing:
        raise RuntimeError(f"{model}: no checkpoint tensor for {sorted(missing)[:3]}")
    return net.eval().to(device)


@torch.inference_mode()
def embed(
    net: nn.Module, batch: np.ndarray, device: str = "cpu", size: int = 64
) -> dict[str, np.ndarray]:
    """Every layer for a (patches, 187, 96) batch, run ``size`` patches at a time."""
    outs: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(batch), size):
        x = torch.from_numpy(batch[start : start + size]).to(device)
        for name, value in net(x).items():
            outs.setdefault(name, []).append(value.float().cpu().numpy())
    return {name: np.concatenate(parts) for name, parts in outs.items()}
