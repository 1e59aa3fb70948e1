"""Text classifiers (multi-label, scikit-learn estimator contract) that every text task uses.

`TextClassifier` is one logistic regression per label over a feature view of the texts,
with a per-label decision threshold tuned on out-of-fold predictions (a rare label needs a
lower bar than a frequent one), for F1 of the label or, for binary flags judged by it, for
macro-F1 (the mean of the label's F1 and its complement's). Thresholds can also be tuned per
group of rows, e.g. per language: a flag trained on sets whose base rates differ by language
(abusive: 21 % of Arabic OSACT4 tweets, 79 % of the French MLMA ones) needs a bar per language,
and a run passes each post's language. Four feature views:

- `features="encoder"`: the multilingual e5 vectors (the `accurate` profile). `X` is either
  a list of texts (embedded here) or an array of vectors already computed by the `embed`
  stage, so a batch is embedded once for every head.
- `features="tfidf"`: character n-grams within words, no torch (the `fast` profile).
- `features="hybrid"`: both side by side, for tasks where the words themselves carry the
  signal (insults, dialect profanity) and the encoder alone blurs them. `X` is a DataFrame
  with `text` and `embedding` columns, or a list of texts (embedded here).
- `features="tfidf_words"`: the n-grams beside static word vectors taken from the encoder
  (`pipeline.models.word_vectors`): the encoder is needed to train, not to predict, so a
  model that runs without torch still knows that words of different languages mean the same.

With `hidden_units` > 0 (encoder and hybrid views), a small neural network (one hidden
ReLU layer over the e5 vectors, all labels at once) is trained beside the linear heads and the
two probabilities are averaged: a label whose examples form several clusters in the vector
space (SIB-200's "geography" sentences and posts on climate policy both teach `environment`)
is not linearly separable there, and the network can draw that boundary, while the linear
heads keep the n-grams' words.

Fitted classifiers are saved as JSON and NumPy arrays only (no pickle: a model folder from
somewhere else cannot run code when loaded), and `model.json` holds the sha256 of the
weights, checked at load.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix, hstack
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from pipeline.errors import UserError
from pipeline.models.ngrams import CachedCharNgrams
from pipeline.models.store import load_model_files, save_model_files
from pipeline.models.word_vectors import WordVectors

FORMAT_VERSION = 1
FEATURES = ("encoder", "tfidf", "hybrid", "tfidf_words")
TEXT_FEATURES = ("tfidf", "tfidf_words")  # the views that read texts only, never encoder vectors
THRESHOLD_METRICS = ("f1", "macro_f1")
MLP_EPOCHS = 40  # a fixed budget rather than convergence: what the shipped topic heads were measured with
MLP_ALPHA = 1e-3
MLP_LEARNING_RATE = 1e-3
MLP_BATCH = 256
MLP_ARRAYS = ("mlp_hidden_weights", "mlp_hidden_bias", "mlp_output_weights", "mlp_output_bias")


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label text classifier: `fit(texts, label_lists)`, `predict_proba(texts)`.

    `predict` returns the label-indicator matrix (scikit-learn's multi-label convention);
    `predict_labels` the label names per text.

    `y` may also be any scikit-learn classification target: a label-indicator matrix (multi-label,
    as label lists), or one class per row (binary or multiclass). Then the classes exclude each
    other: `predict_proba` sums to one per row, `predict` returns each row's most probable class
    and no thresholds are tuned. With the `encoder` view and a numeric `X`, the estimator passes
    scikit-learn's `check_estimator` (tests/models/test_estimator_checks.py).
    """

    def __init__(self, features: str = "encoder", C: float = 1.0, class_weight: str | None = "balanced",
                 threshold_folds: int = 3, threshold_metric: str = "f1", max_features: int = 150_000,
                 hidden_units: int = 0, encoder=None, word_vectors=None, random_state: int = 0):
        self.features = features
        self.C = C
        self.class_weight = class_weight
        self.threshold_folds = threshold_folds
        self.threshold_metric = threshold_metric
        self.max_features = max_features
        self.hidden_units = hidden_units
        self.encoder = encoder  # a pipeline.models.encoder.Encoder; loaded on first use when None
        # `tfidf_words`: a pipeline.models.word_vectors.WordVectors; built from the training texts when None
        self.word_vectors = word_vectors
        self.random_state = random_state

    # --- features --------------------------------------------------------------------------

    def _featurize(self, X, fitting: bool = False):
        if self.features not in FEATURES:
            raise UserError(f"features must be one of {', '.join(FEATURES)}, not {self.features!r}")
        if self.features == "encoder":
            if _is_texts(X) or isinstance(X, pd.DataFrame) and "embedding" in X:
                return self._vectors(X)
            # A matrix of vectors: checked as scikit-learn checks any numeric input.
            return validate_data(self, X, reset=fitting, dtype=np.float32)
        texts = X["text"].tolist() if isinstance(X, pd.DataFrame) else list(X)
        if fitting:
            self.vectorizer_ = _tfidf(self.max_features)
            ngrams = self.vectorizer_.fit_transform(texts)
            self._cached_ngrams = CachedCharNgrams(self.vectorizer_)
        else:
            if getattr(self, "_cached_ngrams", None) is None:
                self._cached_ngrams = CachedCharNgrams(self.vectorizer_)
            ngrams = self._cached_ngrams.transform(texts)
        if self.features == "tfidf":
            return ngrams
        if self.features == "tfidf_words":
            if fitting:
                self.word_vectors_ = self.word_vectors or WordVectors.build(texts, self._encoder())
            return hstack([ngrams, csr_matrix(self.word_vectors_.transform(texts))], format="csr")
        return hstack([ngrams, csr_matrix(self._vectors(X))], format="csr")

    def _vectors(self, X) -> np.ndarray:
        """The e5 vectors of X: given as an array or an `embedding` column, else embedded here."""
        if isinstance(X, np.ndarray) and X.ndim == 2:
            return X.astype(np.float32, copy=False)
        if isinstance(X, pd.DataFrame) and "embedding" in X:
            return np.stack(X["embedding"].to_numpy()).astype(np.float32, copy=False)
        return self._encoder().encode(X["text"].tolist() if isinstance(X, pd.DataFrame) else list(X))

    def _encoder(self):
        if self.encoder is None:
            from pipeline.models.encoder import Encoder
            self.encoder = Encoder()
        return self.encoder

    # --- estimator API -------------------------------------------------------------------------

    def fit(self, X, y, labels: list[str] | None = None, threshold_rows=None, threshold_groups=None,
            min_threshold_positives: int = 10, sample_weight=None, label_mask=None):
        """`y`: one list of label names per text (empty: none applies). `labels` fixes the
        label set and order (e.g. the whole taxonomy, some labels possibly unseen).

        `threshold_rows` (boolean mask): the rows whose out-of-fold scores tune the
        thresholds, e.g. the in-domain posts among news and encyclopedia sentences; a label
        with fewer than `min_threshold_positives` positives there is tuned on all rows.
        `threshold_groups`: one group per row (e.g. its language); a group with at least
        `min_threshold_positives` positives and as many negatives of a label gets its own
        threshold for it (`group_thresholds_`); other groups and labels keep the overall one.
        `sample_weight`: per-row weights, e.g. to keep one large source from dominating.
        `label_mask`: (rows, labels) booleans, False where a row says nothing about a label
        (its source does not annotate it: a SIB-200 sentence labelled politics is not thereby
        "not economic"). Such cells are left out of that label's head, the network's loss and
        the label's threshold, instead of counting as negatives. None: every row speaks for
        every label.
        """
        if self.threshold_metric not in THRESHOLD_METRICS:
            raise UserError(f"threshold_metric must be one of {', '.join(THRESHOLD_METRICS)}, "
                            f"not {self.threshold_metric!r}")
        if not isinstance(self.hidden_units, (int, np.integer)) or self.hidden_units < 0:
            raise UserError(f"hidden_units must be a whole number >= 0, not {self.hidden_units!r}")
        Y, self.classes_, self.multilabel_ = _indicator_targets(y, labels)
        features = self._featurize(X, fitting=True)
        check_consistent_length(features, Y)
        vectors = self._mlp_vectors(features)
        weights = None if sample_weight is None else _row_weights(sample_weight, len(Y))
        known = _label_mask(label_mask, Y.shape)
        self.coef_, self.intercept_ = self._fit_heads(features, Y, weights, known)
        self.mlp_ = self._fit_mlp(vectors, Y, weights, known)
        self.group_thresholds_ = {}
        if not self.multilabel_:  # exclusive classes: the most probable one, no threshold
            self.thresholds_ = np.full(Y.shape[1], 0.5)
            return self
        out_of_fold = self._out_of_fold_scores(features, vectors, Y, weights, known)
        chosen = np.ones(len(Y), bool) if threshold_rows is None else np.asarray(threshold_rows, bool)
        thresholds = []
        for j in range(Y.shape[1]):
            rows = known[:, j]
            if Y[rows & chosen, j].sum() >= min_threshold_positives:  # enough positives among the chosen rows
                rows = rows & chosen
            thresholds.append(_best_threshold(out_of_fold[rows, j], Y[rows, j], self.threshold_metric))
        self.thresholds_ = np.array(thresholds)
        if threshold_groups is not None:
            groups = np.asarray(threshold_groups, dtype=object)
            for group in sorted(set(groups[chosen]) - {None}):
                rows = chosen & (groups == group)
                positives = (Y[rows] & known[rows]).sum(axis=0)
                enough = np.minimum(positives, known[rows].sum(axis=0) - positives) >= min_threshold_positives
                if enough.any():
                    self.group_thresholds_[group] = np.array([
                        _best_threshold(out_of_fold[rows & known[:, j], j], Y[rows & known[:, j], j],
                                        self.threshold_metric) if enough[j]
                        else self.thresholds_[j] for j in range(Y.shape[1])])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Per label, the probability that it applies; for exclusive classes, normalised per row."""
        check_is_fitted(self)
        features = self._featurize(X)
        probabilities = _sigmoid(np.asarray(features @ self.coef_.T) + self.intercept_)
        if self.mlp_ is not None:
            probabilities = (probabilities + _mlp_proba(self.mlp_, self._mlp_vectors(features))) / 2
        if not self.multilabel_:
            probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities

    def predict(self, X, groups=None) -> np.ndarray:
        """The label-indicator matrix; `groups` (e.g. each text's language) picks each row's
        thresholds where the group has its own (`group_thresholds_`). For exclusive classes,
        each row's most probable class."""
        probabilities = self.predict_proba(X)
        if not self.multilabel_:
            return self.classes_[probabilities.argmax(axis=1)]
        return (probabilities >= self.row_thresholds(groups, len(probabilities))).astype(np.int8)

    def predict_labels(self, X, groups=None) -> list[list[str]]:
        if not self.multilabel_:
            return [[label] for label in self.predict(X)]
        return [list(self.classes_[row.astype(bool)]) for row in self.predict(X, groups)]

    def decision_scores(self, X, groups=None) -> np.ndarray:
        """Probabilities rescaled so that each label's threshold (its group's, with
        `groups`) sits at 0.5: comparable across labels, used to rank or to pick the best one."""
        return _rescale(self.predict_proba(X), self.row_thresholds(groups, len(X)))

    def row_thresholds(self, groups, rows: int) -> np.ndarray:
        """The thresholds that apply to each of `rows` rows: (rows, labels), or (labels,) for all alike."""
        own = self.group_thresholds_
        if groups is None or not own:
            return self.thresholds_
        if len(groups) != rows:
            raise ValueError(f"groups has {len(groups)} values for {rows} rows")
        return np.stack([own.get(group, self.thresholds_) for group in groups]) if rows else self.thresholds_

    # --- training details -------------------------------------------------------------------------

    def _fit_heads(self, features, Y, weights, known) -> tuple[np.ndarray, np.ndarray]:
        coef = np.zeros((Y.shape[1], features.shape[1]), np.float32)
        intercept = np.full(Y.shape[1], -20.0, np.float32)  # a label never seen: never predicted
        everywhere = known.all(axis=0)
        for j in range(Y.shape[1]):
            rows = slice(None) if everywhere[j] else known[:, j]  # a copy of the features only when needed
            target = Y[rows, j]
            if 0 < target.sum() < len(target):
                head = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)
                head.fit(features[rows], target, sample_weight=None if weights is None else weights[rows])
                coef[j], intercept[j] = head.coef_[0], head.intercept_[0]
        return coef, intercept

    def _mlp_vectors(self, features) -> np.ndarray | None:
        """The e5 vectors the network reads (None when it is not used): the features themselves,
        or the hybrid view's columns after the n-grams (not embedded a second time)."""
        if not self.hidden_units or self.features in TEXT_FEATURES:
            return None
        if self.features == "encoder":
            return features
        return features[:, len(self.vectorizer_.vocabulary_):].toarray().astype(np.float32, copy=False)

    def _fit_mlp(self, vectors, Y, weights, known) -> tuple[np.ndarray, ...] | None:
        if vectors is None:
            return None
        return _train_network(vectors, Y, known, weights, self.hidden_units, self.random_state)

    def _out_of_fold_scores(self, features, vectors, Y, weights, known) -> np.ndarray:
        scores = np.zeros(Y.shape, np.float32)
        folds = KFold(self.threshold_folds, shuffle=True, random_state=self.random_state)
        for train, held_out in folds.split(Y):
            fold_weights = None if weights is None else weights[train]
            coef, intercept = self._fit_heads(features[train], Y[train], fold_weights, known[train])
            scores[held_out] = _sigmoid(np.asarray(features[held_out] @ coef.T) + intercept)
            if vectors is not None:
                mlp = self._fit_mlp(vectors[train], Y[train], fold_weights, known[train])
                scores[held_out] = (scores[held_out] + _mlp_proba(mlp, vectors[held_out])) / 2
        return scores

    # --- persistence ----------------------------------------------------------------------------

    def save(self, folder: Path, metadata: dict | None = None) -> None:
        # n-gram weights are many and small: half precision halves the folder at no measurable cost
        arrays = {"coef": self.coef_.astype(np.float32 if self.features == "encoder" else np.float16),
                  "intercept": self.intercept_, "thresholds": self.thresholds_}
        if self.mlp_ is not None:
            arrays.update(zip(MLP_ARRAYS, self.mlp_))
        groups = sorted(self.group_thresholds_)
        if groups:
            arrays["group_thresholds"] = np.stack([self.group_thresholds_[group] for group in groups])
        description = {
            "format_version": FORMAT_VERSION, "estimator": "TextClassifier", "features": self.features,
            "labels": self.classes_.tolist(), "multilabel": self.multilabel_, "threshold_groups": groups,
            "params": {"C": self.C, "class_weight": self.class_weight, "max_features": self.max_features,
                       "threshold_metric": self.threshold_metric, "hidden_units": self.hidden_units},
            **(metadata or {}),
        }
        if self.features != "encoder":
            arrays["idf"] = self.vectorizer_.idf_.astype(np.float32)
            description["vocabulary"] = _vocabulary_list(self.vectorizer_)
        if self.features == "tfidf_words":
            arrays["word_vectors"], arrays["word_scales"] = self.word_vectors_.quantised()
            arrays["word_weights"] = self.word_vectors_.weights
            description["words"] = self.word_vectors_.vocabulary
        save_model_files(folder, description, arrays)

    @classmethod
    def load(cls, folder: Path, encoder=None) -> "TextClassifier":
        description, arrays = load_model_files(folder, "TextClassifier", FORMAT_VERSION)
        try:
            params = description["params"]
            model = cls(features=description["features"], C=params["C"], class_weight=params["class_weight"],
                        max_features=params["max_features"], encoder=encoder,
                        threshold_metric=params.get("threshold_metric", "f1"),  # models saved before it: f1
                        hidden_units=params.get("hidden_units", 0))
            model.classes_ = np.array(description["labels"], dtype=object)
            model.multilabel_ = description.get("multilabel", True)  # models saved before it: label lists
            model.coef_ = arrays["coef"].astype(np.float32)
            model.intercept_ = arrays["intercept"]
            model.thresholds_ = arrays["thresholds"]
            model.mlp_ = tuple(arrays[name] for name in MLP_ARRAYS) if MLP_ARRAYS[0] in arrays else None
            groups = description.get("threshold_groups", [])
            model.group_thresholds_ = dict(zip(groups, arrays["group_thresholds"])) if groups else {}
            model.metadata_ = {k: v for k, v in description.items() if k not in ("vocabulary", "words")}
            if model.features != "encoder":
                model.vectorizer_ = _tfidf(params["max_features"])
                model.vectorizer_.vocabulary_ = {term: i for i, term in enumerate(description["vocabulary"])}
                model.vectorizer_.idf_ = arrays["idf"].astype(np.float64)
            if model.features == "tfidf_words":
                model.word_vectors_ = WordVectors.from_quantised(description["words"], arrays["word_vectors"],
                                                                 arrays["word_scales"], arrays["word_weights"])
        except (KeyError, TypeError, ValueError) as exc:
            # A model.json from elsewhere whose weights match it: refused, not an internal error.
            raise UserError(f"cannot load text classifier from {folder}: missing or malformed {exc}")
        return model


