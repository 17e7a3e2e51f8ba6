"""On-disk cache of per-clip features, keyed by content identity.

Location: ``MUSICLUST_CACHE_DIR``, else ``$XDG_CACHE_HOME/musiclust``, else
``~/.cache/musiclust``. A key covers the audio file's identity (resolved path, size and
modification time), the extractor's name, version and extraction parameters, and the decoding
settings, so any change to one of them is a miss and nothing stale is ever read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def cache_root() -> Path:
    env = os.environ.get("MUSICLUST_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "musiclust"
    return Path.home() / ".cache" / "musiclust"


def digest(obj: Any) -> str:
    """A stable SHA-256 of a JSON-able object (dict keys sorted)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_identity(path: Path) -> str:
    st = os.stat(path)
    return f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


_MAGIC = b"MLC1"
_DTYPES = {b"f": np.float32, b"d": np.float64}


class FeatureCache:
    """Arrays stored as ``<root>/features/<extractor>/<k[:2]>/<k>.bin``; counts hits and misses.

    A key is the hash of a per-feature prefix (name, version, parameters, decoding settings;
    computed once per feature) and a file identity. Entries use a small binary layout (magic,
    dtype, shape, raw data) that reads in tens of microseconds: a warm run is dominated by
    nothing.
    """

    def __init__(self, root: Path | None = None, enabled: bool = True) -> None:
        self.root = (root or cache_root()) / "features"
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    @staticmethod
    def prefix(feature: str, version: str, params: dict[str, Any], settings: dict[str, Any]) -> str:
        """The part of a key shared by every clip of one feature."""
        return digest(
            {"feature": feature, "version": version, "params": params, "settings": settings}
        )

    @staticmethod
    def key(prefix: str, identity: str) -> str:
        return hashlib.sha256(f"{prefix}|{identity}".encode()).hexdigest()

    def _path(self, feature: str, key: str) -> Path:
        return self.root / feature / key[:2] / f"{key}.bin"

    def get(self, feature: str, key: str) -> np.ndarray | None:
        if not self.enabled:
            return None
        try:
            value = _read(self._path(feature, key))
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, feature: str, key: str, value: np.ndarray) -> None:
        if not self.enabled:
            return
        path = self._path(feature, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write then rename: a killed run never leaves a half-written entry behind
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                _write(fh, np.asarray(value))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _write(fh: Any, value: np.ndarray) -> None:
    code = b"d" if value.dtype == np.float64 else b"f"
    data = np.ascontiguousarray(value, dtype=_DTYPES[code])
    fh.write(_MAGIC + code + bytes([data.ndim]))
    fh.write(np.asarray(data.shape, dtype="<u4").tobytes())
    fh.write(data.tobytes())


def _read(path: Path) -> np.ndarray:
    with open(path, "rb") as fh:
        head = fh.read(6)
        if len(head) < 6 or head[:4] != _MAGIC or head[4:5] not in _DTYPES:
            raise ValueError(f"not a cache entry: {path}")
        shape = tuple(np.frombuffer(fh.read(4 * head[5]), dtype="<u4").tolist())
        dtype = _DTYPES[head[4:5]]
        data = np.frombuffer(fh.read(), dtype=dtype)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"truncated cache entry: {path}")
    return data.reshape(shape)
