"""Language ID: the language of each post (ISO 639-1), its confidence, script, mixed posts.

lingua, restricted to the configured candidate languages (a closed set is both faster and
more accurate on short posts than all 75 of lingua's languages), in high-accuracy mode for
short texts where trigrams are unsure, and low-accuracy (trigram) mode otherwise, where both agree.
The detector reads the post without URLs, mentions, hashtags and emoji; a post with fewer
than `min_letters` letters left gets `und`. A long post whose second language covers at
least `mixed_min_share` of its letters is `lang_mixed`, with that language in `lang_secondary`.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd
import pyarrow as pa
from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from pipeline.errors import UserError
from pipeline.normalize import language_view
from pipeline.registry import register_stage

UNDETERMINED = "und"

# Letters outside Latin, by script; a post with none of them (and some letters) is Latin.
_SCRIPTS = {
    "Arab": "\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF",
    "Hebr": "\u0590-\u05FF",
    "Cyrl": "\u0400-\u04FF",
    "Grek": "\u0370-\u03FF",
    "Deva": "\u0900-\u097F",
    "Beng": "\u0980-\u09FF",
    "Hang": "\uAC00-\uD7AF\u1100-\u11FF",
    "Kana": "\u3040-\u30FF",
    "Hani": "\u4E00-\u9FFF\u3400-\u4DBF",
    "Thai": "\u0E00-\u0E7F",
}
_SCRIPT_CHAR = {name: re.compile(f"[{ranges}]") for name, ranges in _SCRIPTS.items()}
_NON_LATIN = re.compile("[" + "".join(_SCRIPTS.values()) + "]")
_LETTER = re.compile(r"[^\W\d_]")
# Sentence ends, line breaks and the " / " or " | " that bilingual posts put between languages.
_SEGMENT = re.compile(r"(?<=[.!?。！？])\s+|\n+|\s[/|]\s")
_SEGMENT_MIN_LETTERS = 25
_SEGMENT_SURE = 0.8  # a segment counts only when its own language is clear
_SURE = 0.9  # above this top confidence a post is taken as monolingual


@lru_cache(maxsize=8)
def build_detector(languages: tuple[str, ...], low_accuracy: bool = False):
    """One detector per language set, mode and process (loading the models takes seconds;
    lingua shares the loaded models between detectors of both modes)."""
    chosen = []
    for code in languages:
        try:
            chosen.append(Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())))
        except AttributeError:
            raise UserError(f"config: langid.languages has {code!r}, not an ISO 639-1 code lingua knows")
    if len(chosen) < 2:
        raise UserError("config: langid.languages needs at least two languages")
    builder = LanguageDetectorBuilder.from_languages(*chosen).with_preloaded_language_models()
    return (builder.with_low_accuracy_mode() if low_accuracy else builder).build()


def count_letters(text: str) -> int:
    return sum(map(str.isalpha, text))


def dominant_script(text: str) -> str | None:
    if not _NON_LATIN.search(text):
        return "Latn" if _LETTER.search(text) else None
    counts = {name: len(pattern.findall(text)) for name, pattern in _SCRIPT_CHAR.items()}
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    best = max(counts, key=counts.get)
    # Japanese mixes kana and kanji: any kana makes it Japanese script.
    if counts["Kana"] and best == "Hani":
        best = "Kana"
    return "Latn" if latin > counts[best] else best


def detect_languages(texts: list[str], settings: dict) -> pd.DataFrame:
    """lang, lang_confidence, script, lang_mixed, lang_secondary for each text."""
    languages = tuple(settings["languages"])
    detector = build_detector(languages)
    views = [language_view(t) for t in texts]
    letters = [count_letters(v) for v in views]
    lang = [UNDETERMINED] * len(texts)
    confidence = [0.0] * len(texts)
    # Every text is read first in lingua's trigram mode, which costs a third of its
    # high-accuracy mode (1- to 5-grams). Texts from `high_accuracy_max_chars` on keep that
    # answer (99.9% agreement on the world-leaders archive); shorter ones keep it only when
    # trigrams are at least `trigram_sure` (99.94% agreement, 73% of short posts), and
    # the rest are read again in high-accuracy mode.
    wanted = {views[i]: None for i, n in enumerate(letters) if n >= settings["min_letters"]}
    found = _detect(build_detector(languages, low_accuracy=True), list(wanted))
    unsure = [view for view, (_, value) in found.items()
              if len(view) < settings["high_accuracy_max_chars"] and value < settings["trigram_sure"]]
    if unsure:
        found.update(_detect(detector, unsure))
    for i, view in enumerate(views):
        if view in found:
            lang[i], confidence[i] = found[view]
    secondary = _secondary_languages(detector, views, letters, lang, confidence, settings)
    return pd.DataFrame({
        "lang": lang,
        "lang_confidence": confidence,
        "script": [dominant_script(v) for v in views],
        "lang_mixed": [s is not None for s in secondary],
        "lang_secondary": secondary,
    })


def _detect(detector, distinct: list[str]) -> dict[str, tuple[str, float]]:
    """Top language and its confidence of each distinct text (reposts are read once)."""
    if not distinct:
        return {}
    results = detector.compute_language_confidence_values_in_parallel(distinct)
    return {view: (values[0].language.iso_code_639_1.name.lower(), round(float(values[0].value), 4))
            for view, values in zip(distinct, results)}


def _secondary_languages(detector, views, letters, lang, confidence, settings) -> list[str | None]:
    """Second language of long posts that lingua finds ambiguous, from their segments.

    Bilingual posts (Trudeau's "Happy Canada Day! Bonne fête du Canada!") are sentences in
    turn: each segment of an ambiguous post is detected on its own, and a language other
    than the post's that covers `mixed_min_share` of the letters makes the post mixed.
    """
    secondary: list[str | None] = [None] * len(views)
    segments: list[tuple[int, str, int]] = []  # (post, segment, letters)
    for i, n in enumerate(letters):
        if n < settings["mixed_min_letters"] or confidence[i] >= _SURE:
            continue
        parts = [(part, count_letters(part)) for part in _SEGMENT.split(views[i])]
        parts = [(part, count) for part, count in parts if count >= _SEGMENT_MIN_LETTERS]
        if len(parts) >= 2:
            segments.extend((i, part, count) for part, count in parts)
    if not segments:
        return secondary
    detected = detector.compute_language_confidence_values_in_parallel([part for _, part, _ in segments])
    covered: dict[int, dict[str, int]] = {}
    for (i, _, count), values in zip(segments, detected):
        if values and values[0].value >= _SEGMENT_SURE:
            code = values[0].language.iso_code_639_1.name.lower()
            covered.setdefault(i, {}).setdefault(code, 0)
            covered[i][code] += count
    for i, shares in covered.items():
        others = sorted(((n, code) for code, n in shares.items() if code != lang[i]), reverse=True)
        if others and others[0][0] / letters[i] >= settings["mixed_min_share"]:
            secondary[i] = others[0][1]
    return secondary


@register_stage(
    "langid",
    adds=(
        pa.field("lang", pa.string(), nullable=False),
        pa.field("lang_confidence", pa.float64(), nullable=False),
        pa.field("script", pa.string()),
        pa.field("lang_mixed", pa.bool_(), nullable=False),
        pa.field("lang_secondary", pa.string()),
    ),
    version="lingua-trigram-first-2",
)
def langid(posts: pd.DataFrame, context) -> pd.DataFrame:
    detected = detect_languages(posts["text"].tolist(), context.config["langid"])
    detected.index = posts.index
    for column in detected.columns:
        posts[column] = detected[column].astype(object) if column in ("script", "lang_secondary") else detected[column]
    return posts
