"""Static word vectors from the encoder (`pipeline.models.word_vectors`) and the `tfidf_words`
view that reads them without torch."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import UserError
from pipeline.models.heads import TextClassifier
from pipeline.models.word_vectors import WordVectors, tokens

SIB_SAMPLE = Path(__file__).parent / "fixtures" / "sib200_sample.csv"


def test_words_are_lower_cased_runs_of_letters_in_any_script():
    assert tokens("Le Ministre a reçu l'ambassadeur") == ["le", "ministre", "a", "reçu", "l", "ambassadeur"]
    # Arabic is kept as written (right to left in display, logical order in the string).
    assert tokens("وزير الخارجية يستقبل السفير.") == ["وزير", "الخارجية", "يستقبل", "السفير"]
    assert tokens("#COP28 2023") == ["cop28", "2023"]


def test_chinese_runs_without_spaces_become_character_bigrams():
    assert tokens("外交部长 visited") == ["外交", "交部", "部长", "visited"]
    assert tokens("中") == ["中"]


@pytest.fixture(scope="module")
def sib_words(converted_encoder):
    from pipeline.models.encoder import Encoder

    frame = pd.read_csv(SIB_SAMPLE)
    encoder = Encoder(converted_encoder)
    return frame, encoder, WordVectors.build(frame["text"].tolist(), encoder, dimensions=32, min_count=1)


def test_translations_of_a_sentence_are_closer_than_other_sentences(sib_words):
    # SIB-200 is parallel: one sentence id, the same sentence in each language.
    frame, _, words = sib_words
    vectors = words.transform(frame["text"].tolist())
    similarity = vectors @ vectors.T
    same = frame["index_id"].to_numpy()[:, None] == frame["index_id"].to_numpy()[None, :]
    other_language = frame["iso639_1"].to_numpy()[:, None] != frame["iso639_1"].to_numpy()[None, :]
    translations = similarity[same & other_language].mean()
    unrelated = similarity[~same & other_language].mean()
    assert translations > unrelated + 0.15


def test_int8_word_vectors_give_text_vectors_within_half_a_percent(sib_words):
    frame, _, words = sib_words
    restored = WordVectors.from_quantised(words.vocabulary, *words.quantised(), words.weights)
    texts = frame["text"].tolist()
    assert np.abs(restored.transform(texts) - words.transform(texts)).max() < 5e-3  # of unit-length vectors


def test_a_text_vector_has_unit_length_and_unknown_words_give_zeros(sib_words):
    frame, _, words = sib_words
    vectors = words.transform([frame["text"].iloc[0], "zzqx qqzx"])
    assert np.isclose(np.linalg.norm(vectors[0]), 1, atol=1e-5)
    assert not vectors[1].any()
    assert vectors.dtype == np.float32 and vectors.shape == (2, 32)


def test_fewer_words_than_dimensions_gives_as_many_dimensions_as_words(sib_words):
    _, encoder, _ = sib_words
    words = WordVectors.build(["one two three", "two three"], encoder, dimensions=32, min_count=1)
    assert words.vocabulary == ["two", "three", "one"] and words.dimensions == 3


def test_training_texts_without_repeated_words_are_one_clear_error(sib_words):
    _, encoder, _ = sib_words
    with pytest.raises(UserError, match="fewer than 2 words occur 3 times"):
        WordVectors.build(["one two three"], encoder)


def test_tfidf_words_classifier_predicts_from_the_saved_table_without_the_encoder(sib_words, tmp_path):
    frame, encoder, words = sib_words
    held_out = frame["index_id"].isin(sorted(frame["index_id"].unique())[::4])
    train, test = frame[~held_out], frame[held_out]
    model = TextClassifier(features="tfidf_words", C=4.0, word_vectors=words).fit(
        train["text"].tolist(), [[c] for c in train["category"]])
    assert model.coef_.shape[1] == len(model.vectorizer_.vocabulary_) + words.dimensions
    best = model.classes_[model.decision_scores(test["text"].tolist()).argmax(axis=1)]
    assert (best == test["category"].to_numpy()).mean() >= 0.6  # chance is 0.25

    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    # Word vectors are stored as int8 and n-gram weights as float16 for size: probabilities agree to 0.005.
    assert np.allclose(loaded.predict_proba(test["text"].tolist()), model.predict_proba(test["text"].tolist()),
                       atol=5e-3)
    assert loaded.encoder is None  # predicting never loaded the encoder


def test_tfidf_words_classifier_builds_its_word_vectors_from_the_training_texts(sib_words):
    frame, encoder, _ = sib_words
    model = TextClassifier(features="tfidf_words", encoder=encoder).fit(
        frame["text"].tolist(), [[c] for c in frame["category"]])
    assert model.word_vectors is None  # the parameter is left as given (scikit-learn's clone)
    assert set(model.word_vectors_.vocabulary) <= {w for t in frame["text"] for w in tokens(t)}
