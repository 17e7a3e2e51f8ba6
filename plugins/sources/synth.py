"""Deterministic synthesis of the demo songs: five styles with real, findable differences.

Styles differ in tempo, timbre (harmonic content and envelopes), harmony (major, minor, power
chords), rhythm (no drums, rock beat, four-on-the-floor, swung hip-hop) and lyric vocabulary.
Each song varies its key, tempo, brightness, mix and noise, and lyrics share a common vocabulary
across styles, so the styles overlap without being trivial to separate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SYNTH_VERSION = "2"


def _words(text: str) -> list[str]:
    """A word list written as one string, in order (the demo draws from it by position)."""
    return text.split()


MAJOR = (0, 4, 7)
MINOR = (0, 3, 7)
POWER = (0, 7, 12)


@dataclass(frozen=True)
class Style:
    name: str
    tempo: tuple[float, float]
    chord: tuple[int, ...]
    progression: tuple[int, ...]  # semitone offsets of the chord roots
    partials: int  # harmonics per note
    rolloff: float  # amplitude of harmonic k is k ** -rolloff
    attack: str  # "pad" (slow swell), "pluck" (fast decay), "gate" (short notes)
    drums: str  # "", "rock", "four", "swing"
    bass: float  # bass level
    octave: int  # MIDI note of the chord root region
    no_lyrics: float  # share of instrumentals
    words: tuple[str, ...]


STYLES = (
    Style(
        "ballad",
        (64, 78),
        MAJOR,
        (0, 9, 5, 7),
        2,
        2.5,
        "pad",
        "",
        0.3,
        60,
        0.1,
        (
            "love",
            "heart",
            "tears",
            "moon",
            "dream",
            "forever",
            "tender",
            "kiss",
            "alone",
            "candle",
            "whisper",
            "hold",
            "darling",
            "stay",
            "slow",
            "rose",
        ),
    ),
    Style(
        "rock",
        (122, 142),
        POWER,
        (0, 5, 7, 3),
        10,
        1.0,
        "pad",
        "rock",
        0.6,
        45,
        0.15,
        (
            "fire",
            "road",
            "wild",
            "loud",
            "thunder",
            "highway",
            "rebel",
            "steel",
            "burn",
            "engine",
            "scream",
            "outlaw",
            "storm",
            "faster",
            "wheels",
            "gasoline",
        ),
    ),
    Style(
        "electronic",
        (120, 130),
        MINOR,
        (0, 8, 3, 10),
        7,
        0.8,
        "gate",
        "four",
        0.7,
        57,
        0.4,
        (
            "neon",
            "pulse",
            "signal",
            "machine",
            "laser",
            "circuit",
            "digital",
            "synthetic",
            "orbit",
            "static",
            "voltage",
            "chrome",
            "satellite",
            "glow",
            "wave",
            "code",
        ),
    ),
    Style(
        "folk",
        (92, 112),
        MAJOR,
        (0, 5, 0, 7),
        6,
        1.6,
        "pluck",
        "",
        0.25,
        55,
        0.1,
        (
            "river",
            "mountain",
            "valley",
            "harvest",
            "cabin",
            "meadow",
            "wander",
            "creek",
            "lantern",
            "pine",
            "orchard",
            "autumn",
            "shepherd",
            "barn",
            "sparrow",
            "hollow",
        ),
    ),
    Style(
        "hiphop",
        (84, 96),
        MINOR,
        (0, 0, 8, 7),
        3,
        2.0,
        "gate",
        "swing",
        1.0,
        48,
        0.1,
        (
            "street",
            "rhyme",
            "flow",
            "mic",
            "hustle",
            "crew",
            "block",
            "verse",
            "cipher",
            "grind",
            "corner",
            "hood",
            "track",
            "spit",
            "boom",
            "legend",
        ),
    ),
)

COMMON_WORDS = tuple(
    _words(
        "baby night time feel know yeah world light way life away come home day heart never again "
        "tonight together just say believe free soul remember morning long inside everything go"
    )
)


def midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def synthesize(style: Style, rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """One song of ``style``: float32 mono in [-1, 1]."""
    n = int(sr * seconds)
    out = np.zeros(n, dtype=np.float64)
    tempo = rng.uniform(*style.tempo)
    beat = 60.0 / tempo
    key = int(rng.integers(-2, 3))  # styles keep to their usual keys
    scale = (0, 2, 4, 5, 7, 9, 11) if style.chord == MAJOR else (0, 2, 3, 5, 7, 8, 10)
    brightness = style.rolloff * rng.uniform(0.85, 1.15)
    beats_per_chord = 2 if tempo > 110 else 4

    # harmony: chords (and a bass line) following the style's progression
    t0, i = 0.0, 0
    while t0 < seconds:
        root = style.octave + key + style.progression[i % len(style.progression)]
        length = beats_per_chord * beat
        if style.attack == "gate":  # arpeggiated short notes, one per half beat
            step = beat / 2
            for j in range(round(length / step)):
                note = root + style.chord[j % len(style.chord)] + 12 * (j % 2)
                _add(out, sr, t0 + j * step, step * 0.8, midi_hz(note), style, brightness, 0.5)
        elif style.attack == "pluck":  # strummed: tones a little apart, ringing
            for j, offset in enumerate(style.chord):
                _add(
                    out, sr, t0 + 0.03 * j, length, midi_hz(root + offset), style, brightness, 0.45
                )
                _add(
                    out,
                    sr,
                    t0 + length / 2 + 0.03 * j,
                    length / 2,
                    midi_hz(root + offset + 12),
                    style,
                    brightness,
                    0.25,
                )
        else:
            for offset in style.chord:
                _add(out, sr, t0, length, midi_hz(root + offset), style, brightness, 0.35)
        if style.bass:
            _bass(out, sr, t0, length, midi_hz(root - 12), beat, style)
        if style.name != "hiphop":  # a melody over the chord: one scale note per beat
            for j in range(beats_per_chord):
                note = root + 12 + int(rng.choice(scale))
                _add(out, sr, t0 + j * beat, beat * 0.9, midi_hz(note), style, brightness, 0.3)
        t0 += length
        i += 1

    _drums(out, sr, seconds, beat, style.drums, rng)
    if style.drums == "rock":  # distortion
        out = np.tanh(2.5 * out / (np.abs(out).max() + 1e-9))
    out += rng.normal(0, 0.005, n) * np.abs(out).max()  # a steady noise floor
    out *= rng.uniform(0.5, 0.9) / (np.abs(out).max() + 1e-9)
    return out.astype(np.float32)


def _envelope(kind: str, m: int, sr: int) -> np.ndarray:
    t = np.arange(m) / sr
    if kind == "pluck":
        return np.exp(-t * 3.5) * np.minimum(1.0, t / 0.004)
    if kind == "gate":
        return np.exp(-t * 6.0) * np.minimum(1.0, t / 0.003)
    return np.minimum(1.0, t / 0.25) * np.minimum(1.0, (t[::-1] + 1e-3) / 0.15)


def _span(
    out: np.ndarray, sr: int, start: float, length: float
) -> tuple[int, int, np.ndarray] | None:
    """Where a sound of ``length`` seconds at ``start`` lands in ``out``: (first, count, times)."""
    a = int(start * sr)
    m = min(int(length * sr), len(out) - a)
    return (a, m, np.arange(m) / sr) if m > 0 else None


def _add(
    out: np.ndarray,
    sr: int,
    start: float,
    length: float,
    hz: float,
    style: Style,
    brightness: float,
    level: float,
) -> None:
    span = _span(out, sr, start, length)
    if span is None:
        return
    a, m, t = span
    tone = np.zeros(m)
    for k in range(1, style.partials + 1):
        if k * hz >= sr / 2:
            break
        # electronic square-ish: odd harmonics only
        if style.name == "electronic" and k % 2 == 0:
            continue
        decay = np.exp(-t * (k - 1) * 1.5) if style.attack == "pluck" else 1.0
        tone += k**-brightness * np.sin(2 * np.pi * k * hz * t) * decay
    out[a : a + m] += level * tone * _envelope(style.attack, m, sr)


def _bass(
    out: np.ndarray, sr: int, start: float, length: float, hz: float, beat: float, style: Style
) -> None:
    span = _span(out, sr, start, length)
    if span is None:
        return
    a, m, t = span
    if style.name == "hiphop":  # long 808 with a pitch drop
        tone = np.sin(2 * np.pi * hz * t * (1 + 0.5 * np.exp(-t * 20))) * np.exp(-t * 1.2)
    else:  # pulsing on each beat
        phase = (t % beat) / beat
        tone = np.sign(np.sin(2 * np.pi * hz * t)) * 0.4 * np.exp(-phase * 4)
    out[a : a + m] += style.bass * 0.5 * tone


def _hit(out: np.ndarray, sr: int, start: float, sound: np.ndarray) -> None:
    a = int(start * sr)
    if a >= len(out):
        return
    m = min(len(sound), len(out) - a)
    out[a : a + m] += sound[:m]


def _drums(
    out: np.ndarray, sr: int, seconds: float, beat: float, kind: str, rng: np.random.Generator
) -> None:
    if not kind:
        return
    t = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 90 * np.exp(-t * 30)) * t) * np.exp(-t * 18)
    noise = rng.normal(0, 1, len(t))
    snare = noise * np.exp(-t * 25) * 0.5 + np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30) * 0.3
    hat = np.diff(noise, prepend=0.0) * np.exp(-t * 90) * 0.15
    beats = int(seconds / beat) + 1
    for b in range(beats):
        at = b * beat
        if kind == "four":
            _hit(out, sr, at, kick)
            _hit(out, sr, at + beat / 2, hat * 1.5)
            if b % 2:
                _hit(out, sr, at, snare * 0.7)
        elif kind == "rock":
            _hit(out, sr, at, kick if b % 2 == 0 else snare)
            _hit(out, sr, at, hat)
            _hit(out, sr, at + beat / 2, hat)
        elif kind == "swing":
            if b % 4 == 0:
                _hit(out, sr, at, kick * 1.2)
            if b % 4 == 2:
                _hit(out, sr, at + beat * 0.66, kick)
            if b % 2:
                _hit(out, sr, at, snare)
            _hit(out, sr, at, hat)
            _hit(out, sr, at + beat * 0.66, hat * 0.7)


def lyrics(style: Style, rng: np.random.Generator) -> str | None:
    """A few lines mixing the style's words with common ones; None for an instrumental."""
    if rng.random() < style.no_lyrics:
        return None
    lines = []
    for _ in range(int(rng.integers(4, 9))):
        words = [
            str(rng.choice(style.words)) if rng.random() < 0.5 else str(rng.choice(COMMON_WORDS))
            for _ in range(int(rng.integers(4, 9)))
        ]
        lines.append(" ".join(words).capitalize())
    return "\n".join(lines)


