"""The topics stage in a run (fast and accurate profiles) and the train/evaluate commands."""

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.runner import SAMPLE_ACCOUNTS, SAMPLE_POSTS, run
from pipeline.topics.corpus import load_taxonomy

SIB_SAMPLE = Path(__file__).parents[1] / "models" / "fixtures" / "sib200_sample.csv"
SIB_TO_TAXONOMY = {"politics": "political", "health": "health", "sports": "sports", "travel": "tourism"}
NO_ENCODER = {"models.encoder_dir": "/nonexistent/diplolens-encoder"}
TOPIC_STAGES = ["normalize", "langid", "embed", "topics"]


@pytest.fixture(scope="module")
def sample_slice(tmp_path_factory) -> Path:
    """The first 300 posts of the embedded sample archive (real posts, all columns)."""
    path = tmp_path_factory.mktemp("slice") / "posts.csv"
    pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).head(300).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fast_run(sample_slice, tmp_path_factory):
    out = tmp_path_factory.mktemp("fast")
    config = load_config(overrides={"profile": "fast", "stages": TOPIC_STAGES})
    manifest = run([str(sample_slice)], out, config, SAMPLE_ACCOUNTS, progress=False)
    return out, manifest


def test_fast_profile_labels_posts_with_taxonomy_topics_and_scores(fast_run):
    out, manifest = fast_run
    posts = pd.read_parquet(out / "posts.parquet")
    taxonomy = load_taxonomy()
    assert manifest["profile"] == "fast"
    assert manifest["models"]["topics"]["name"] == "topics-fast"
    assert "embedding" not in posts.columns
    for topics, scores in zip(posts["topics"], posts["topic_scores"]):
        scores = dict(scores)
        assert sorted(scores) == sorted(taxonomy)
        assert sorted(topics) == sorted(label for label, score in scores.items() if score >= 0.5)
    assert posts["topics"].map(len).gt(0).mean() > 0.5  # heads of government mostly post about issues


def test_accounts_and_actors_get_topic_shares(fast_run):
    out, _ = fast_run
    posts = pd.read_parquet(out / "posts.parquet")
    accounts = pd.read_parquet(out / "accounts.parquet")
    row = accounts.sort_values("posts").iloc[-1]
    mine = posts[posts["account_handle"] == row["account_handle"]]
    political = sum("political" in topics for topics in mine["topics"])
    shares = {k: v for k, v in dict(row["topic_shares"]).items() if v is not None}
    assert shares.get("political", 0) == pytest.approx(political / len(mine))
    assert pd.read_parquet(out / "actors.parquet")["main_topic"].notna().any()


def test_auto_profile_without_the_encoder_runs_fast(sample_slice, tmp_path):
    config = load_config(overrides={"stages": TOPIC_STAGES, **NO_ENCODER})
    manifest = run([str(sample_slice)], tmp_path, config, progress=False)
    assert manifest["profile"] == "fast"


def test_accurate_profile_without_the_encoder_is_one_clear_error(sample_slice, tmp_path):
    config = load_config(overrides={"profile": "accurate", "stages": TOPIC_STAGES, **NO_ENCODER})
    with pytest.raises(UserError, match="diplolens models setup"):
        run([str(sample_slice)], tmp_path, config, progress=False)


def test_accurate_profile_reads_the_encoder_vectors(sample_slice, tmp_path, converted_encoder):
    config = load_config(overrides={"profile": "accurate", "stages": TOPIC_STAGES,
                                    "models.encoder_dir": str(converted_encoder)})
    manifest = run([str(sample_slice)], tmp_path, config, progress=False)
    posts = pd.read_parquet(tmp_path / "posts.parquet")
    assert manifest["models"]["topics"]["name"] == "topics-e5"
    assert manifest["models"]["encoder"]["path"] == str(converted_encoder)
    assert "embedding" not in posts.columns
    assert posts["topics"].map(len).gt(0).mean() > 0.5


@pytest.fixture
def sib_labelled(tmp_path) -> Path:
    frame = pd.read_csv(SIB_SAMPLE)
    frame = frame.assign(labels=frame["category"].map(SIB_TO_TAXONOMY), lang=frame["iso639_1"],
                         split=["dev" if i % 4 == 0 else "train" for i in frame["index_id"]])
    path = tmp_path / "labelled.csv"
    frame[["text", "labels", "lang", "split"]].to_csv(path, index=False)
    return path


