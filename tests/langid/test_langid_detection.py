"""Language ID on real posts of the world-leaders archive and short strings in many scripts."""

import pytest

from pipeline.config import load_config
from pipeline.langid import detect_languages, dominant_script

SETTINGS = load_config()["langid"]


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Le Sommet que nous tiendrons à Pau le 13 janvier prochain, avec les chefs d’État des pays du Sahel, a pour ambition d’apporter ces clarifications.", "fr"),
        ("Nos EUA Trump pede pena de morte para terrorista. No Brasil Cesare Battisti leva vida de turista.", "pt"),
        ("No sé si sos política... veo que sos mentirosa o ignorante.", "es"),
        ("PM Netanyahu raises the Israeli flag on new submarine INS Rahav.", "en"),
        ("خادم الحرمين الشريفين يستقبل رئيس الوزراء في قصر اليمامة بالرياض", "ar"),
        ("प्रधानमंत्री ने योग दिवस पर देशवासियों को शुभकामनाएं दीं", "hi"),
        ("Министр иностранных дел провёл переговоры с коллегой из Франции", "ru"),
        ("外交部发言人就中法关系答记者问", "zh"),
        ("外務大臣は本日、フランスの外相と会談しました", "ja"),
        ("외교부 장관은 오늘 프랑스 외무장관과 회담했다", "ko"),
        ("ראש הממשלה נפגש היום עם נשיא צרפת בירושלים", "he"),
        ("وزیر امور خارجه امروز با همتای فرانسوی خود دیدار کرد", "fa"),
        ("Dışişleri Bakanı bugün Fransız mevkidaşı ile görüştü", "tr"),
    ],
)
def test_detects_the_language_of_real_and_short_posts(text, lang):
    result = detect_languages([text], SETTINGS)
    assert result.loc[0, "lang"] == lang
    assert 0.0 < result.loc[0, "lang_confidence"] <= 1.0


def test_posts_without_words_are_undetermined():
    texts = ["https://t.co/abc123 🇫🇷🇩🇪", "@EmmanuelMacron @JustinTrudeau", "#G7 #Biarritz", "👏👏👏", "2019"]
    result = detect_languages(texts, SETTINGS)
    assert result["lang"].tolist() == ["und"] * len(texts)
    assert result["lang_confidence"].tolist() == [0.0] * len(texts)


def test_hashtags_and_mentions_do_not_decide_the_language():
    # A French sentence full of English hashtags and handles is French.
    text = "Merci à @SherylSandberg et à @SatyaNadella pour ces échanges sur l'avenir du travail #WEF16 #FutureOfWork #Davos"
    assert detect_languages([text], SETTINGS).loc[0, "lang"] == "fr"


def test_bilingual_post_is_mixed_with_its_second_language():
    text = ("Today, let’s talk about mental health. #BellLetsTalk / "
            "Aujourd’hui, parlons de la santé mentale. #BellCause")
    result = detect_languages([text], SETTINGS)
    assert bool(result.loc[0, "lang_mixed"]) is True
    assert {result.loc[0, "lang"], result.loc[0, "lang_secondary"]} == {"en", "fr"}


def test_monolingual_post_is_not_mixed():
    text = ("Nous sommes à un tournant de la lutte contre le terrorisme au Sahel : il nous faut en "
            "clarifier le cadre politique, les modalités et les objectifs.")
    result = detect_languages([text], SETTINGS)
    assert bool(result.loc[0, "lang_mixed"]) is False
    assert result.loc[0, "lang_secondary"] is None


@pytest.mark.parametrize(
    "text, script",
    [
        ("Bonne fête du Canada", "Latn"),
        ("خادم الحرمين الشريفين", "Arab"),
        ("ראש הממשלה", "Hebr"),
        ("Министр", "Cyrl"),
        ("प्रधानमंत्री", "Deva"),
        ("外交部发言人", "Hani"),
        ("外務大臣は本日", "Kana"),
        ("외교부 장관", "Hang"),
        ("🇨🇦 2019", None),
    ],
)
def test_dominant_script(text, script):
    assert dominant_script(text) == script


def test_unknown_language_code_in_config_is_a_user_error():
    from pipeline.errors import UserError
    from pipeline.langid import build_detector

    with pytest.raises(UserError, match="xx"):
        build_detector(("en", "xx"))
