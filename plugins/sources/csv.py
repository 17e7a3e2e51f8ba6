"""``csv``: a manifest with an audio path (relative to the CSV), lyrics, labels and extra columns.

Columns ``audio`` and ``lyrics`` by default (lyrics inline, may span lines when quoted); every
other text column with few distinct values is a label column unless ``csv.labels`` names them.
Without an ``audio`` column, a column of audio file names (``file``, ``path`` ...) is used, and
the run's notes say so; a CSV with no such column is a lyrics-only data set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from musiclust import Clip, DataError, Dataset, Skip, Source, Str, hookimpl
from musiclust.data import AUDIO_EXTENSIONS, clean_lyrics, label_columns

#: CSV names that say nothing of the collection: its folder names the experiment instead.
GENERIC_NAMES = {"manifest", "metadata", "data", "index", "list", "tracks", "clips", "dataset"}


class CsvSource(Source):
    """A CSV manifest: audio paths relative to it, inline lyrics, label columns."""

    name = "csv"
    takes_path = True
    params = (
        Str("path", "", help="the CSV file"),
        Str("audio_column", "audio", help="column of audio paths (relative to the CSV)"),
        Str("lyrics_column", "lyrics", help="column of inline lyrics"),
        Str(
            "id_column",
            "id",
            help="column of clip ids (default: the audio file's name, else the row number)",
        ),
        Str("labels", "", help="comma-separated label columns (default: detected)"),
    )

    def check(self) -> None:
        if not self.path:
            raise DataError("source 'csv' needs a path", "give --data FILE.csv")
        if not Path(self.path).is_file():
            raise DataError(f"no such file: {self.path}")

    def experiment_name(self) -> str:
        """The file's name, or its folder's where the name says nothing of the collection
        (``gtzan/manifest.csv`` is ``gtzan``)."""
        path = Path(self.path).resolve()
        return path.parent.name if path.stem.lower() in GENERIC_NAMES else path.stem

    def load(self) -> Dataset:
        self.check()
        path = Path(self.path).resolve()
        import pandas as pd  # here: listing the plugins should not import pandas

        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        except Exception as exc:
            raise DataError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
        columns = list(frame.columns)
        for column, default in (("audio_column", "audio"), ("lyrics_column", "lyrics")):
            name = getattr(self, column)
            if name not in frame and name != default:
                raise DataError(
                    f"csv.{column}: no column '{name}' in {path.name} "
                    f"(columns: {', '.join(columns)})"
                )
        notes = []
        audio_column = self.audio_column
        if audio_column not in frame and (found := _audio_paths_column(frame)):
            # a manifest whose audio column has another name used to become a lyrics-only run
            notes.append(
                f"csv: audio paths read from the column '{found}' ({path.name} has no "
                f"'{audio_column}' column; csv.audio_column chooses another)"
            )
            audio_column = found
        has_audio, has_lyrics = audio_column in frame, self.lyrics_column in frame
        if not has_audio and not has_lyrics:
            raise DataError(
                f"{path.name} has neither an '{audio_column}' nor a '{self.lyrics_column}' "
                f"column (columns: {', '.join(columns)})",
                "set csv.audio_column / csv.lyrics_column",
            )
        used = {audio_column, self.lyrics_column, self.id_column}
        if self.labels:
            labels = [c.strip() for c in self.labels.split(",") if c.strip()]
            missing = [c for c in labels if c not in frame]
            if missing:
                raise DataError(
                    f"csv.labels: no column '{missing[0]}' in {path.name} "
                    f"(columns: {', '.join(columns)})"
                )
        else:
            labels = label_columns(frame, exclude=used)

        ids = _ids(frame, self.id_column, audio_column if has_audio else None)
        clips, skipped = [], []
        for i, (clip_id, row) in enumerate(zip(ids, frame.to_dict(orient="records"))):
            audio = row.get(audio_column) if has_audio else None
            lyrics = clean_lyrics(row.get(self.lyrics_column)) if has_lyrics else None
            audio_path = (
                (path.parent / audio).resolve()
                if isinstance(audio, str) and audio.strip()
                else None
            )
            if audio_path is None and lyrics is None:
                skipped.append(Skip(clip_id, "", f"row {i + 2}: no audio and no lyrics"))
                continue
            clips.append(
                Clip(
                    clip_id,
                    audio=audio_path,
                    lyrics=lyrics,
                    labels={c: row[c] for c in labels if isinstance(row.get(c), str)},
                    meta={k: v for k, v in row.items() if k not in used and isinstance(v, str)},
                )
            )
        if not clips:
            raise DataError(f"{path.name}: no row has audio or lyrics")
        return Dataset(self.experiment_name(), clips, tuple(labels), path.parent, notes, skipped)


def _audio_paths_column(frame: pd.DataFrame) -> str | None:
    """The first column whose filled cells are nearly all audio file names (.wav, .mp3 ...)."""
    for column in frame.columns:
        values = frame[column].dropna().astype(str).str.strip().str.lower()
        values = values[values != ""]
        if len(values) and values.str.endswith(AUDIO_EXTENSIONS).mean() >= 0.9:
            return str(column)
    return None


def _ids(frame: pd.DataFrame, column: str, audio: str | None) -> list[str]:
    """Each row's id: its id column, else its audio file's name without the extension
    (``blues.00000``), else its row number (``row00001``)."""

    def fallback(i: int, row: dict) -> str:
        value = row.get(audio) if audio else None
        if isinstance(value, str) and value.strip():
            return Path(value.strip()).stem
        return f"row{i + 1:05d}"

    rows = frame.to_dict(orient="records")
    raw = [
        str(row[column]) if isinstance(row.get(column), str) else fallback(i, row)
        for i, row in enumerate(rows)
    ]
    seen: dict[str, int] = {}
    out = []
    for value in raw:  # keep ids unique: a repeated id gets a suffix
        seen[value] = seen.get(value, 0) + 1
        out.append(value if seen[value] == 1 else f"{value}~{seen[value]}")
    return out


@hookimpl
def register_sources(register):
    register(CsvSource)