def test_train_and_evaluate_commands_round_trip(sib_labelled, tmp_path, capsys):
    model = tmp_path / "my-topics"
    assert main(["train", "topics", str(sib_labelled), "--out", str(model), "--features", "tfidf"]) == 0
    assert (model / "model.json").is_file()
    report = tmp_path / "report.json"
    assert main(["evaluate", "topics", str(sib_labelled), "--model", str(model), "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "sports" in printed and "micro-F1" in printed
    figures = json.loads(report.read_text("utf-8"))
    assert set(figures["per_language"]) == {"ar", "en", "fr"}
    assert figures["overall"]["per_label"]["sports"]["support"] > 0


def test_train_with_a_hidden_layer_writes_the_network_and_evaluates(sib_labelled, tmp_path, capsys,
                                                                     converted_encoder, monkeypatch):
    monkeypatch.setenv("DIPLOLENS_HOME", str(converted_encoder.parent))  # where the encoder is looked for
    model = tmp_path / "my-topics"
    assert main(["train", "topics", str(sib_labelled), "--out", str(model), "--features", "hybrid",
                 "--hidden-units", "16"]) == 0
    assert json.loads((model / "model.json").read_text("utf-8"))["params"]["hidden_units"] == 16
    assert main(["evaluate", "topics", str(sib_labelled), "--model", str(model)]) == 0
    assert "micro-F1" in capsys.readouterr().out


def test_train_with_word_vectors_needs_the_encoder_to_train_and_not_to_evaluate(
        sib_labelled, tmp_path, capsys, converted_encoder, monkeypatch):
    monkeypatch.setenv("DIPLOLENS_HOME", str(converted_encoder.parent))  # where the encoder is looked for
    model = tmp_path / "my-topics"
    assert main(["train", "topics", str(sib_labelled), "--out", str(model), "--features", "tfidf_words"]) == 0
    assert "words" in json.loads((model / "model.json").read_text("utf-8"))
    monkeypatch.setenv("DIPLOLENS_HOME", str(tmp_path / "no-encoder-here"))
    assert main(["evaluate", "topics", str(sib_labelled), "--model", str(model)]) == 0
    assert "micro-F1" in capsys.readouterr().out


def test_a_negative_hidden_layer_is_one_clear_error(sib_labelled, tmp_path, capsys):
    assert main(["train", "topics", str(sib_labelled), "--out", str(tmp_path / "m"), "--features", "tfidf",
                 "--hidden-units", "-1"]) == 2
    assert "hidden_units must be a whole number >= 0" in capsys.readouterr().err


def test_run_uses_a_trained_model_named_on_the_command_line(sib_labelled, sample_slice, tmp_path):
    model = tmp_path / "my-topics"
    assert main(["train", "topics", str(sib_labelled), "--out", str(model), "--features", "tfidf"]) == 0
    out = tmp_path / "out"
    assert main(["run", str(sample_slice), "--out", str(out), "--profile", "fast", "--model", f"topics={model}",
                 "--config", str(_topic_stages_config(tmp_path)), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["models"]["topics"]["name"] == "my-topics"


def test_training_labels_outside_the_taxonomy_are_one_clear_error(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"text": ["Le ministre a reçu son homologue."], "labels": ["diplomacy"]}).to_csv(path, index=False)
    assert main(["train", "topics", str(path), "--out", str(tmp_path / "m"), "--features", "tfidf"]) == 2
    assert "not in the taxonomy: diplomacy" in capsys.readouterr().err


def test_known_labels_column_masks_what_a_row_does_not_annotate(tmp_path, capsys):
    from pipeline.topics.training import label_mask, read_labelled

    path = tmp_path / "labelled.csv"
    pd.DataFrame({"text": ["Le ministre a reçu son homologue.", "Victoire de l'équipe nationale !"],
                  "labels": ["political", "sports"], "lang": ["fr", "fr"],
                  "known_labels": ["political|sports", ""]}).to_csv(path, index=False)
    taxonomy = load_taxonomy()
    mask = label_mask(read_labelled(path), taxonomy)
    assert [taxonomy[j] for j in mask[0].nonzero()[0]] == ["political", "sports"]
    assert mask[1].all()  # empty: every label

    pd.DataFrame({"text": ["Le ministre a reçu son homologue."], "labels": ["political"], "lang": ["fr"],
                  "known_labels": ["sports"]}).to_csv(path, index=False)
    assert main(["train", "topics", str(path), "--out", str(tmp_path / "m"), "--features", "tfidf"]) == 2
    assert "labels outside their known_labels" in capsys.readouterr().err


def test_evaluating_a_split_with_no_rows_is_one_clear_error(tmp_path, capsys):
    path = tmp_path / "train_only.csv"
    pd.DataFrame({"text": ["Le ministre a reçu son homologue."], "labels": ["politics"], "lang": ["fr"],
                  "split": ["train"]}).to_csv(path, index=False)
    assert main(["evaluate", "topics", str(path), "--model", "topics-fast"]) == 2  # --split dev by default
    assert "no rows in split 'dev' (splits: train; choose one with --split)" in capsys.readouterr().err


def _topic_stages_config(folder: Path) -> Path:
    path = folder / "config.yaml"
    path.write_text(f"stages: [{', '.join(TOPIC_STAGES)}]\n", "utf-8")
    return path