def as_saved(model: TextClassifier) -> TextClassifier:
    """`model` saved and loaded back: what a user of its folder gets (n-gram weights in half
    precision, word vectors in int8), so that reports describe the shipped model, not the one
    in memory (a few decisions near a threshold differ)."""
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder))
        return TextClassifier.load(Path(folder), encoder=model.encoder)


def inputs_from_vectors(normalised_texts, vectors: np.ndarray, features: str):
    """What an `encoder` or `hybrid` classifier reads, given the texts' encoder vectors."""
    if features == "encoder":
        return vectors
    return pd.DataFrame({"text": list(normalised_texts), "embedding": list(vectors)})


def _is_texts(X) -> bool:
    """A list, Series or 1-D array of strings (not a matrix of numbers)."""
    if isinstance(X, pd.Series):
        return True
    if isinstance(X, np.ndarray):
        return X.ndim == 1 and X.dtype.kind in "OUS"
    return isinstance(X, (list, tuple)) and all(isinstance(x, str) for x in X)


def _is_label_lists(y) -> bool:
    """One list (tuple, set, array) of label names per row, some possibly empty."""
    if isinstance(y, np.ndarray) and y.dtype != object or isinstance(y, (str, pd.DataFrame)) or y is None:
        return False
    try:
        rows = list(y)
    except TypeError:
        return False
    return bool(rows) and all(isinstance(row, (list, tuple, set, np.ndarray)) and
                              all(isinstance(label, str) for label in row) for row in rows)


