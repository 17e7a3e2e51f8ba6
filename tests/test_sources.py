"""Data sources on real files: folder layouts, CSV manifests, and the deterministic demo."""

import hashlib

import pytest
from helpers import write_tone

from musiclust.errors import DataError
from musiclust.registry import get_registry


def source(name, **params):
    return get_registry().get("source", name).cls(**params)


@pytest.fixture
def collection(tmp_path):
    """gtzan-like: collection/genres_original/<genre>/*.wav, lyrics/ and metadata.csv beside."""
    root = tmp_path / "collection"
    audio = root / "genres_original"
    for genre in ("blues", "rock"):
        for i in range(3):
            write_tone(audio / genre / f"{genre}.{i:05d}.wav", seconds=1.2, freq=200 + 50 * i)
    (audio / "rock" / "cover.jpg").write_bytes(b"\xff\xd8 not audio")
    lyrics = root / "lyrics"
    lyrics.mkdir()
    (lyrics / "blues.00000.txt").write_text("My baby left me\nthis morning", encoding="utf-8")
    (lyrics / "blues.00001.txt").write_bytes("Caf\xe9 au lait, ma ch\xe8re".encode("cp1252"))
    (lyrics / "rock.00000.txt").write_text("   \n\t ", encoding="utf-8")  # empty = missing
    (lyrics / "rock.00001.txt").write_text("আমার সোনার বাংলা", encoding="utf-8")
    (root / "metadata.csv").write_text(
        "id,language,artist\n"
        "blues.00000,en,A\nblues.00001,fr,B\nblues.00002,en,C\n"
        "rock.00000,en,D\nrock.00001,bn,E\nrock.00002,en,F\n",
        encoding="utf-8",
    )
    return root


def test_folder_reads_labels_lyrics_and_metadata(collection):
    ds = source("folder", path=str(collection / "genres_original")).load()
    clips = {c.id: c for c in ds.clips}
    assert len(clips) == 6  # cover.jpg is not audio
    assert clips["rock.00002"].labels == {"genre": "rock", "language": "en"}
    assert clips["blues.00000"].lyrics == "My baby left me\nthis morning"
    assert clips["blues.00001"].lyrics == "Café au lait, ma chère"
    assert any("not UTF-8, read as cp1252" in n for n in ds.notes)
    assert clips["rock.00000"].lyrics is None  # whitespace-only
    assert clips["rock.00001"].lyrics == "আমার সোনার বাংলা"
    assert clips["blues.00002"].lyrics is None
    assert ds.label_columns == ("genre", "language")  # artist: one value per clip, not a label
    assert clips["rock.00001"].meta["artist"] == "E"
    assert ds.name == "collection"


def test_folder_descends_into_the_container(collection):
    direct = source("folder", path=str(collection / "genres_original")).load()
    via_root = source("folder", path=str(collection)).load()
    assert [c.id for c in via_root.clips] == [c.id for c in direct.clips]
    assert [c.labels for c in via_root.clips] == [c.labels for c in direct.clips]
    assert sum(c.lyrics is not None for c in via_root.clips) == 3


def test_folder_keeps_ids_unique_when_a_name_repeats(tmp_path):
    write_tone(tmp_path / "pop" / "song.wav")
    write_tone(tmp_path / "jazz" / "song.wav")
    ds = source("folder", path=str(tmp_path)).load()
    assert sorted(c.id for c in ds.clips) == ["jazz/song", "pop/song"]
    assert any("two label folders" in n for n in ds.notes)


def test_folder_without_audio_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        source("folder", path=str(tmp_path / "empty")).load()


def test_csv_manifest(tmp_path):
    write_tone(tmp_path / "audio" / "a.wav")
    write_tone(tmp_path / "audio" / "b.wav")
    manifest = tmp_path / "songs.csv"
    manifest.write_text(
        "audio,lyrics,genre,title,year\n"
        'audio/a.wav,"first line\nsecond line",pop,Song A,1999\n'
        "audio/b.wav,,rock,Song B,2001\n"
        ",only words here,rock,Song C,2003\n"
        ",,pop,Nothing,2004\n",
        encoding="utf-8",
    )
    ds = source("csv", path=str(manifest)).load()
    assert [c.id for c in ds.clips] == ["a", "b", "row00003"]  # the audio's name, else the row
    assert ds.clips[0].audio == (tmp_path / "audio" / "a.wav").resolve()
    assert ds.clips[0].lyrics == "first line\nsecond line"
    assert ds.clips[1].lyrics is None and ds.clips[2].audio is None
    assert ds.label_columns == ("genre",)  # title: unique per row; year: numeric
    assert ds.clips[0].meta == {"genre": "pop", "title": "Song A", "year": "1999"}
    assert [s.reason for s in ds.skipped] == ["row 5: no audio and no lyrics"]
    assert ds.name == "songs"
    # a manifest's generic name gives way to its folder's; an id column wins over the audio
    (tmp_path / "gtzan").mkdir()
    generic = tmp_path / "gtzan" / "manifest.csv"
    generic.write_text("audio,id\n../audio/a.wav,first\n../audio/b.wav,\n", encoding="utf-8")
    named = source("csv", path=str(generic)).load()
    assert named.name == "gtzan" and [c.id for c in named.clips] == ["first", "b"]


