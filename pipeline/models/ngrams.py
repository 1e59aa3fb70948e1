"""Character n-gram TF-IDF features at prediction time, computed word by word with a cache.

scikit-learn's `TfidfVectorizer(analyzer="char_wb")` builds every n-gram of every word of
every post in Python, then looks each one up in the vocabulary: about a quarter of a whole
fast-profile run. Its n-grams never cross a word boundary, so a post's features are the sum
of its words' features, and words repeat (Zipf): `CachedCharNgrams` keeps each distinct
word's vocabulary indices and only assembles them per post. The matrix is the fitted
vectorizer's own (same vocabulary, idf, sublinear tf, l2 norm; tested against it).
Training keeps scikit-learn's vectorizer, which also chooses the vocabulary.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

MAX_CACHED_WORDS = 500_000  # about 100 MB at most; then the cache starts again (rare words churn)


def word_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The n-grams `char_wb` takes from one word: padded with a space on each side, and a
    word shorter than n counted once as a whole."""
    padded = f" {word} "
    grams = []
    for n in range(min_n, max_n + 1):
        if len(padded) <= n:
            grams.append(padded)
            break
        grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return grams


class CachedCharNgrams:
    """`transform(texts)` = the fitted vectorizer's `transform(texts)`, word by word."""

    def __init__(self, vectorizer: TfidfVectorizer):
        if vectorizer.analyzer != "char_wb" or not vectorizer.lowercase or vectorizer.strip_accents:
            raise ValueError("CachedCharNgrams reproduces lowercased char_wb vectorizers only")
        self.vocabulary = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float32)
        self.ngram_range = vectorizer.ngram_range
        self.sublinear_tf = vectorizer.sublinear_tf
        self.norm = vectorizer.norm
        self.dtype = vectorizer.dtype
        self._words: dict[str, np.ndarray] = {}

    def transform(self, texts) -> csr_matrix:
        pieces, lengths = [], np.zeros(len(texts), np.int64)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                indices = self._words.get(word)
                if indices is None:
                    indices = self._word_indices(word)
                if len(indices):
                    pieces.append(indices)
                    lengths[row] += len(indices)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
        counts = csr_matrix((np.ones(len(indices), self.dtype), indices, indptr),
                            shape=(len(texts), len(self.vocabulary)))
        counts.sum_duplicates()  # repeated n-grams become counts, indices sorted per row
        if self.sublinear_tf:
            np.log(counts.data, counts.data)
            counts.data += 1.0
        counts.data *= self.idf[counts.indices]
        return normalize(counts, norm=self.norm, copy=False) if self.norm else counts

    def _word_indices(self, word: str) -> np.ndarray:
        if len(self._words) >= MAX_CACHED_WORDS:
            self._words.clear()
        vocabulary = self.vocabulary
        known = [vocabulary[gram] for gram in word_ngrams(word, *self.ngram_range) if gram in vocabulary]
        indices = self._words[word] = np.array(known, np.int32)
        return indices
