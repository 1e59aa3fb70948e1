"""Normalize: a model-ready copy of each post's text, and its URLs, mentions, hashtags, emoji.

The original `text` is never changed. `text_norm` is NFC, with URLs removed, "#" dropped
from hashtags, Arabic letter variants unified (alef forms, alef maksura, taa marbuta),
tatweel and Arabic diacritics removed, and whitespace collapsed: the form models read.
"""

from __future__ import annotations

import re
import unicodedata

import emoji
import pandas as pd
import pyarrow as pa

from pipeline.registry import register_stage

# GetOldTweets glues "pic.twitter.com/..." to the previous word, hence no boundary before it.
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+|pic\.twitter\.com/\w+", re.IGNORECASE)
MENTION = re.compile(r"(?<![\w@/])@(\w{1,50})")
# A hashtag needs one letter somewhere ("#1" is not a hashtag on any platform).
HASHTAG = re.compile(r"(?<![\w#&/])[#＃](\w*[^\W\d_]\w*)")
_URL_TAIL = ".,;:!?…)]}'\""
_MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c-\u3299\U0001F000-\U0001FAFF\uFE0F]")

_ARABIC_FOLD = str.maketrans({
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",  # alef forms
    "\u0649": "\u064A",  # alef maksura -> yaa
    "\u0629": "\u0647",  # taa marbuta -> haa
})
# Tatweel, harakat, superscript alef, Quranic annotation marks.
_ARABIC_MARKS = re.compile("[\u0640\u064B-\u065F\u0670\u06D6-\u06ED]")
_ARABIC_LETTER = re.compile("[\u0600-\u06FF]")


def extract_urls(text: str) -> list[str]:
    return [match.rstrip(_URL_TAIL) for match in URL.findall(text)]


def extract_emoji(text: str) -> list[str]:
    if not _MAYBE_EMOJI.search(text):
        return []
    return [item["emoji"] for item in emoji.emoji_list(text)]


# The regexes scan every position of the text; a plain `in` test first skips most posts,
# which matters at thousands of posts per second.
def find_mentions(text: str) -> list[str]:
    return MENTION.findall(text) if "@" in text else []


def find_hashtags(text: str) -> list[str]:
    return HASHTAG.findall(text) if _may_have_hashtag(text) else []


def _may_have_hashtag(text: str) -> bool:
    return "#" in text or "＃" in text


def _collapse_spaces(text: str) -> str:
    return " ".join(text.split())


def normalize_text(text: str) -> str:
    """The model-facing form of a post (see module docstring)."""
    text = unicodedata.normalize("NFC", text)
    text = URL.sub(" ", text)
    if _may_have_hashtag(text):
        text = HASHTAG.sub(r"\1", text)
    if _has_arabic(text):
        text = _ARABIC_MARKS.sub("", text.translate(_ARABIC_FOLD))
    return _collapse_spaces(text)


def language_view(text: str) -> str:
    """The words a language detector should read: no URLs, mentions, hashtags or emoji.

    Hashtags and handles are often in another language than the sentence around them.
    """
    text = URL.sub(" ", text)
    if "@" in text:
        text = MENTION.sub(" ", text)
    if _may_have_hashtag(text):
        text = HASHTAG.sub(" ", text)
    if _MAYBE_EMOJI.search(text):
        text = emoji.replace_emoji(text, " ")
    return _collapse_spaces(text)


def _has_arabic(text: str) -> bool:
    return _ARABIC_LETTER.search(text) is not None


@register_stage(
    "normalize",
    adds=(
        pa.field("text_norm", pa.string()),
        pa.field("urls", pa.list_(pa.string())),
        pa.field("mentions", pa.list_(pa.string())),
        pa.field("hashtags", pa.list_(pa.string())),
        pa.field("emojis", pa.list_(pa.string())),
    ),
)
def normalize(posts: pd.DataFrame, context) -> pd.DataFrame:
    texts = posts["text"].tolist()
    posts["text_norm"] = pd.Series([normalize_text(t) for t in texts], index=posts.index, dtype=object)
    posts["urls"] = pd.Series([extract_urls(t) for t in texts], index=posts.index, dtype=object)
    posts["mentions"] = pd.Series([find_mentions(t) for t in texts], index=posts.index, dtype=object)
    posts["hashtags"] = pd.Series([find_hashtags(t) for t in texts], index=posts.index, dtype=object)
    posts["emojis"] = pd.Series([extract_emoji(t) for t in texts], index=posts.index, dtype=object)
    return posts
