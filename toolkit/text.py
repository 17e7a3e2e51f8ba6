"""Text helpers shared by lyrics features and the data overview: words of any script, and
the scripts a text is written in."""

from __future__ import annotations

import unicodedata
from collections import Counter

#: What plugins may use (tests/test_structure.py holds plugins to these).
__all__ = ["STOPWORDS", "guess_language", "scripts", "tokenize"]


def _han(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FA1F
    )


def tokenize(text: str) -> list[str]:
    """Words of any script, case-folded: runs of letters, marks and digits (inner ' kept).

    Han characters, written without spaces, are one token each (with 1-2 grams, pairs of them
    are terms too); Bengali, Devanagari, kana, Hangul and accented words stay whole.
    """
    tokens: list[str] = []
    word: list[str] = []
    text = unicodedata.normalize("NFC", text).casefold()
    for i, ch in enumerate(text):
        if _han(ch):
            if word:
                tokens.append("".join(word))
                word = []
            tokens.append(ch)
        elif unicodedata.category(ch)[0] in "LMN":
            word.append(ch)
        elif (
            ch in "'\u2019"
            and word
            and i + 1 < len(text)
            and unicodedata.category(text[i + 1])[0] == "L"
        ):
            word.append("'")
        elif word:
            tokens.append("".join(word))
            word = []
    if word:
        tokens.append("".join(word))
    return tokens


def script_of(ch: str) -> str | None:
    """The script of a letter from its Unicode name (LATIN, BENGALI, CYRILLIC, CJK...)."""
    if unicodedata.category(ch)[0] != "L":
        return None
    if _han(ch):
        return "CJK"
    name = unicodedata.name(ch, "")
    return name.split(" ")[0] if name else None


def scripts(text: str) -> Counter[str]:
    """Letters per script in ``text``."""
    return Counter(s for s in map(script_of, text) if s)


#: A few of the commonest words of some languages written in Latin script.
STOPWORDS = {
    "en": "the and you i to a me my it in of is that your on all love we be for",
    "es": "el la de que y en un una es no por los las mi tu con para me te amor",
    "pt": "o a de que e do da em um uma não os as meu eu você com para se amor",
    "fr": "le la les de et un une je tu il elle est pas que qui dans pour mon ton",
    "de": "der die das und ich du nicht ist ein eine mit mein dich mir zu es auf",
    "it": "il la di che e un una non per sono mi ti con mio amore io tu le",
    "nl": "de het een en ik je niet is van dat met mijn op zijn we voor maar",
}
_STOP = {lang: frozenset(words.split()) for lang, words in STOPWORDS.items()}
_SCRIPT_LANGUAGES = {"BENGALI": "bn", "DEVANAGARI": "hi", "HANGUL": "ko", "ARABIC": "ar"}


def guess_language(tokens: list[str], script: str) -> str:
    """A rough language guess: common-word overlap for Latin script (en, es, pt, fr, de, it,
    nl), the script's main language for a few others, else ``<script> script``."""
    if script != "LATIN":
        if script in _SCRIPT_LANGUAGES:
            return _SCRIPT_LANGUAGES[script]
        return "unknown" if script == "none" else f"{script.lower()} script"
    if not tokens:
        return "unknown"
    hits = {lang: sum(t in words for t in tokens) for lang, words in _STOP.items()}
    best = max(hits, key=hits.get)
    return best if hits[best] >= max(3, 0.05 * len(tokens)) else "unknown"
