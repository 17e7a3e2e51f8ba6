"""``musiclust describe``: know the data before clustering it, as one tracked MLflow run.

Phases, each with a progress bar:
  1. list the clips (the data-source plugin; decodes nothing)
  2. read audio headers: format, sample rate, channels, duration (no decoding)
  3. hash file contents: exact duplicate audio
  4. decode with the run's own rules: unreadable, truncated, silent or too-short files
  5. lyrics: coverage per label, lengths, top terms per label, scripts, duplicates

Everything lands in one run tagged ``musiclust.kind=overview``: tables (CSV), plots (PNG),
``findings.csv`` (every data-quality problem, one row each) and ``overview.html``.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musiclust import __version__, overview
from musiclust.registry import Registry

#: Lyrics whose TF-IDF cosine similarity reaches this are near-duplicates.
NEAR_DUPLICATE = 0.9
#: Songs compared with all others at a time when looking for near-duplicate lyrics.
NEAR_BLOCK = 512
TOP_TERMS = 10


@dataclass
class Finding:
    kind: str
    ids: str
    detail: str


@dataclass
class Overview:
    run_id: str
    experiment: str
    n_clips: int
    label_counts: dict[str, dict[str, int]]
    findings: list[Finding]
    summary: list[str] = field(default_factory=list)
    report: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def describe(
    registry: Registry,
    *,
    data: str | None,
    source: str | None,
    sets: list[str],
    config: str | None = None,
    k: int | None = None,
    window: float | None = None,
    experiment: str | None = None,
    progress: bool = True,
    samples: bool = True,
) -> Overview:
    """The overview run; ``samples=False`` reads names and headers only (no hashing or
    decoding: duplicates, silent and undecodable files are then not looked for)."""
    import pandas as pd

    from musiclust import tracking
    from musiclust.adapt import load_source
    from musiclust.audio import AudioSettings
    from musiclust.spec import build_spec

    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] = now - clock
        clock = now

    spec = build_spec(registry, data=data, source=source, sets=sets, config=config, reports=[])
    settings = AudioSettings.from_params(spec.audio)
    window = window or spec.segments.get("length") or 3.0
    source_component, dataset = load_source(spec, registry)
    clips = dataset.clips
    findings = [Finding("skipped by the source", s.id, s.reason) for s in dataset.skipped]
    labels = {
        col: [c.labels.get(col) for c in clips] for col in dataset.label_columns
    }  # for describing the data only
    label_counts = {
        col: dict(Counter(v for v in values if v is not None).most_common())
        for col, values in labels.items()
    }
    findings += _too_few(label_counts, len(clips), k)
    findings += _same_id_in_two_labels(clips, labels)

    lap("listing")
    audio = [c for c in clips if c.audio is not None]
    headers = pd.DataFrame([_header(c) for c in _bar(audio, "headers", progress)])
    lap("headers")
    for _, row in headers[headers["error"].notna()].iterrows() if len(headers) else []:
        findings.append(Finding("unreadable", row["id"], row["error"]))
    checked = audio if samples else []
    hashes = {c.id: _hash(Path(c.audio)) for c in _bar(checked, "hashing", progress)}
    findings += _duplicates(hashes, "duplicate audio", "identical file contents (sha256 {})")
    lap("hashing")
    decoded = {}
    for clip in _bar(checked, "decoding", progress):
        decoded[clip.id] = _decode_problem(clip.audio, settings)
    for clip_id, problem in decoded.items():
        if problem and not any(f.ids == clip_id and f.kind == "unreadable" for f in findings):
            kind = "silent" if problem.startswith("silent") else "not usable"
            findings.append(Finding(kind, clip_id, problem))
    lap("decoding")
    if len(headers):
        readable = headers[headers["error"].isna()]
        for _, row in readable[readable["duration"] < window].iterrows():
            findings.append(
                Finding(
                    "shorter than the analysis window",
                    row["id"],
                    f"{row['duration']:.2f} s < {window:g} s window",
                )
            )

    lyrics = _lyrics(clips, labels, progress)
    findings += lyrics.pop("findings")
    lap("lyrics")

    metrics = {
        "n_clips": float(len(clips)),
        "n_with_audio": float(len(audio)),
        "n_with_lyrics": float(sum(c.lyrics is not None for c in clips)),
        "n_findings": float(len(findings)),
    }
    for kind, count in Counter(f.kind for f in findings).items():
        metrics[f"findings.{kind.replace(' ', '_')}"] = float(count)
    for col, counts in label_counts.items():
        metrics[f"{col}.n_labels"] = float(len(counts))
    metrics.update({f"seconds.{phase}": value for phase, value in seconds.items()})
    if len(headers) and headers["duration"].notna().any():
        metrics["audio.duration_min"] = float(headers["duration"].min())
        metrics["audio.duration_max"] = float(headers["duration"].max())
        metrics["audio.duration_total_h"] = float(headers["duration"].sum() / 3600)

    tags = {
        "musiclust.kind": "overview",
        "musiclust.version": __version__,
        "data.name": dataset.name,
    }
    name = experiment or source_component.experiment_name()
    with tracking.tracked_run(name, f"overview {dataset.name}", tags) as active:
        tracking.log_params(
            {
                "source.name": spec.source.name,
                **{f"source.{k}": str(v) for k, v in spec.source.params.items()},
                "overview.window": str(window),
                "overview.k": str(k) if k else "number of labels",
                "overview.samples": str(samples).lower(),
            }
        )
        tracking.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            tables = overview.write_tables(out, label_counts, headers, lyrics, findings)
            plots = overview.write_plots(out / "plots", label_counts, headers, lyrics)
            overview.write_html(
                out / "overview.html", dataset.name, metrics, tables, plots, findings
            )
            tracking.log_artifacts(out)
        import mlflow

        report = f"{mlflow.get_artifact_uri()}/overview.html"
    summary = _summary(dataset.name, clips, label_counts, headers, findings, metrics)
    if not samples and audio:
        summary.append("  (metadata only: duplicate, silent and undecodable audio not checked)")
    return Overview(
        active.run_id,
        active.experiment,
        len(clips),
        label_counts,
        findings,
        summary,
        report,
        seconds,
    )


# -- phases -------------------------------------------------------------------------------------
def _bar(items: list, what: str, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(items, desc=what, unit="file", disable=not progress or not items, leave=False)


def _header(clip: Any) -> dict[str, Any]:
    import soundfile as sf

    path = Path(clip.audio)
    row: dict[str, Any] = {"id": clip.id, "path": str(path), "error": None}
    try:
        size = path.stat().st_size
        row["bytes"] = size
        if size == 0:
            row["error"] = "empty file (0 bytes)"
            return row
        info = sf.info(str(path))
    except Exception as exc:
        row["error"] = f"cannot read the header: {' '.join(str(exc).split())[:200]}"
        return row
    row.update(
        format=info.format,
        subtype=info.subtype,
        sample_rate=info.samplerate,
        channels=info.channels,
        frames=info.frames,
        duration=info.frames / info.samplerate if info.samplerate else np.nan,
    )
    return row


def _hash(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        if path.stat().st_size == 0:  # reported as unreadable, not as duplicates of each other
            return None
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _decode_problem(path: Any, settings: Any) -> str | None:
    from musiclust.audio import AudioError, decode

    try:
        decode(path, settings)
    except AudioError as exc:
        return str(exc)
    return None


def _duplicates(keys: dict[str, str | None], kind: str, detail: str) -> list[Finding]:
    groups: dict[str, list[str]] = defaultdict(list)
    for clip_id, key in keys.items():
        if key:
            groups[key].append(clip_id)
    return [
        Finding(kind, ", ".join(ids), detail.format(key[:12]))
        for key, ids in groups.items()
        if len(ids) > 1
    ]


def _too_few(counts: dict[str, dict[str, int]], n: int, k: int | None) -> list[Finding]:
    out = []
    for col, per_label in counts.items():
        clusters = k or len(per_label)
        need = max(2, int(np.ceil(n / clusters / 2))) if clusters else 2
        for label, count in per_label.items():
            if count < need:
                out.append(
                    Finding(
                        "too few clips for K",
                        f"{col}={label}",
                        f"{count} clip(s); with K={clusters} an average cluster holds "
                        f"{n / max(clusters, 1):.0f}, and a label needs at least {need} to "
                        "form one of its own",
                    )
                )
    return out


def _same_id_in_two_labels(clips: list, labels: dict[str, list]) -> list[Finding]:
    out = []
    for col, values in labels.items():
        by_stem: dict[str, set] = defaultdict(set)
        for clip, value in zip(clips, values):
            if value is not None:
                by_stem[clip.id.rsplit("/", 1)[-1]].add(value)
        for stem, found in by_stem.items():
            if len(found) > 1:
                out.append(
                    Finding("same id in two labels", stem, f"{col}: {', '.join(sorted(found))}")
                )
    return out


def _lyrics(clips: list, labels: dict[str, list], progress: bool) -> dict[str, Any]:
    from musiclust.text import guess_language, scripts, tokenize

    texts = {c.id: c.lyrics for c in clips if c.lyrics is not None}
    findings: list[Finding] = []
    words, script_rows = {}, []
    for clip_id, text in _bar(list(texts.items()), "lyrics", progress):
        words[clip_id] = tokenize(text)
        counted = scripts(text)
        main = counted.most_common(1)[0][0] if counted else "none"
        mixed = [s for s, n in counted.items() if n >= 0.2 * sum(counted.values())]
        script_rows.append(
            {
                "id": clip_id,
                "script": main,
                "scripts": "+".join(sorted(mixed)),
                "language": guess_language(words[clip_id], main),
            }
        )
    normalised = {i: " ".join(w) for i, w in words.items()}
    findings += _duplicates(
        {i: hashlib.sha256(t.encode()).hexdigest() if t else None for i, t in normalised.items()},
        "duplicate lyrics",
        "the same words (case and punctuation ignored)",
    )
    findings += _near_duplicates(normalised)
    coverage = {}
    top_terms = {}
    for col, values in labels.items():
        rows = []
        docs: dict[str, list[str]] = defaultdict(list)
        for clip, value in zip(clips, values):
            if value is None:
                continue
            docs[value] += words.get(clip.id, [])
        for value in sorted({v for v in values if v is not None}):
            members = [c for c, v in zip(clips, values) if v == value]
            have = [c for c in members if c.id in texts]
            rows.append(
                {
                    "label": value,
                    "clips": len(members),
                    "with_lyrics": len(have),
                    "share": len(have) / len(members),
                }
            )
        coverage[col] = rows
        top_terms[col] = _top_terms(docs)
    return {
        "findings": findings,
        "lengths": [len(w) for w in words.values()],
        "scripts": script_rows,
        "coverage": coverage,
        "top_terms": top_terms,
    }


def _near_duplicates(texts: dict[str, str]) -> list[Finding]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids = [i for i, t in texts.items() if t]
    if len(ids) < 2:
        return []
    try:
        X = TfidfVectorizer(token_pattern=r"\S+").fit_transform([texts[i] for i in ids])
    except ValueError:
        return []
    from scipy.sparse import find

    out = []
    # rows in blocks, pairs above the threshold only: a dense n x n matrix takes 800 MB at
    # 10,000 songs (80 GB at 100,000), and a Python loop over its 50 million pairs
    for start in range(0, len(ids), NEAR_BLOCK):
        block = X[start : start + NEAR_BLOCK] @ X.T
        rows, cols, values = find(block.multiply(block >= NEAR_DUPLICATE))
        for r, b, value in sorted(zip(rows + start, cols, values, strict=True)):
            if b > r and texts[ids[r]] != texts[ids[b]]:
                out.append(
                    Finding(
                        "near-duplicate lyrics",
                        f"{ids[r]}, {ids[b]}",
                        f"TF-IDF cosine similarity {value:.2f}",
                    )
                )
    return out


def _top_terms(docs: dict[str, list[str]]) -> dict[str, list[str]]:
    """The terms most particular to each label (TF-IDF over one document per label)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    from musiclust.text import STOPWORDS

    # function words and numbers say nothing of a label; they used to top the lists
    stop = set(ENGLISH_STOP_WORDS).union(*(words.split() for words in STOPWORDS.values()))
    docs = {
        label: [w for w in words if w not in stop and len(w) > 1 and not w.isdigit()]
        for label, words in docs.items()
    }
    labels = [label for label, words in docs.items() if words]
    if not labels:
        return {}
    vectorizer = TfidfVectorizer(analyzer=lambda words: words, sublinear_tf=True)
    X = vectorizer.fit_transform([docs[label] for label in labels]).toarray()
    vocab = np.array(vectorizer.get_feature_names_out())
    return {
        label: vocab[np.argsort(-X[i])[:TOP_TERMS]][
            X[i][np.argsort(-X[i])[:TOP_TERMS]] > 0
        ].tolist()
        for i, label in enumerate(labels)
    }


