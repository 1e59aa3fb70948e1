"""CachedCharNgrams: the fast profile's n-gram features, word by word, equal to scikit-learn's."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.models import ngrams
from pipeline.models.ngrams import CachedCharNgrams, word_ngrams

SAMPLE = Path(__file__).parents[2] / "corpora" / "sample" / "world_leaders_sample.csv"


@pytest.fixture(scope="module")
def posts() -> list[str]:
    texts = pd.read_csv(SAMPLE, usecols=["text"])["text"].dropna().tolist()
    # Real posts in many scripts, plus the cases char_wb treats specially: words shorter than
    # n, a word-final sigma (lowercased by context), tabs and runs of spaces, an empty post.
    return texts + ["ΟΔΟΣ ΣΟΦΟΣ a b", "x\t\tyz   Ab", "", "   "]


@pytest.fixture(scope="module")
def fitted(posts) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                           dtype=np.float32).fit(posts[::2])


def test_word_ngrams_are_the_ngrams_scikit_learn_takes_from_a_post(posts, fitted):
    analyzer = fitted.build_analyzer()
    for text in posts:
        ours = [gram for word in text.lower().split() for gram in word_ngrams(word, 2, 5)]
        assert sorted(ours) == sorted(analyzer(text)), text


def test_cached_features_equal_the_fitted_vectorizers_on_unseen_posts(posts, fitted):
    cached = CachedCharNgrams(fitted)
    unseen = posts[1::2]
    expected = fitted.transform(unseen)
    for _ in range(2):  # the second pass reads every word from the cache
        features = cached.transform(unseen)
        assert features.dtype == expected.dtype and features.shape == expected.shape
        assert abs(features - expected).max() == 0


def test_a_full_word_cache_starts_again_and_stays_correct(posts, fitted, monkeypatch):
    monkeypatch.setattr(ngrams, "MAX_CACHED_WORDS", 50)
    cached = CachedCharNgrams(fitted)
    features = cached.transform(posts)
    assert len(cached._words) <= 50
    assert abs(features - fitted.transform(posts)).max() == 0


def test_only_lowercased_char_wb_vectorizers_are_reproduced(posts):
    words = TfidfVectorizer(analyzer="word").fit(posts[:50])
    with pytest.raises(ValueError, match="char_wb"):
        CachedCharNgrams(words)