def _indicator_targets(y, labels) -> tuple[np.ndarray, np.ndarray, bool]:
    """The (rows, classes) indicator matrix of y, the classes, and whether several can hold at once.

    y: label lists; a label-indicator matrix; or one class per row (binary, multiclass)."""
    if _is_label_lists(y):
        binarizer = MultiLabelBinarizer(classes=labels) if labels else MultiLabelBinarizer()
        Y = binarizer.fit_transform(y)
        return Y, np.array(binarizer.classes_, dtype=object), True
    if y is None:
        raise ValueError("TextClassifier requires y to be passed, but the target y is None")
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if type_of_target(y) == "multilabel-indicator":
        classes = np.arange(y.shape[1]) if labels is None else np.asarray(labels, dtype=object)
        if len(classes) != y.shape[1]:
            raise ValueError(f"{len(classes)} labels given for an indicator matrix of {y.shape[1]} columns")
        return (y != 0).astype(np.int8), classes, True
    classes = np.unique(y) if labels is None else np.asarray(labels, dtype=object)
    if len(classes) < 2:
        raise ValueError("TextClassifier needs samples of at least 2 classes in the data, "
                         f"but the data contains only one class: {str(classes[0])!r}")
    Y = (y[:, None] == classes[None, :]).astype(np.int8)
    if not Y.any(axis=1).all():
        raise ValueError("y holds classes that are not among labels")
    return Y, classes, False