def _summary(
    name: str, clips: list, counts: dict, headers: Any, findings: list[Finding], metrics: dict
) -> list[str]:
    lines = [f"{name}: {len(clips)} clips"]
    for col, per_label in counts.items():
        sizes = list(per_label.values())
        lines.append(
            f"  {col}: {len(per_label)} labels, {min(sizes)}-{max(sizes)} clips each"
            if sizes
            else f"  {col}: none"
        )
    if len(headers) and "duration" in headers and headers["duration"].notna().any():
        ok = headers[headers["error"].isna()]
        rates = ", ".join(f"{int(r)} Hz" for r in sorted(ok["sample_rate"].unique()))
        low, high = ok["duration"].min(), ok["duration"].max()
        lines.append(
            f"  audio: {len(ok)} readable, {low:.1f}-{high:.1f} s, {rates}, "
            f"formats {', '.join(sorted(ok['format'].unique()))}"
        )
    lines.append(f"  lyrics: {int(metrics['n_with_lyrics'])} of {len(clips)} clips")
    if findings:
        kinds = Counter(f.kind for f in findings)
        lines.append("  findings: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
        lines += [f"    {f.kind}: {f.ids} ({f.detail})" for f in findings[:8]]
        if len(findings) > 8:
            lines.append(f"    ... {len(findings) - 8} more in findings.csv")
    else:
        lines.append("  findings: none")
    return lines
