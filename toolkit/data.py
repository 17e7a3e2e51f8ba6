"""What a data source yields: clips with optional audio, lyrics, labels and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

#: What plugins may use (source plugins: tests/test_structure.py holds plugins to these).
__all__ = [
    "AUDIO_EXTENSIONS",
    "Clip",
    "Dataset",
    "Skip",
    "clean_lyrics",
    "label_columns",
    "read_text",
]


if TYPE_CHECKING:
    import pandas as pd

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3")


@dataclass
class Clip:
    """One song or excerpt.

    ``labels`` are used for evaluation only, never as model input. ``meta`` holds any other
    columns (a conditional encoder may use them when the user asks).
    """

    id: str
    audio: Path | None = None
    lyrics: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lyrics = clean_lyrics(self.lyrics)


@dataclass(frozen=True)
class Skip:
    """A clip (or file) left out of a run, and why."""

    id: str
    path: str
    reason: str


@dataclass
class Dataset:
    """The clips of one data set, in a fixed order that every array of a run follows."""

    name: str
    clips: list[Clip]
    label_columns: tuple[str, ...] = ()
    root: Path | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    @property
    def has_audio(self) -> bool:
        return any(c.audio is not None for c in self.clips)

    @property
    def has_lyrics(self) -> bool:
        return any(c.lyrics is not None for c in self.clips)

    def subset(self, keep: list[int]) -> Dataset:
        """The same data set restricted to the clips at ``keep`` (order kept)."""
        return Dataset(
            name=self.name,
            clips=[self.clips[i] for i in keep],
            label_columns=self.label_columns,
            root=self.root,
            notes=list(self.notes),
            skipped=list(self.skipped),
        )


def clean_lyrics(text: str | None) -> str | None:
    """Empty or whitespace-only lyrics count as missing (None)."""
    if text is None:
        return None
    if not isinstance(text, str):  # NaN from pandas and the like
        return None
    return text if text.strip() else None


def read_text(path: Path) -> tuple[str, str | None]:
    """Read a lyrics file. Returns (text, note); the note says when a fallback encoding was used."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, f"{path.name}: not UTF-8, read as {encoding}"
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def label_columns(frame: pd.DataFrame, exclude: set[str]) -> list[str]:
    """Text columns with few distinct values: the ones that look like labels (genre, language).

    Few means at least 2 and at most 50 distinct values, and at most half the rows (so titles,
    artists and free text are metadata, not labels).
    """
    out = []
    n = len(frame)
    for column in frame.columns:
        if column in exclude:
            continue
        values = frame[column].dropna()
        if values.empty or not all(isinstance(v, str) for v in values):
            continue
        if _numeric(values):
            continue
        distinct = values.nunique()
        if 2 <= distinct <= min(50, max(2, n // 2)):
            out.append(str(column))
    return out


def _numeric(values: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.to_numeric(values, errors="coerce").notna().all())
