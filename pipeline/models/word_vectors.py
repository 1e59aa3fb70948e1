"""Static word vectors taken from the multilingual encoder, for models that run without torch.

The fast profile's topic student reads TF-IDF character n-grams, which know the words of the
languages it was trained on but not that "élections", "انتخابات" and "выборы" mean the same.
The encoder knows that. `WordVectors.build` embeds each frequent word of the training texts
once with the encoder (as a one-word text), reduces the vectors with PCA, and keeps the table;
a text's vector is then the mean of its words' vectors, weighted so that frequent words count
less (Arora et al.'s smooth inverse frequency, a / (a + p(word))). Looking words up is numpy
only, tens of thousands of posts per second on one core.

Words are runs of letters and digits, lower-cased; runs of Chinese or Japanese characters,
which have no spaces, are split into character bigrams.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from pipeline.errors import UserError

WORD = re.compile(r"\w+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
SIF_SMOOTHING = 1e-3  # the "a" of a / (a + p(word)): words above about 1 in 1,000 tokens weigh less


def tokens(text: str) -> list[str]:
    """The words of `text`, lower-cased; Chinese and Japanese runs as character bigrams."""
    words = []
    for word in WORD.findall(text.lower()):
        if CJK.search(word) and len(word) > 1:
            words.extend(word[i:i + 2] for i in range(len(word) - 1))
        else:
            words.append(word)
    return words


class WordVectors:
    """A table of word vectors: `transform(texts)` gives one unit-length vector per text
    (zeros for a text with no known word)."""

    def __init__(self, vocabulary: list[str], vectors: np.ndarray, weights: np.ndarray):
        if not (len(vocabulary) == len(vectors) == len(weights)):
            raise ValueError(f"{len(vocabulary)} words, {len(vectors)} vectors and {len(weights)} weights")
        self.vocabulary = list(vocabulary)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.weights = np.asarray(weights, dtype=np.float32)
        self._index = {word: i for i, word in enumerate(self.vocabulary)}

    def quantised(self) -> tuple[np.ndarray, np.ndarray]:
        """The vectors as int8 and one scale per word (a quarter of the size of float32; the
        rounding error, under 0.4 % of each vector's largest value, is lost in the averaging)."""
        scales = np.abs(self.vectors).max(axis=1) / 127
        scales[scales == 0] = 1
        return np.round(self.vectors / scales[:, None]).astype(np.int8), scales.astype(np.float32)

    @classmethod
    def from_quantised(cls, vocabulary: list[str], vectors: np.ndarray, scales: np.ndarray,
                       weights: np.ndarray) -> "WordVectors":
        return cls(vocabulary, vectors.astype(np.float32) * scales[:, None], weights)

    @property
    def dimensions(self) -> int:
        return self.vectors.shape[1]

    @classmethod
    def build(cls, texts, encoder, size: int = 30_000, dimensions: int = 256, min_count: int = 3) -> "WordVectors":
        """The `size` most frequent words of `texts` (at least `min_count` times), each embedded
        by `encoder` (a `pipeline.models.encoder.Encoder`), reduced to `dimensions` by PCA."""
        from sklearn.decomposition import PCA

        counts = Counter(word for text in texts for word in tokens(text))
        vocabulary = [word for word, count in counts.most_common(size) if count >= min_count]
        if len(vocabulary) < 2:
            raise UserError(f"word vectors: fewer than 2 words occur {min_count} times or more in the training texts")
        vectors = encoder.encode(vocabulary)
        # A small training set has fewer words than dimensions: as many as it has, then.
        vectors = PCA(min(dimensions, len(vocabulary)), random_state=0).fit_transform(vectors - vectors.mean(axis=0))
        frequency = np.array([counts[word] for word in vocabulary], dtype=np.float64)
        frequency /= frequency.sum()
        return cls(vocabulary, vectors, SIF_SMOOTHING / (SIF_SMOOTHING + frequency))

    def transform(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), np.float32)
        for row, text in enumerate(texts):
            ids = [i for i in map(self._index.get, tokens(text)) if i is not None]
            if ids:
                vector = self.weights[ids] @ self.vectors[ids]
                norm = np.linalg.norm(vector)
                if norm > 0:
                    out[row] = vector / norm
        return out
