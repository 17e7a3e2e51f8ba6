"""``folder``: audio in one subfolder per label, with optional lyrics and metadata beside it.

Layout (GTZAN's download, BanglaBeats, or your own)::

    my-collection/
      genres_original/      <- --data points here (or at my-collection/, see below)
        blues/blues.00000.wav
        rock/...
      lyrics/blues.00000.txt  <- <clip id>.txt, the clip id being the audio file's stem
      metadata.csv            <- optional, joined on its `id` column

When ``--data`` points at a folder whose only audio-bearing subfolder holds the label folders
(``my-collection/`` above), that subfolder is used. Audio files directly in the folder are
clips without a label.
"""

from __future__ import annotations

from pathlib import Path

from musiclust import Clip, DataError, Dataset, Source, Str, hookimpl
from musiclust.data import AUDIO_EXTENSIONS, label_columns, read_text

CONTAINER_NAMES = {"genres_original", "genres", "audio", "wav", "data", "songs"}


class FolderSource(Source):
    """Audio in one subfolder per label; lyrics as <clip id>.txt; optional metadata.csv."""

    name = "folder"
    takes_path = True
    params = (
        Str("path", "", help="folder whose subfolders are the labels"),
        Str("lyrics", "", help="folder of <clip id>.txt files (default: lyrics/ beside the data)"),
        Str("metadata", "", help="CSV with an id column (default: metadata.csv beside the data)"),
        Str("label", "genre", help="name of the label the subfolders give"),
    )

    def check(self) -> None:
        if not self.path:
            raise DataError("source 'folder' needs a path", "give --data FOLDER")
        if not Path(self.path).is_dir():
            raise DataError(f"no such folder: {self.path}")
        for what in ("lyrics", "metadata"):
            value = getattr(self, what)
            if value and not Path(value).exists():
                raise DataError(f"folder.{what}: no such path: {value}")

    def root(self) -> Path:
        """The folder holding the label subfolders.

        When no subfolder holds audio directly but exactly one subfolder has subfolders that
        do (``gtzan-mini/`` around ``genres_original/<genre>/``), that one is the root.
        """
        path = Path(self.path).resolve()
        if _audio_files(path, recursive=False) or any(_holds_audio(d) for d in _subdirs(path)):
            return path
        containers = [d for d in _subdirs(path) if any(_holds_audio(s) for s in _subdirs(d))]
        return containers[0] if len(containers) == 1 else path

    def experiment_name(self) -> str:
        root = self.root()
        return root.parent.name if root.name in CONTAINER_NAMES else root.name

    def load(self) -> Dataset:
        self.check()
        root = self.root()
        notes = [] if root == Path(self.path).resolve() else [f"using {root} (holds the labels)"]
        entries = [(f, None) for f in _audio_files(root, recursive=False)]
        for label_dir in _label_dirs(root):
            entries += [(f, label_dir.name) for f in _audio_files(label_dir, recursive=True)]
        if not entries:
            raise DataError(
                f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {root} or its subfolders"
            )

        stems = [f.stem for f, _ in entries]
        clips = []
        for path, label in entries:
            clip_id = path.stem
            if stems.count(clip_id) > 1:
                clip_id = f"{label or '.'}/{path.stem}"
            clips.append(Clip(clip_id, audio=path, labels={self.label: label} if label else {}))
        if len({c.id for c in clips}) < len(clips):
            raise DataError(f"clip ids are not unique in {root} even with their label folders")
        if len(set(stems)) < len(stems):
            notes.append("some file names occur in two label folders: their ids are label/stem")

        lyrics_dir = Path(self.lyrics) if self.lyrics else root.parent / "lyrics"
        if lyrics_dir.is_dir():
            notes += _attach_lyrics(clips, lyrics_dir)
        label_cols = [self.label] if any(c.labels for c in clips) else []
        metadata = Path(self.metadata) if self.metadata else root.parent / "metadata.csv"
        if metadata.is_file():
            label_cols += _attach_metadata(clips, metadata, notes, exclude=set(label_cols))
        return Dataset(self.experiment_name(), clips, tuple(label_cols), root, notes)


def _subdirs(path: Path) -> list[Path]:
    return sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))


def _audio_files(path: Path, recursive: bool) -> list[Path]:
    files = path.rglob("*") if recursive else path.iterdir()
    return sorted(f for f in files if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)


def _holds_audio(path: Path) -> bool:
    return path.name != "lyrics" and bool(_audio_files(path, recursive=False))


def _label_dirs(path: Path) -> list[Path]:
    return [d for d in _subdirs(path) if d.name != "lyrics" and _audio_files(d, recursive=True)]


def _attach_lyrics(clips: list[Clip], lyrics_dir: Path) -> list[str]:
    notes = []
    for clip in clips:
        stem = clip.id.rsplit("/", 1)[-1]
        path = lyrics_dir / f"{stem}.txt"
        if path.is_file():
            text, note = read_text(path)
            clip.lyrics = text if text.strip() else None
            if note:
                notes.append(note)
    return notes


def _attach_metadata(
    clips: list[Clip], path: Path, notes: list[str], exclude: set[str]
) -> list[str]:
    import pandas as pd  # here: listing the plugins should not import pandas

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:
        raise DataError(f"cannot read metadata {path}: {exc}") from None
    if "id" not in frame:
        raise DataError(f"metadata {path} has no 'id' column (columns: {', '.join(frame.columns)})")
    frame = frame.drop_duplicates("id").set_index("id")
    labels = label_columns(frame.reset_index(), exclude={"id", *exclude})
    unmatched = 0
    for clip in clips:
        key = clip.id.rsplit("/", 1)[-1]
        if key not in frame.index:
            unmatched += 1
            continue
        row = frame.loc[key]
        clip.meta.update({k: v for k, v in row.items() if isinstance(v, str)})
        clip.labels.update({k: row[k] for k in labels if isinstance(row[k], str)})
    if unmatched:
        notes.append(f"{unmatched} clips have no row in {path.name}")
    return labels


@hookimpl
def register_sources(register):
    register(FolderSource)