def _row_weights(sample_weight, rows: int) -> np.ndarray:
    weights = check_array(sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight")
    if weights.shape != (rows,):
        raise ValueError(f"sample_weight has shape {weights.shape}; expected one weight per row: ({rows},)")
    if (weights < 0).any() or not weights.any():
        raise ValueError("sample_weight must be >= 0 and not all zero")
    return weights


def _label_mask(label_mask, shape: tuple[int, int]) -> np.ndarray:
    if label_mask is None:
        return np.ones(shape, bool)
    known = np.asarray(label_mask)
    if known.shape != shape:
        raise ValueError(f"label_mask has shape {known.shape}; expected one value per row and label: {shape}")
    return known.astype(bool)


def _train_network(vectors: np.ndarray, Y: np.ndarray, known: np.ndarray, weights, hidden_units: int,
                   random_state: int) -> tuple[np.ndarray, ...]:
    """One hidden ReLU layer, a logistic output per label, trained with Adam on minibatches for
    a fixed budget of epochs (scikit-learn's MLPClassifier recipe: Glorot-uniform start, L2
    `MLP_ALPHA`, learning rate 1e-3), on the log-loss of the known (row, label) cells only,
    rows weighted by `weights`. Written here because MLPClassifier cannot leave cells out."""
    rng = np.random.default_rng(random_state)
    X = np.asarray(vectors, np.float32)
    rows, dimension = X.shape
    targets, cells = Y.astype(np.float32), known.astype(np.float32)
    if weights is not None:
        cells = cells * (weights / weights.mean()).astype(np.float32)[:, None]
    params = []
    for fan_in, fan_out in ((dimension, hidden_units), (hidden_units, Y.shape[1])):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        params += [rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
                   rng.uniform(-bound, bound, fan_out).astype(np.float32)]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    batch, step = min(MLP_BATCH, rows), 0
    for _ in range(MLP_EPOCHS):
        order = rng.permutation(rows)
        for start in range(0, rows, batch):
            chosen = order[start:start + batch]
            hidden_weights, hidden_bias, output_weights, output_bias = params
            x = X[chosen]
            hidden = np.maximum(x @ hidden_weights + hidden_bias, 0)
            output = _sigmoid(hidden @ output_weights + output_bias)
            # d(mean log-loss over the batch's rows)/d(logits), zero where a cell is unknown
            delta = (output - targets[chosen]) * cells[chosen] / len(chosen)
            delta_hidden = (delta @ output_weights.T) * (hidden > 0)
            gradients = (x.T @ delta_hidden + MLP_ALPHA * hidden_weights / len(chosen), delta_hidden.sum(axis=0),
                         hidden.T @ delta + MLP_ALPHA * output_weights / len(chosen), delta.sum(axis=0))
            step += 1
            rate = MLP_LEARNING_RATE * np.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
            for p, g, m, v in zip(params, gradients, moments, squares):
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                p -= rate * m / (np.sqrt(v) + 1e-8)
    return tuple(params)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _mlp_proba(mlp: tuple[np.ndarray, ...], vectors: np.ndarray) -> np.ndarray:
    """The network's probabilities (ReLU hidden layer, logistic outputs)."""
    hidden_weights, hidden_bias, output_weights, output_bias = mlp
    return _sigmoid(np.maximum(vectors @ hidden_weights + hidden_bias, 0) @ output_weights + output_bias)


def _tfidf(max_features: int) -> TfidfVectorizer:
    # Character n-grams inside word boundaries work across scripts (Arabic, CJK) without a
    # tokenizer per language; sublinear tf keeps long posts from dominating.
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, max_features=max_features,
                           sublinear_tf=True, lowercase=True, dtype=np.float32)