#: Word lists of the demo's ``languages`` option: the same everyday words in each language, so
#: the language is the only thing lyrics carry (independent of the audio's style).
LANGUAGES = {
    "english": _words(
        "love heart night fire road rain dream light home sky river time song dance shadow "
        "morning summer window city sea stone silver golden wild alone young old moon star soul"
    ),
    "spanish": _words(
        "amor corazón noche fuego camino lluvia sueño luz casa cielo río tiempo canción baile "
        "sombra mañana verano ventana ciudad mar piedra plata dorado salvaje solo joven viejo "
        "luna estrella alma"
    ),
    "bengali": _words(
        "ভালোবাসা হৃদয় রাত আগুন পথ বৃষ্টি স্বপ্ন আলো ঘর আকাশ নদী সময় গান নাচ ছায়া সকাল গ্রীষ্ম "
        "জানালা শহর সাগর পাথর রুপা সোনালি বুনো একা তরুণ পুরোনো চাঁদ তারা মন"
    ),
    "german": _words(
        "liebe herz nacht feuer straße regen traum licht haus himmel fluss zeit lied tanz "
        "schatten morgen sommer fenster stadt meer stein silber golden wild allein jung alt mond "
        "stern seele"
    ),
}


def language_lyrics(rng: np.random.Generator, n_languages: int) -> tuple[str, str]:
    """(language, lyrics): a language drawn at random, and a few lines of its words only."""
    language = list(LANGUAGES)[int(rng.integers(n_languages))]
    words = LANGUAGES[language]
    lines = [
        " ".join(str(rng.choice(words)) for _ in range(int(rng.integers(4, 9)))).capitalize()
        for _ in range(int(rng.integers(4, 9)))
    ]
    return language, "\n".join(lines)
