"""Text flags: the training-data loaders' caveat rules, a TF-IDF head on real rows, the shipped
models on real-looking posts, and low-credibility link matching."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.models import load, model_dir
from pipeline.models.heads import TextClassifier
from pipeline.normalize import normalize_text
from pipeline.risk.text_flags import (DEV_SHARE, load_abusive, load_checkworthy, load_low_credibility_domains,
                                      low_credibility_links, match_key)

FIXTURES = Path(__file__).parent / "fixtures" / "text_flags"


@pytest.fixture(scope="module")
def abusive():
    return load_abusive(FIXTURES).assign(key=lambda f: f["text"].map(match_key))


@pytest.fixture(scope="module")
def checkworthy():
    return load_checkworthy(FIXTURES)


def test_text_in_an_official_dev_split_is_removed_from_training(checkworthy):
    rows = checkworthy[checkworthy["text"] == "Freedom is on the march."]  # CT24 en train and dev
    assert rows[["source", "split"]].values.tolist() == [["checkthat2024", "dev"]]


def test_no_text_is_on_both_sides_of_the_split(abusive, checkworthy):
    for frame in (abusive, checkworthy.assign(key=checkworthy["text"].map(match_key))):
        train, dev = (set(frame.loc[frame["split"] == s, "key"]) for s in ("train", "dev"))
        assert not train & dev


def test_a_repeated_text_is_kept_once_per_set(abusive):
    thanks = abusive[abusive["key"] == "thank you"]  # OLID train four times, MLMA en once
    assert sorted(thanks["source"]) == ["mlma", "olid"]
    assert thanks["labels"].map(len).sum() == 0
    levantine = abusive[abusive["source"] == "l_hsab"]
    assert levantine["key"].is_unique and len(levantine) == 12  # 13 rows, one tweet twice


def test_hateval_is_scored_but_never_trained_on(abusive):
    hateval = abusive[abusive["source"] == "hateval"]
    assert set(hateval["split"]) == {"dev"}
    assert hateval["labels"].map(len).eq(0).any() and hateval["labels"].map(len).eq(1).any()


def test_label_definitions_follow_each_source(abusive):
    by_text = abusive.set_index("key")["labels"]
    assert by_text[match_key("Stupid cunt.")] == ["abusive"]  # MLMA "abusive_disrespectful"
    assert by_text[match_key("Go home you’re drunk!!! MAGA Trump2020 👊🇺🇸👊")] == ["abusive"]  # OLID OFF
    assert set(abusive["lang"]) == {"ar", "en", "fr"}
    assert set(abusive["source"]) == {"osact4", "olid", "mlma", "l_hsab", "hateval"}


def test_placeholders_read_like_normalised_posts(abusive):
    texts = " ".join(abusive["text"])
    assert "<LF>" not in texts and "@USER" not in texts and " URL" not in texts and "@url" not in texts
    assert "@user" in texts


def test_checkworthy_keeps_official_splits_and_unquotes_the_tsv(checkworthy):
    counts = checkworthy.groupby(["source", "lang", "split"]).size()
    assert set(counts.index) == {(s, l, p) for s, l in (("checkthat2024", "ar"), ("checkthat2024", "en"),
                                                        ("checkthat2020", "en")) for p in ("train", "dev")}
    english = checkworthy[(checkworthy["source"] == "checkthat2024") & (checkworthy["lang"] == "en")]
    assert "We're consuming 50 percent of the world's cocaine." in set(english["text"])
    assert not english["text"].str.startswith('"').any()
    assert {tuple(labels) for labels in checkworthy["labels"]} == {("check_worthy",), ()}


def test_sets_without_a_split_get_a_stable_share_of_dev():
    first, second = load_abusive(FIXTURES), load_abusive(FIXTURES)
    assert first.equals(second)
    share = (first.loc[first["source"] != "hateval", "split"] == "dev").mean()
    assert 0.05 < share < 0.5 and DEV_SHARE == 0.2


def test_tfidf_head_learns_check_worthiness_from_real_sentences(checkworthy):
    english = checkworthy[(checkworthy["source"] == "checkthat2024") & (checkworthy["lang"] == "en")]
    train, dev = english[english["split"] == "train"], english[english["split"] == "dev"]
    model = TextClassifier(features="tfidf", C=4.0).fit(train["text"].tolist(), train["labels"].tolist(),
                                                      labels=["check_worthy"])
    truth = dev["labels"].map(bool).to_numpy()
    predicted = model.predict(dev["text"].tolist())[:, 0].astype(bool)
    f1 = 2 * (truth & predicted).sum() / (truth.sum() + predicted.sum())
    always_yes = 2 * truth.mean() / (1 + truth.mean())  # F1 of flagging everything
    assert f1 > always_yes + 0.1


CLAIMS = ["Unemployment fell to 3.5 percent last year, the lowest rate in 50 years.",
          "The government spent $2 billion on the new border wall, twice what Congress approved."]
SMALL_TALK = ["Good morning everyone, have a lovely weekend!", "Thank you all for coming tonight."]
INSULTS = ["Shut up you stupid idiot, you are a disgusting liar and a traitor.",
           "You are a pathetic clown and a fucking disgrace."]
COURTESY = ["Thank you for the warm welcome in Paris today.",
            "Congratulations to our athletes on a wonderful season."]


@pytest.mark.parametrize("name,flagged,plain", [("check-worthy-fast", CLAIMS, SMALL_TALK),
                                                ("abusive-fast", INSULTS, COURTESY)])
def test_shipped_fast_models_flag_real_examples(name, flagged, plain):
    model = load(name)
    texts = [normalize_text(t) for t in flagged + plain]
    assert model.predict(texts)[:, 0].tolist() == [1] * len(flagged) + [0] * len(plain)


@pytest.mark.parametrize("name,flagged,plain", [("check-worthy", CLAIMS, SMALL_TALK),
                                                ("abusive", INSULTS, COURTESY)])
def test_shipped_encoder_models_flag_real_examples(converted_encoder, name, flagged, plain):
    from pipeline.embed import EMBEDDING
    from pipeline.models import score_posts
    from pipeline.models.encoder import Encoder

    model = load(name)
    assert model.features in ("encoder", "hybrid") and (model_dir(name) / "README.md").is_file()
    texts = [normalize_text(t) for t in flagged + plain]
    # As the risk stage reads them: each post's normalised text and its `embed` vector.
    posts = pd.DataFrame({"text_norm": texts, EMBEDDING: list(Encoder(converted_encoder).encode(texts))})
    scores = score_posts(model, posts)[:, 0]
    assert (scores >= 0.5).tolist() == [True] * len(flagged) + [False] * len(plain)
    assert scores[:len(flagged)].min() > scores[len(flagged):].max()


DOMAINS = frozenset({"bbc.com", "rt.com", "example.co.uk"})


@pytest.mark.parametrize("url,found", [
    ("https://www.bbc.com/news/world-123", ["bbc.com"]),
    ("http://m.bbc.com/x", ["bbc.com"]),
    ("https://BBC.COM./", ["bbc.com"]),
    ("www.rt.com/news/1", ["rt.com"]),
    ("https://news.example.co.uk:8443/a?b=c", ["example.co.uk"]),
    ("https://notbbc.com/news", []),
    ("https://bbc.com.evil.net/news", []),
    ("https://art.com/", []),
    ("not a url", []),
])
def test_low_credibility_links_match_registered_domain_and_subdomains_only(url, found):
    assert low_credibility_links([url], DOMAINS) == found


def test_low_credibility_links_report_each_domain_once():
    urls = ["https://rt.com/a", "https://www.rt.com/b", "https://bbc.com/c"]
    assert low_credibility_links(urls, DOMAINS) == ["rt.com", "bbc.com"]


def test_shipped_domain_list_loads_as_registered_domains():
    domains = load_low_credibility_domains()
    assert "infowars.com" in domains and all(d == d.lower() and "/" not in d for d in domains)
    assert low_credibility_links(["https://www.infowars.com/posts/x"], domains) == ["infowars.com"]