def test_a_csv_whose_audio_column_has_another_name_is_read_as_audio(tmp_path):
    write_tone(tmp_path / "a.wav")
    write_tone(tmp_path / "b.MP3", fmt="WAV")  # the name decides here, not the content
    manifest = tmp_path / "songs.csv"
    manifest.write_text(
        "title,file,lyrics,genre\nA,a.wav,la la,pop\nB,b.MP3,,rock\nC,,words,rock\n",
        encoding="utf-8",
    )
    ds = source("csv", path=str(manifest)).load()
    assert ds.has_audio and ds.clips[0].audio == (tmp_path / "a.wav").resolve()
    assert ds.clips[2].audio is None and ds.clips[2].lyrics == "words"
    assert "file" not in ds.label_columns and "file" not in ds.clips[0].meta
    assert any("audio paths read from the column 'file'" in n for n in ds.notes)
    # an explicit choice is kept, and a lyrics-only CSV stays lyrics-only, without a note
    words = tmp_path / "words.csv"
    words.write_text("title,lyrics\nA,la la\nB,more words\n", encoding="utf-8")
    assert not source("csv", path=str(words)).load().has_audio
    assert not source("csv", path=str(words)).load().notes


def test_csv_mistakes_name_the_columns(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("name,text\nx,hi\n")
    with pytest.raises(
        DataError, match=r"neither an 'audio' nor a 'lyrics' column \(columns: name, text\)"
    ):
        source("csv", path=str(manifest)).load()
    with pytest.raises(DataError, match=r"csv\.labels: no column 'genre'"):
        source("csv", path=str(manifest), lyrics_column="text", labels="genre").load()


def _fingerprint(ds):
    digest = hashlib.sha256()
    for clip in ds.clips:
        digest.update(clip.id.encode() + clip.audio.read_bytes() + (clip.lyrics or "").encode())
    return digest.hexdigest()


def test_demo_is_deterministic_labelled_and_partly_instrumental(tmp_path, monkeypatch):
    params = {"n_per_style": 4, "duration": 2.0}
    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(tmp_path / "one"))
    first = source("demo", **params).load()
    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(tmp_path / "two"))
    second = source("demo", **params).load()
    assert first.clips[0].audio != second.clips[0].audio  # really synthesised twice
    assert _fingerprint(first) == _fingerprint(second)
    other = source("demo", data_seed=1, **params).load()
    assert _fingerprint(other) != _fingerprint(first)
    assert {c.labels["genre"] for c in first.clips} == {
        "ballad",
        "rock",
        "electronic",
        "folk",
        "hiphop",
    }
    assert len(first.clips) == 20
    without = sum(c.lyrics is None for c in source("demo").load().clips)
    assert 0 < without < 30


def test_demo_languages_put_a_label_in_the_lyrics_alone(tmp_path, monkeypatch):
    """demo.languages=N: every song sung in one of N languages drawn apart from its style; the
    audio stays the very same songs."""
    from musiclust.plugins.sources.synth import LANGUAGES

    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(tmp_path))
    plain = source("demo", n_per_style=6, duration=1.0).load()
    sung = source("demo", n_per_style=6, duration=1.0, languages=3).load()
    assert sung.label_columns == ("genre", "language")
    assert {c.labels["language"] for c in sung.clips} == {"english", "spanish", "bengali"}
    for a, b in zip(plain.clips, sung.clips):
        assert a.audio.read_bytes() == b.audio.read_bytes()  # the same audio
        words = set(b.lyrics.lower().split())
        assert b.lyrics is not None and words <= set(LANGUAGES[b.labels["language"]])
    by_style = {}
    for c in sung.clips:
        by_style.setdefault(c.labels["genre"], set()).add(c.labels["language"])
    assert sum(len(v) > 1 for v in by_style.values()) >= 4  # languages cross the styles
    one = source("demo", styles=1, n_per_style=9, duration=1.0, languages=2).load()
    assert {c.labels["genre"] for c in one.clips} == {"ballad"} and len(one.clips) == 9
