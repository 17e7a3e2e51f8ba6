"""On-disk cache of per-clip features, keyed by content identity.

Location: ``MUSICLUST_CACHE_DIR``, else ``$XDG_CACHE_HOME/musiclust``, else
``~/.cache/musiclust``. A key covers the audio file's identity (resolved path, size and
modification time), the extractor's name, version and extraction parameters, and the decoding
settings, so any change to one of them is a miss and nothing stale is ever read.

Each entry carries a CRC-32 of its values, checked on every read: an entry damaged on disk (a
flipped byte, a crafted file with a valid header) is deleted, counted in ``dropped`` and
recomputed, never used. A cache that cannot be written (a read-only folder, a full disk)
degrades to reading only, with one warning, instead of failing the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

#: What plugins may use: a stable digest of parameters (a model's identity), the cache's
#: folder (tests/test_structure.py holds plugins to these).
__all__ = ["cache_root", "digest"]


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


log = logging.getLogger("musiclust")
_MAGIC = b"MLC2"  # MLC1 entries (no checksum) are read as misses and rewritten
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
        self.writable = enabled
        self.hits = 0
        self.misses = 0
        self.dropped = 0  # damaged entries deleted and recomputed
        self.notes: list[str] = []

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
        path = self._path(feature, key)
        try:
            value = _read(path)
        except Damaged as exc:
            self.misses += 1
            self.dropped += 1
            if self.dropped == 1:
                self.notes.append(f"feature cache: {exc}; dropped and recomputed")
            log.warning("feature cache: %s; dropped and recomputed", exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, feature: str, key: str, value: np.ndarray) -> None:
        if not self.writable:
            return
        path = self._path(feature, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # write then rename: a killed run never leaves a half-written entry behind
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        except OSError as exc:
            self._unwritable(exc)
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                _write(fh, np.asarray(value))
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            self._unwritable(exc)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _unwritable(self, exc: OSError) -> None:
        """Go on without writing: the features are computed either way."""
        self.writable = False
        message = (
            f"feature cache at {self.root} cannot be written ({exc.strerror or exc}): "
            "running without caching new features (set MUSICLUST_CACHE_DIR to a writable folder)"
        )
        self.notes.append(message)
        log.warning(message)


class Damaged(ValueError):
    """A cache entry whose checksum or layout does not hold."""


def _write(fh: Any, value: np.ndarray) -> None:
    """magic, dtype code, ndim, shape (u4 each), CRC-32 of the data (u4), the data."""
    code = b"d" if value.dtype == np.float64 else b"f"
    data = np.ascontiguousarray(value, dtype=_DTYPES[code]).tobytes()
    fh.write(_MAGIC + code + bytes([value.ndim]))
    fh.write(np.asarray(value.shape, dtype="<u4").tobytes())
    fh.write(np.asarray([zlib.crc32(data)], dtype="<u4").tobytes())
    fh.write(data)


def _read(path: Path) -> np.ndarray:
    with open(path, "rb") as fh:
        head = fh.read(6)
        if len(head) < 6 or head[:3] != _MAGIC[:3]:
            raise Damaged(f"{path} is not a cache entry")
        if head[:4] != _MAGIC:
            raise ValueError(f"{path}: an older cache format")  # a plain miss, rewritten
        if head[4:5] not in _DTYPES:
            raise Damaged(f"{path} has an unknown value type")
        shape = tuple(np.frombuffer(fh.read(4 * head[5]), dtype="<u4").tolist())
        checksum = fh.read(4)
        raw = fh.read()
    dtype = _DTYPES[head[4:5]]
    if len(shape) != head[5] or len(checksum) < 4:
        raise Damaged(f"{path} is truncated")
    if len(raw) != int(np.prod(shape)) * np.dtype(dtype).itemsize:
        raise Damaged(f"{path} is truncated or padded")
    if zlib.crc32(raw) != int(np.frombuffer(checksum, dtype="<u4")[0]):
        raise Damaged(f"{path} fails its checksum")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)
