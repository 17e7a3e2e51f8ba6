"""`musiclust describe`: a data overview run; planted problems are each found and named."""

import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import soundfile as sf

from musiclust.describe import describe
from musiclust.registry import get_registry
from tests.helpers import write_styled_folder


def planted(tmp_path: Path) -> Path:
    """A GTZAN-style folder with one of each problem the overview must find."""
    root = write_styled_folder(tmp_path / "songs" / "genres_original", n_per_style=4, styles=3)
    styles = sorted(p.name for p in root.iterdir())
    a, b, c = styles
    first = root / a / f"{a}.00000.wav"
    shutil.copy(first, root / b / "copy_of_first.wav")  # exact duplicate audio
    sf.write(root / a / "quiet.wav", np.zeros(22050 * 2, np.float32), 22050)  # silent
    (root / b / "empty.wav").write_bytes(b"")  # zero bytes
    lonely = root / "lonely"  # a label with one clip
    lonely.mkdir()
    shutil.copy(root / c / f"{c}.00001.wav", lonely / "lonely.00000.wav")
    shutil.copy(root / c / f"{c}.00002.wav", root / a / f"{c}.00002.wav")  # same id, two labels
    lyrics = root.parent / "lyrics"
    lyrics.mkdir()
    (lyrics / f"{a}.00000.txt").write_text("the river runs to the sea tonight " * 3)
    (lyrics / f"{a}.00001.txt").write_text("The river runs to the sea, tonight! " * 3)  # dup
    (lyrics / f"{b}.00000.txt").write_text("আমার সোনার বাংলা আমি তোমায় ভালোবাসি " * 2)
    (lyrics / f"{b}.00001.txt").write_text(
        "dancing all night under the neon lights with my friends and we sing"
    )
    (lyrics / f"{b}.00002.txt").write_text(
        "dancing all night under the neon lights with my friends and we sing along"
    )  # near-duplicate
    return root


def test_every_planted_problem_is_found_and_named(tmp_path: Path):
    root = planted(tmp_path)
    overview = describe(get_registry(), data=str(root), source=None, sets=[], progress=False)
    kinds: dict[str, list[str]] = {}
    for finding in overview.findings:
        kinds.setdefault(finding.kind, []).append(finding.ids)
    ids = {kind: " | ".join(found) for kind, found in kinds.items()}
    assert "copy_of_first" in ids["duplicate audio"]
    assert "quiet" in ids["silent"]
    assert "empty" in ids["unreadable"]
    assert "genre=lonely" in ids["too few clips for K"]
    assert ids["too few clips for K"].count("genre=") == 1  # the others are fine
    assert "00002" in ids["same id in two labels"]
    assert ".00000" in ids["duplicate lyrics"] and ".00001" in ids["duplicate lyrics"]
    assert "00001" in ids["near-duplicate lyrics"] and "00002" in ids["near-duplicate lyrics"]

    run = mlflow.MlflowClient().get_run(overview.run_id)
    assert run.data.tags["musiclust.kind"] == "overview"
    assert run.data.metrics["findings.silent"] == 1
    files = Path(mlflow.artifacts.download_artifacts(run_id=overview.run_id))
    scripts = pd.read_csv(files / "tables" / "lyrics_scripts.csv")
    assert set(scripts["script"]) == {"LATIN", "BENGALI"}
    assert set(scripts["language"]) == {"en", "bn"}
    findings = pd.read_csv(files / "findings.csv")
    assert len(findings) == len(overview.findings)
    page = (files / "overview.html").read_text()
    assert "quiet" in page and "near-duplicate lyrics" in page
    assert "alt='counts_genre'" in page and "src='data:image/png;base64," in page
    assert (files / "plots" / "counts_genre.png").stat().st_size > 0
    audio = pd.read_csv(files / "tables" / "audio.csv")
    assert set(audio["sample_rate"].dropna().astype(int)) == {22050}


def test_describe_on_gtzan_mini_from_the_command_line(gtzan_mini: Path, tmp_path: Path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "musiclust",
            "describe",
            "--data",
            str(gtzan_mini / "genres_original"),
            "--window",
            "16",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "gtzan-mini: 50 clips" in out.stdout
    assert "genre: 10 labels, 5-5 clips each" in out.stdout
    assert "lyrics: 35 of 50 clips" in out.stdout
    assert "shorter than the analysis window" in out.stdout  # some clips are 15 s
    assert "report: " in out.stdout and "overview.html" in out.stdout


def test_metadata_only_reads_headers_and_says_what_it_did_not_check(tmp_path: Path):
    root = planted(tmp_path)
    overview = describe(
        get_registry(), data=str(root), source=None, sets=[], progress=False, samples=False
    )
    kinds = {f.kind for f in overview.findings}
    assert "unreadable" in kinds and "too few clips for K" in kinds  # from names and headers
    assert not kinds & {"duplicate audio", "silent"}  # these need the samples
    assert "metadata only" in overview.summary[-1]


def test_top_terms_leave_out_function_words_and_numbers():
    from musiclust.describe import _top_terms

    docs = {
        "rock": ["the", "the", "guitar", "guitar", "1999", "a", "of", "loud"],
        "pop": ["the", "you", "baby", "baby", "2000", "y", "la", "dance"],
    }
    terms = _top_terms(docs)
    assert terms["rock"][:2] == ["guitar", "loud"] and terms["pop"][:2] == ["baby", "dance"]
    shown = {t for ts in terms.values() for t in ts}
    assert not shown & {"the", "a", "of", "you", "y", "la", "1999", "2000"}