def _vocabulary_list(vectorizer: TfidfVectorizer) -> list[str]:
    terms = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    return terms


def _best_threshold(scores: np.ndarray, truth: np.ndarray, metric: str = "f1") -> float:
    """The probability cut that maximises F1 of one label (or, `macro_f1`, the mean of its F1
    and its complement's) on held-out scores."""
    positives = int(truth.sum())
    if positives == 0:
        return 1.0
    order = np.argsort(-scores)
    hits = np.cumsum(truth[order])
    predicted = np.arange(1, len(scores) + 1)
    f1 = 2 * hits / (predicted + positives)
    if metric == "macro_f1":
        negatives = len(scores) - positives
        correct_rejections = negatives - (predicted - hits)  # negatives below the cut
        f1 = (f1 + 2 * correct_rejections / np.maximum(len(scores) - predicted + negatives, 1)) / 2
    best = int(np.argmax(f1))
    return float(scores[order][best])


def _rescale(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Piecewise-linear map sending 0 -> 0, threshold -> 0.5, 1 -> 1, per label."""
    t = np.clip(thresholds, 1e-6, 1 - 1e-6)
    below = 0.5 * probabilities / t
    above = 0.5 + 0.5 * (probabilities - t) / (1 - t)
    return np.where(probabilities < t, below, above)
