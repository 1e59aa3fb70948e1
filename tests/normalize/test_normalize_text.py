from pipeline.normalize import extract_emoji, extract_urls, language_view, normalize, normalize_text, MENTION, HASHTAG
from pipeline.runner import StageContext
from pipeline.config import load_config

import pandas as pd


def test_getoldtweets_glued_picture_link_is_extracted_as_url():
    text = "Nous serons avec vous demain pour célébrer les victoires.pic.twitter.com/d5sAZ1fKPS"
    assert extract_urls(text) == ["pic.twitter.com/d5sAZ1fKPS"]
    assert normalize_text(text) == "Nous serons avec vous demain pour célébrer les victoires."


def test_url_trailing_punctuation_and_ellipsis_are_not_part_of_the_url():
    text = "Read more (https://www.elysee.fr/emmanuel-macron/2019/03/04/pour-une-renaissance-europeenne). http://on.fb.me/1EkPCr5 …"
    assert extract_urls(text) == [
        "https://www.elysee.fr/emmanuel-macron/2019/03/04/pour-une-renaissance-europeenne",
        "http://on.fb.me/1EkPCr5",
    ]


def test_mentions_and_hashtags_in_latin_and_arabic_script():
    text = "مع @KingSalman في #الرياض و #COP21 — merci @EmmanuelMacron! #1 is not a tag, nor is me@mail.com"
    assert MENTION.findall(text) == ["KingSalman", "EmmanuelMacron"]
    assert HASHTAG.findall(text) == ["الرياض", "COP21"]


def test_emoji_including_flags_and_skin_tones_are_extracted():
    assert extract_emoji("Bonne fête du Canada 🇨🇦 👏🏽 !") == ["🇨🇦", "👏🏽"]
    assert extract_emoji("No emoji here, only letters: سلام") == []


def test_arabic_letter_variants_tatweel_and_diacritics_are_folded_for_models_only():
    original = "إنَّ المملكةَ العربيــة السعودية ترحّب بأمير قطر في مكّة المكرّمة"
    folded = normalize_text(original)
    assert folded == "ان المملكه العربيه السعوديه ترحب بامير قطر في مكه المكرمه"
    posts = pd.DataFrame({"text": [original]})
    out = normalize(posts, StageContext(load_config()))
    assert out.loc[0, "text"] == original  # the original is kept as written
    assert out.loc[0, "text_norm"] == folded


def test_text_is_nfc_normalized_for_models():
    decomposed = "e\u0301te\u0301"  # "été" written with combining accents
    assert normalize_text(decomposed) == "\u00e9t\u00e9"


def test_language_view_keeps_only_the_words():
    text = "RT @PMOIndia: नमस्ते #YogaDay 🙏 https://t.co/xyz Hello"
    assert language_view(text) == "RT : नमस्ते Hello"
