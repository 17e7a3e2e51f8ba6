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
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


class FeatureCache:
    """Arrays stored as ``<root>/features/<extractor>/<k[:2]>/<k>.npy``; counts hits and misses."""

    def __init__(self, root: Path | None = None, enabled: bool = True) -> None:
        self.root = (root or cache_root()) / "features"
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def key(
        self,
        identity: str,
        feature: str,
        version: str,
        params: dict[str, Any],
        audio: dict[str, Any],
    ) -> str:
        return digest(
            {
                "file": identity,
                "feature": feature,
                "version": version,
                "params": params,
                "audio": audio,
            }
        )

    def _path(self, feature: str, key: str) -> Path:
        return self.root / feature / key[:2] / f"{key}.npy"

    def get(self, feature: str, key: str) -> np.ndarray | None:
        if not self.enabled:
            return None
        path = self._path(feature, key)
        try:
            value = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
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
                np.save(fh, np.asarray(value), allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
