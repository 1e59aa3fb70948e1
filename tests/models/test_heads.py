"""TextClassifier: the multi-label estimator every text task uses (fit/predict, thresholds,
saving without pickle)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import UserError
from pipeline.models.heads import TextClassifier, _best_threshold

SIB_SAMPLE = Path(__file__).parent / "fixtures" / "sib200_sample.csv"


@pytest.fixture(scope="module")
def sib():
    frame = pd.read_csv(SIB_SAMPLE)
    # Sentences are the same across languages: split by sentence id, never by row.
    held_out = frame["index_id"].isin(sorted(frame["index_id"].unique())[::4])
    return frame[~held_out], frame[held_out]


@pytest.fixture(scope="module")
def tfidf_model(sib):
    train, _ = sib
    return TextClassifier(features="tfidf", C=4.0).fit(train["text"], [[c] for c in train["category"]])


def test_tfidf_classifier_learns_topics_of_unseen_sentences(tfidf_model, sib):
    _, held_out = sib
    scores = tfidf_model.decision_scores(held_out["text"])
    best = tfidf_model.classes_[scores.argmax(axis=1)]
    assert (best == held_out["category"].to_numpy()).mean() >= 0.6  # chance is 0.25


def test_predict_is_a_label_indicator_matrix_and_labels_follow_it(tfidf_model, sib):
    _, held_out = sib
    indicator = tfidf_model.predict(held_out["text"])
    assert indicator.shape == (len(held_out), 4)
    assert set(np.unique(indicator)) <= {0, 1}
    names = tfidf_model.predict_labels(held_out["text"])
    assert [sorted(n) for n in names] == [sorted(tfidf_model.classes_[row.astype(bool)]) for row in indicator]


def test_decision_scores_put_each_threshold_at_one_half(tfidf_model, sib):
    _, held_out = sib
    probabilities = tfidf_model.predict_proba(held_out["text"])
    scores = tfidf_model.decision_scores(held_out["text"])
    assert np.array_equal(scores >= 0.5, probabilities >= tfidf_model.thresholds_)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_a_label_of_the_taxonomy_never_seen_in_training_is_never_predicted(sib):
    train, held_out = sib
    model = TextClassifier(features="tfidf").fit(train["text"], [[c] for c in train["category"]],
                                                 labels=["health", "politics", "sports", "travel", "cuisine"])
    assert list(model.classes_) == ["health", "politics", "sports", "travel", "cuisine"]
    assert model.predict(held_out["text"])[:, 4].sum() == 0


def test_one_class_name_per_text_trains_exclusive_classes_not_letters(sib, tmp_path):
    train, held_out = sib
    model = TextClassifier(features="tfidf", C=4.0).fit(train["text"], train["category"].to_numpy())
    assert sorted(model.classes_) == sorted(train["category"].unique())  # not the letters of the names
    predicted = model.predict(held_out["text"])
    assert (predicted == held_out["category"].to_numpy()).mean() >= 0.6  # chance is 0.25
    assert np.allclose(model.predict_proba(held_out["text"]).sum(axis=1), 1)
    model.save(tmp_path / "m")
    assert list(TextClassifier.load(tmp_path / "m").predict(held_out["text"])) == list(predicted)


def test_saved_model_predicts_the_same_after_loading(tfidf_model, sib, tmp_path):
    _, held_out = sib
    tfidf_model.save(tmp_path / "m", {"name": "m", "task": "test"})
    loaded = TextClassifier.load(tmp_path / "m")
    assert list(loaded.classes_) == list(tfidf_model.classes_)
    # Weights are stored as float16 for size: scores agree to three decimals.
    assert np.allclose(loaded.predict_proba(held_out["text"]), tfidf_model.predict_proba(held_out["text"]), atol=2e-3)
    assert loaded.metadata_["task"] == "test"


def test_as_saved_predicts_what_the_saved_folder_predicts(tfidf_model, sib, tmp_path):
    from pipeline.models.heads import as_saved

    _, held_out = sib
    tfidf_model.save(tmp_path / "m")
    shipped = TextClassifier.load(tmp_path / "m").predict_proba(held_out["text"])
    assert np.array_equal(as_saved(tfidf_model).predict_proba(held_out["text"]), shipped)
    assert not np.array_equal(tfidf_model.predict_proba(held_out["text"]), shipped)  # half-precision n-gram weights


def test_model_folder_is_json_and_numpy_only(tfidf_model, tmp_path):
    tfidf_model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "weights.npz"]
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as arrays:
        assert {"coef", "intercept", "thresholds", "idf"} <= set(arrays.files)


def test_a_folder_without_a_model_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="cannot load model"):
        TextClassifier.load(tmp_path)


def test_encoder_vectors_can_be_given_directly():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 16))
    X = np.vstack([c + 0.1 * rng.normal(size=(40, 16)) for c in centers]).astype(np.float32)
    y = [[name] for name in ("a", "b", "c") for _ in range(40)]
    model = TextClassifier(features="encoder").fit(X, y)
    assert model.predict_labels(X[:1]) == [["a"]]


def xor_clusters(rows_per_cluster: int = 150, dimensions: int = 8):
    """Two labels whose examples lie in opposite corners: no linear boundary separates them."""
    rng = np.random.default_rng(0)
    corners = {"a": [(1, 1), (-1, -1)], "b": [(1, -1), (-1, 1)]}
    X, y = [], []
    for label, points in corners.items():
        for point in points:
            center = np.r_[point, np.zeros(dimensions - 2)] * 3
            X.append(center + 0.3 * rng.normal(size=(rows_per_cluster, dimensions)))
            y += [[label]] * rows_per_cluster
    return np.vstack(X).astype(np.float32), y


def test_hidden_layer_learns_labels_that_no_linear_head_separates(tmp_path):
    X, y = xor_clusters()
    truth = np.array([row[0] for row in y])
    linear = TextClassifier(features="encoder").fit(X, y)
    with_network = TextClassifier(features="encoder", hidden_units=32).fit(X, y)
    accuracy = {name: (model.classes_[model.decision_scores(X).argmax(axis=1)] == truth).mean()
                for name, model in (("linear", linear), ("network", with_network))}
    assert accuracy["linear"] < 0.75 and accuracy["network"] >= 0.95

    with_network.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.hidden_units == 32
    assert np.allclose(loaded.predict_proba(X), with_network.predict_proba(X), atol=1e-5)


def test_best_threshold_maximises_f1_on_held_out_scores():
    scores = np.array([0.9, 0.8, 0.35, 0.3, 0.2, 0.1])
    truth = np.array([1, 1, 0, 1, 0, 0])
    # Cutting at 0.3 catches all three positives with one false alarm (F1 0.857).
    assert _best_threshold(scores, truth) == pytest.approx(0.3)
    assert _best_threshold(scores, np.zeros(6, int)) == 1.0


def test_best_threshold_for_macro_f1_keeps_some_of_the_other_class():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    truth = np.array([1, 1, 1, 1, 0, 1])
    # F1 of the label alone is best flagging everything (0.909); macro-F1 stops above the one
    # negative: F1 0.889 and 0.667 for the other class, against 0.909 and 0.
    assert _best_threshold(scores, truth) == pytest.approx(0.4)
    assert _best_threshold(scores, truth, "macro_f1") == pytest.approx(0.6)


@pytest.fixture(scope="module")
def two_languages():
    """One noisy signal; language `b` has four positives for every one of `a`."""
    rng = np.random.default_rng(1)
    groups = np.array(["a"] * 300 + ["b"] * 300, dtype=object)
    truth = np.r_[rng.random(300) < 0.2, rng.random(300) < 0.8]
    X = (truth[:, None] + rng.normal(scale=0.8, size=(600, 4))).astype(np.float32)
    y = [["abusive"] if t else [] for t in truth]
    return X, y, groups


def test_each_group_gets_its_own_threshold_and_predict_applies_it(two_languages):
    X, y, groups = two_languages
    model = TextClassifier(features="encoder", threshold_metric="macro_f1").fit(X, y, threshold_groups=groups)
    assert sorted(model.group_thresholds_) == ["a", "b"]
    assert model.group_thresholds_["a"][0] != model.group_thresholds_["b"][0]
    probabilities = model.predict_proba(X)[:, 0]
    rows = ["a", "b", "c"] * 200  # `c` has no threshold of its own: the overall one applies
    expected = [model.group_thresholds_.get(g, model.thresholds_)[0] for g in rows]
    assert np.array_equal(model.predict(X, rows)[:, 0], (probabilities >= expected).astype(np.int8))
    assert np.array_equal(model.decision_scores(X, rows)[:, 0] >= 0.5, probabilities >= expected)
    assert np.array_equal(model.predict(X)[:, 0], (probabilities >= model.thresholds_[0]).astype(np.int8))


def test_a_group_with_too_few_examples_keeps_the_overall_threshold(two_languages):
    X, y, groups = two_languages
    groups = groups.copy()
    groups[:5] = "rare"
    model = TextClassifier(features="encoder").fit(X, y, threshold_groups=groups)
    assert sorted(model.group_thresholds_) == ["a", "b"]
    assert model.row_thresholds(["rare"], 1)[0, 0] == model.thresholds_[0]


def test_group_thresholds_and_metric_survive_saving(two_languages, tmp_path):
    X, y, groups = two_languages
    model = TextClassifier(features="encoder", threshold_metric="macro_f1").fit(X, y, threshold_groups=groups)
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.threshold_metric == "macro_f1"
    assert np.array_equal(loaded.predict(X, groups), model.predict(X, groups))


def test_an_unknown_threshold_metric_is_one_clear_error(two_languages):
    X, y, _ = two_languages
    with pytest.raises(UserError, match="threshold_metric must be one of f1, macro_f1"):
        TextClassifier(features="encoder", threshold_metric="accuracy").fit(X, y)


def test_changed_weights_are_refused_at_load(tfidf_model, tmp_path):
    tfidf_model.save(tmp_path / "m")
    weights = tmp_path / "m" / "weights.npz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="does not match the sha256"):
        TextClassifier.load(tmp_path / "m")


def test_rows_with_zero_weight_do_not_move_the_heads(sib):
    train, _ = sib
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=300).fit_transform(train["text"]).toarray()
    y = [[c] for c in train["category"]]
    noise = [["sports"]] * len(y)  # every row again, with a wrong label, weighted zero
    plain = TextClassifier(features="encoder").fit(X, y)
    weighted = TextClassifier(features="encoder").fit(np.vstack([X, X]), y + noise,
                                                      sample_weight=np.r_[np.ones(len(y)), np.zeros(len(y))])
    assert np.allclose(plain.coef_, weighted.coef_, atol=1e-3)


SIB_LABELS = ["health", "politics", "sports", "travel"]


def partly_annotated(train: pd.DataFrame):
    """Half of the sentences as from a source whose categories are politics and sports only:
    its health and travel sentences carry no label, and say nothing about those two."""
    partial = (train["index_id"] % 2 == 0).to_numpy()
    y = [[c] if not p or c in ("politics", "sports") else [] for c, p in zip(train["category"], partial)]
    mask = np.array([[not p or label in ("politics", "sports") for label in SIB_LABELS] for p in partial])
    return y, mask


def test_cells_a_source_does_not_annotate_are_not_taken_as_negatives(sib):
    train, held_out = sib
    y, mask = partly_annotated(train)
    recall = {}
    for name, label_mask in (("negatives", None), ("left out", mask)):
        model = TextClassifier(features="tfidf", C=4.0).fit(train["text"], y, labels=SIB_LABELS, label_mask=label_mask)
        predicted = model.predict(held_out["text"])
        unannotated = held_out["category"].isin(["health", "travel"]).to_numpy()
        columns = [SIB_LABELS.index(c) for c in held_out["category"][unannotated]]
        recall[name] = predicted[unannotated, columns].mean()
    # Without the mask, half the health and travel sentences teach "not health", "not travel".
    assert recall["left out"] >= recall["negatives"] + 0.2


def test_targets_of_cells_left_out_do_not_move_heads_or_network(sib):
    train, _ = sib
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=300).fit_transform(train["text"]).toarray()
    y, mask = partly_annotated(train)
    scrambled = [labels + [label for label, known in zip(SIB_LABELS, row) if not known and i % 3]
                 for i, (labels, row) in enumerate(zip(y, mask))]  # anything in the unknown cells
    fitted = [TextClassifier(features="encoder", hidden_units=8).fit(X, target, labels=SIB_LABELS, label_mask=mask)
              for target in (y, scrambled)]
    assert np.allclose(fitted[0].coef_, fitted[1].coef_, atol=1e-3)
    assert all(np.array_equal(a, b) for a, b in zip(fitted[0].mlp_, fitted[1].mlp_))
    assert np.array_equal(fitted[0].thresholds_, fitted[1].thresholds_)


def test_a_label_mask_of_the_wrong_shape_is_refused(sib):
    train, _ = sib
    with pytest.raises(ValueError, match="label_mask has shape"):
        TextClassifier(features="tfidf").fit(train["text"], [[c] for c in train["category"]],
                                            label_mask=np.ones((3, 4), bool))


@pytest.fixture(scope="module")
def sib_vectors(sib, converted_encoder):
    from pipeline.models.encoder import Encoder

    encoder = Encoder(converted_encoder)
    train, held_out = sib
    return encoder, encoder.encode(train["text"].tolist()), encoder.encode(held_out["text"].tolist())


def test_hybrid_classifier_reads_ngrams_and_vectors_side_by_side(sib, sib_vectors, tmp_path):
    train, held_out = sib
    encoder, train_vectors, held_out_vectors = sib_vectors
    model = TextClassifier(features="hybrid", C=4.0).fit(
        pd.DataFrame({"text": train["text"].tolist(), "embedding": list(train_vectors)}),
        [[c] for c in train["category"]])
    assert model.coef_.shape[1] == len(model.vectorizer_.vocabulary_) + train_vectors.shape[1]
    inputs = pd.DataFrame({"text": held_out["text"].tolist(), "embedding": list(held_out_vectors)})
    best = model.classes_[model.decision_scores(inputs).argmax(axis=1)]
    assert (best == held_out["category"].to_numpy()).mean() >= 0.7  # chance is 0.25

    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m", encoder=encoder)
    # Texts alone are embedded by the model's encoder: the same scores as with the vectors given.
    assert np.allclose(loaded.predict_proba(held_out["text"].tolist()), model.predict_proba(inputs), atol=2e-3)


def test_hybrid_classifier_with_a_hidden_layer_reads_the_vectors_once(sib, sib_vectors, tmp_path):
    train, held_out = sib
    encoder, train_vectors, held_out_vectors = sib_vectors
    model = TextClassifier(features="hybrid", C=4.0, hidden_units=64).fit(
        pd.DataFrame({"text": train["text"].tolist(), "embedding": list(train_vectors)}),
        [[c] for c in train["category"]])
    inputs = pd.DataFrame({"text": held_out["text"].tolist(), "embedding": list(held_out_vectors)})
    best = model.classes_[model.decision_scores(inputs).argmax(axis=1)]
    assert (best == held_out["category"].to_numpy()).mean() >= 0.7

    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m", encoder=encoder)
    assert np.allclose(loaded.predict_proba(inputs), model.predict_proba(inputs), atol=2e-3)
