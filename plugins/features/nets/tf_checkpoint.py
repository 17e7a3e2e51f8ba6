"""Reading a TensorFlow (V2 format) checkpoint without TensorFlow: numpy and the standard
library only.

A checkpoint is a pair of files. ``<prefix>.index`` is a LevelDB-format table (an SSTable):
keys are variable names, values are serialised ``BundleEntryProto`` messages that give each
tensor's dtype, shape, shard, offset and length. ``<prefix>.data-00000-of-00001`` holds the raw
little-endian tensor bytes. The table is read block by block (each block's CRC-32C checked),
the protobuf messages are decoded by hand (a handful of varint fields), and each tensor is
viewed out of the data file with its declared size checked; the tensors' own CRC-32C is checked
too (pure Python, about 1.5 s for 9 MB), so a converted copy is worth caching.

Facts about the formats come from the LevelDB table format description (footer of two block
handles and the magic 0xdb4775248b80fb57; blocks of prefix-compressed entries with a restart
array and a 5-byte trailer) and TensorFlow's ``tensor_bundle.proto``.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

MAGIC = 0xDB4775248B80FB57
FOOTER = 48  # two block handles padded to 40 bytes, then the 8-byte magic

# TensorFlow DataType enum values -> numpy (only what checkpoints of float models hold)
DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 10: "|b1", 19: "<f2"}


class CheckpointError(Exception):
    """The files are not a readable TensorFlow checkpoint; the message says what is wrong."""


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes | memoryview) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def unmask(masked: int) -> int:
    """LevelDB and TensorFlow store CRCs 'masked' (rotated and offset)."""
    rot = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise CheckpointError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a protobuf message: varints, fixed32/64, bytes."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 1:
            yield number, wire, struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            yield number, wire, buf[pos : pos + length]
            pos += length
        elif wire == 5:
            yield number, wire, struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")


class Entry:
    """One tensor's ``BundleEntryProto``: dtype, shape, shard, offset, size, crc32c."""

    def __init__(self, message: bytes) -> None:
        self.dtype = 0
        self.shape: list[int] = []
        self.shard = self.offset = self.size = 0
        self.crc: int | None = None
        self.sliced = False
        for number, _, value in _fields(message):
            if number == 1:
                self.dtype = int(value)  # type: ignore[arg-type]
            elif number == 2:  # TensorShapeProto: repeated Dim dim = 2 { int64 size = 1 }
                for n, _, dim in _fields(value):  # type: ignore[arg-type]
                    if n == 2:
                        size = dict((k, v) for k, _, v in _fields(dim)).get(1, 0)  # type: ignore[arg-type]
                        self.shape.append(int(size))  # type: ignore[arg-type]
            elif number == 3:
                self.shard = int(value)  # type: ignore[arg-type]
            elif number == 4:
                self.offset = int(value)  # type: ignore[arg-type]
            elif number == 5:
                self.size = int(value)  # type: ignore[arg-type]
            elif number == 6:
                self.crc = int(value)  # type: ignore[arg-type]
            elif number == 7:
                self.sliced = True


def _block(data: bytes, offset: int, size: int) -> bytes:
    """One table block, its trailer (compression type, masked CRC-32C) checked."""
    if offset + size + 5 > len(data):
        raise CheckpointError("index file truncated (a block runs past its end)")
    block = data[offset : offset + size]
    kind = data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if crc32c(data[offset : offset + size + 1]) != unmask(stored):
        raise CheckpointError(f"index file corrupted (checksum of the block at byte {offset})")
    if kind != 0:
        raise CheckpointError(f"compressed index blocks (type {kind}) are not supported")
    return block


def _entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs of one block, undoing the keys' prefix compression."""
    if len(block) < 4:
        raise CheckpointError("index block too short")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise CheckpointError("index block has a bad restart array")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + length]
        pos += length


def _handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def read_index(path: Path) -> dict[str, Entry]:
    """Every tensor entry of a checkpoint's ``.index`` table, by variable name."""
    data = Path(path).read_bytes()
    if len(data) < FOOTER:
        raise CheckpointError(f"{path} is too short to be a checkpoint index")
    footer = data[-FOOTER:]
    if struct.unpack("<Q", footer[-8:])[0] != MAGIC:
        raise CheckpointError(f"{path} is not a TensorFlow checkpoint index (no table magic)")
    _, _, pos = _handle(footer)  # the metaindex block: unused by checkpoints
    index_offset, index_size, _ = _handle(footer, pos)
    entries: dict[str, Entry] = {}
    for _, value in _entries(_block(data, index_offset, index_size)):
        offset, size, _ = _handle(value)
        for key, message in _entries(_block(data, offset, size)):
            if key:  # the empty key holds the BundleHeaderProto
                entries[key.decode("utf-8")] = Entry(message)
    return entries


def read_checkpoint(
    prefix: str, names: Collection[str] | None = None, verify: bool = True
) -> dict[str, np.ndarray]:
    """The tensors of a single-shard checkpoint (all, or those in ``names``): ``prefix`` +
    ``.index`` and ``prefix`` + ``.data-00000-of-00001`` (a prefix ending in ``/`` names files
    in a folder)."""
    index = Path(f"{prefix}.index")
    shard = Path(f"{prefix}.data-00000-of-00001")
    for path in (index, shard):
        if not path.is_file():
            raise CheckpointError(f"checkpoint file missing: {path}")
    entries = read_index(index)
    blob = shard.read_bytes()
    tensors: dict[str, np.ndarray] = {}
    if names is not None:
        absent = sorted(set(names) - set(entries))
        if absent:
            raise CheckpointError(
                f"{index} lacks {len(absent)} expected tensors ({', '.join(absent[:3])}, ...)"
            )
        entries = {name: entries[name] for name in names}
    for name, entry in entries.items():
        if entry.shard != 0 or entry.sliced:
            raise CheckpointError(f"{name}: sharded or sliced tensors are not supported")
        if entry.dtype not in DTYPES:
            raise CheckpointError(f"{name}: unsupported dtype enum {entry.dtype}")
        dtype = np.dtype(DTYPES[entry.dtype])
        count = int(np.prod(entry.shape)) if entry.shape else 1
        if count * dtype.itemsize != entry.size or entry.offset + entry.size > len(blob):
            raise CheckpointError(
                f"{name}: {entry.size} bytes at {entry.offset} do not hold a "
                f"{entry.shape} {dtype} tensor in a {len(blob)}-byte data file (truncated?)"
            )
        raw = blob[entry.offset : entry.offset + entry.size]
        if verify and entry.crc is not None and crc32c(raw) != unmask(entry.crc):
            raise CheckpointError(f"{name}: the data file is corrupted (checksum mismatch)")
        tensors[name] = np.frombuffer(raw, dtype=dtype).reshape(entry.shape).copy()
    return tensors
