"""Text flags: the training-data loaders' caveat rules, a TF-IDF head on real rows, the shipped
models on real-looking posts, and low-credibility link matching."""

import json
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


@pytest.fixture(scope="module")
def checkworthy_file(checkworthy, tmp_path_factory):
    """The CheckThat! rows as a user's labelled file: text, labels, lang, split."""
    path = tmp_path_factory.mktemp("labelled") / "checkworthy.csv"
    checkworthy.assign(labels=checkworthy["labels"].map("|".join))[["text", "labels", "lang", "split"]].to_csv(
        path, index=False)
    return path


def test_train_and_evaluate_commands_work_for_a_text_flag(checkworthy, checkworthy_file, tmp_path):
    from pipeline.cli import main

    model_folder, report_file = tmp_path / "cw", tmp_path / "report.json"
    assert main(["train", "check_worthy", str(checkworthy_file), "--out", str(model_folder),
                 "--features", "tfidf", "--C", "4"]) == 0
    model = TextClassifier.load(model_folder)
    assert model.metadata_["task"] == "check_worthy" and model.threshold_metric == "f1"
    assert "en" in model.group_thresholds_  # enough English rows of both kinds; Arabic keeps the overall one
    assert main(["evaluate", "check_worthy", str(checkworthy_file), "--model", str(model_folder),
                 "--report", str(report_file)]) == 0
    report = json.loads(report_file.read_text("utf-8"))
    dev = checkworthy[checkworthy["split"] == "dev"]
    assert report["overall"]["rows"] == len(dev)
    assert {name: s["rows"] for name, s in report["sets"].items()} == dev["lang"].value_counts().to_dict()
    english = report["sets"]["en"]
    assert english["macro_f1"] == pytest.approx((english["f1_flagged"] + english["f1_other"]) / 2, abs=1e-4)


def test_evaluating_a_model_of_another_task_is_one_clear_error(checkworthy_file, tmp_path, capsys):
    from pipeline.cli import main

    assert main(["evaluate", "abusive", str(checkworthy_file), "--model", "check-worthy-fast"]) == 2
    assert "was trained for check_worthy, not abusive" in capsys.readouterr().err


def test_flag_data_with_other_labels_is_one_clear_error(tmp_path, capsys):
    from pipeline.cli import main

    path = tmp_path / "topics.csv"
    pd.DataFrame({"text": ["a claim", "a greeting"], "labels": ["politics", ""], "lang": "en"}).to_csv(path, index=False)
    assert main(["train", "abusive", str(path), "--out", str(tmp_path / "m"), "--features", "tfidf"]) == 2
    assert "labels other than 'abusive': politics" in capsys.readouterr().err


def test_shipped_abusive_models_have_a_threshold_per_language_for_macro_f1():
    for name in ("abusive", "abusive-fast"):
        description = json.loads((model_dir(name) / "model.json").read_text("utf-8"))
        assert description["params"]["threshold_metric"] == "macro_f1"
        assert {"ar", "en", "fr"} <= set(description["threshold_groups"])


def test_score_posts_applies_each_posts_language_threshold():
    from pipeline.models import score_posts

    model = load("abusive-fast")
    texts = [normalize_text(t) for t in INSULTS + COURTESY]
    languages = ["en", "fr", "ar", "xx"]  # xx: no threshold of its own, the overall one applies
    scores = score_posts(model, pd.DataFrame({"text_norm": texts, "lang": languages}))
    assert np.allclose(scores, model.decision_scores(texts, languages))
    thresholds = model.row_thresholds(languages, len(texts))[:, 0]
    assert thresholds.tolist() == [model.group_thresholds_["en"][0], model.group_thresholds_["fr"][0],
                                   model.group_thresholds_["ar"][0], model.thresholds_[0]]
    assert np.array_equal(scores[:, 0] >= 0.5, model.predict_proba(texts)[:, 0] >= thresholds)
