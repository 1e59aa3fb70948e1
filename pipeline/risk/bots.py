"""Bot-likeness of accounts (the `bot_like` flag) from their profile and, when posts are at
hand, their activity.

- `profile_features(profiles, activity)`: numeric features (`FEATURES`) from DESIGN.md's
  canonical profile columns (`account_id, handle, display_name, created_at, description,
  location, verified, protected, followers, following, posts_count, listed_count, has_url`,
  plus `observed_at`), and from the per-account table of `activity_features(posts)`. Data
  sets that publish only lengths (caverlee-2011) may give `handle_length` and
  `description_length` instead of the texts.
- `BotLikeClassifier`: an additive scorecard, i.e. a logistic regression over quantile bins
  of each feature. Each feature adds its own bin's weight to the logit, so a score splits
  exactly into per-feature contributions, which `explain` turns into a readable reason. Bins
  follow non-linear effects (a rate suspicious only at its extremes) about as well as
  gradient-boosted trees on caverlee-2011 (`python -m benchmarks bots` compares them), and
  the whole model is a few hundred numbers in JSON + NumPy.
- `score_accounts(profiles)`: the profiles with `bot_like_score`, `bot_like`,
  `bot_like_reason`, from the shipped model in `models/bot-like/` by default.
- `train_bot_model(data)`: retrains that model on caverlee-2011 over `TRAINING_FEATURES`
  (see its model card for the figures and the data's limits).

Missing values. A feature whose inputs are absent or unparseable is *unknown*; the model
puts an unknown feature in the bin of the median legitimate (human) training account, so
that a lack of information is never evidence of automation and an account with no known
feature scores like a typical human. Within a column that is present, an empty or null
`description` or `location` is an empty one (the platforms return null for "none"); an
unparseable number, timestamp or boolean is unknown, and so is a negative count.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split

import pipeline
from pipeline.errors import UserError
from pipeline.models.store import load_model_files, save_model_files
from pipeline.ingest.dates import parse_datetimes

FORMAT_VERSION = 1
MODEL_NAME = "bot-like"
DEFAULT_MODEL_DIR = Path(pipeline.__file__).resolve().parents[1] / "models" / MODEL_NAME

ACTIVITY_COLUMNS = ("activity_posts", "interval_cv", "repost_share", "source_count", "night_share",
                    "posts_per_active_day")
# Posts at 00:00-05:59 UTC. UTC, not local time: the posts carry no time zone.
NIGHT_HOURS_UTC = 6
# Fewer gaps than this say nothing about regularity.
MIN_INTERVALS = 2

# Feature name -> how its value reads in a reason.
FEATURE_TEXT = {
    "account_age_days": lambda v: f"account {_number(v)} days old",
    "followers": lambda v: f"{_number(v)} followers",
    "following": lambda v: f"follows {_number(v)} accounts",
    "following_per_follower": lambda v: f"following/followers {_number(v)}",
    "posts_count": lambda v: f"{_number(v)} posts",
    "posts_per_day": lambda v: f"{_number(v)} posts/day of age",
    "following_per_day": lambda v: f"follows {_number(v)} accounts/day of age",
    "listed_per_follower": lambda v: f"listed {v:.3f} times per follower",
    "verified": lambda v: "verified" if v else "not verified",
    "protected": lambda v: "protected" if v else "not protected",
    "has_url": lambda v: "profile URL" if v else "no profile URL",
    "has_location": lambda v: "location given" if v else "no location",
    "description_length": lambda v: f"description of {_number(v)} characters" if v else "empty description",
    "default_profile": lambda v: "default-looking profile (no description, no URL)" if v else "customised profile",
    "handle_length": lambda v: f"handle of {_number(v)} characters",
    "handle_digits": lambda v: f"{_number(v)} digits in handle",
    "handle_entropy": lambda v: f"handle entropy {v:.2f} bits/character",
    "display_name_similarity": lambda v: f"display name vs handle similarity {v:.2f}",
    "activity_posts": lambda v: f"{_number(v)} posts in the archive",
    "interval_cv": lambda v: f"posting-interval variation {v:.2f}",
    "repost_share": lambda v: f"{v:.0%} reposts",
    "source_count": lambda v: f"{_number(v)} posting sources",
    "night_share": lambda v: f"{v:.0%} of posts at 00-06 UTC",
    "posts_per_active_day": lambda v: f"{_number(v)} posts per active day",
}
FEATURES = tuple(FEATURE_TEXT)

# Which canonical columns each feature reads, for error messages.
FEATURE_INPUTS = {
    "account_age_days": ("created_at", "observed_at"), "followers": ("followers",), "following": ("following",),
    "following_per_follower": ("following", "followers"), "posts_count": ("posts_count",),
    "posts_per_day": ("posts_count", "created_at"), "following_per_day": ("following", "created_at"),
    "listed_per_follower": ("listed_count", "followers"), "verified": ("verified",), "protected": ("protected",),
    "has_url": ("has_url",), "has_location": ("location",), "description_length": ("description",),
    "default_profile": ("description", "has_url"), "handle_length": ("handle",), "handle_digits": ("handle",),
    "handle_entropy": ("handle",), "display_name_similarity": ("display_name", "handle"),
    **{name: ("posts (activity)",) for name in ACTIVITY_COLUMNS},
}


# --- features ------------------------------------------------------------------------------------

def activity_features(posts: pd.DataFrame) -> pd.DataFrame:
    """One row per account of canonical posts (`account_id` or `account_handle`, `created_at`;
    `is_repost`, `platform` and a client `source` column when present).

    `interval_cv`: standard deviation / mean of the gaps between consecutive posts (0 is
    machine-regular; needs 3 posts). `source_count`: distinct (platform, source) pairs.
    `night_share`: share of posts at 00:00-05:59 UTC. `posts_per_active_day`: posts per UTC
    day with at least one post. `last_post_at` serves as the observation time when the
    profiles give none. For an archive fed in batches, `ActivityAccumulator` gives the same
    table with memory flat in the archive's size.
    """
    return _activity_table(_activity_rows(posts)).reset_index(drop=True)


def _activity_rows(posts: pd.DataFrame) -> pd.DataFrame:
    """The posts as `_activity_table` reads them, one row each (posts without an account or a
    time left out); each row depends on its post alone."""
    if "created_at" not in posts.columns or not ({"account_id", "account_handle"} & set(posts.columns)):
        raise UserError("posts need `created_at` and `account_id` or `account_handle` to describe activity")
    # Batches concatenated by the caller repeat index labels; positions are all that matter here.
    posts = posts.reset_index(drop=True)
    ids = _text_column(posts, "account_id")
    handles = _text_column(posts, "account_handle").str.lstrip("@").str.casefold()
    created, _ = parse_datetimes(posts["created_at"])
    table = pd.DataFrame({
        "account_id": ids, "handle": handles,
        # An account is its id where known, else its handle.
        "key": ids.where(ids.notna(), "@" + handles),
        "created_at": created,
        "is_repost": _flag_column(posts, "is_repost"),
        "source": (_text_column(posts, "platform").fillna("") + "|" + _text_column(posts, "source").fillna(""))
        if {"platform", "source"} & set(posts.columns) else None,
    })
    return table[table["key"].notna() & table["created_at"].notna()].reset_index(drop=True)


def _activity_table(table: pd.DataFrame) -> pd.DataFrame:
    """The activity features of the rows of `_activity_rows` (in the order the posts came),
    one row per account, indexed by account key in order."""
    if table.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype=object), "handle": pd.Series(dtype=object),
                             **{name: pd.Series(dtype=float) for name in ACTIVITY_COLUMNS},
                             "last_post_at": pd.Series(dtype="datetime64[us, UTC]")})
    table = table.sort_values(["key", "created_at"])
    table["gap"] = table.groupby("key")["created_at"].diff().dt.total_seconds()
    table["night"] = (table["created_at"].dt.hour < NIGHT_HOURS_UTC).astype(float)
    table["day"] = table["created_at"].dt.floor("D")
    groups = table.groupby("key", sort=True)
    gap_mean, gap_count = groups["gap"].mean(), groups["gap"].count()
    # All posts in the same second: as regular as it gets.
    cv = (groups["gap"].std(ddof=0) / gap_mean).where(gap_mean > 0, 0.0).where(gap_count >= MIN_INTERVALS)
    counts = groups.size()
    return pd.DataFrame({
        "account_id": groups["account_id"].first(),
        "handle": groups["handle"].first(),
        "activity_posts": counts.astype(float),
        "interval_cv": cv,
        "repost_share": groups["is_repost"].mean(),
        "source_count": groups["source"].nunique().astype(float) if table["source"].notna().any() else np.nan,
        "night_share": groups["night"].mean(),
        "posts_per_active_day": counts / groups["day"].nunique(),
        "last_post_at": groups["created_at"].max(),
    })


class ActivityAccumulator:
    """`activity_features` of an archive fed batch by batch (`update`, then `finish` once),
    with memory flat in the archive's size.

    Each post is spilled as a 40-byte record (account, handle, time, repost flag, source, as
    codes: the strings are kept once each) to a private work folder (`pipeline.spill`), in
    buckets by account; `finish` reads one bucket at a time, so every account's posts are
    together, in the order they came, and computes its rows exactly as `activity_features`.
    `work_dir`: where that folder is made (None: the system's temporary folder)."""

    _RECORD = np.dtype([("key", "<i8"), ("handle", "<i8"), ("micros", "<i8"), ("is_repost", "<f8"),
                        ("source", "<i8")])
    _BUCKETS = 64

    def __init__(self, work_dir=None):
        from pipeline.spill import RecordBuckets, WorkFolder

        self._folder = WorkFolder(work_dir, prefix="activity-")
        self._records = RecordBuckets(self._folder.path, "activity", self._RECORD, buckets=self._BUCKETS)
        # Strings by code: account keys, handles, sources (-1: none); one entry per distinct value.
        self._codes: dict[str, dict] = {"key": {}, "handle": {}, "source": {}}
        self._ids: dict[int, str] = {}  # key code -> account id, for accounts keyed by it
        self._posts = 0

    def update(self, posts: pd.DataFrame) -> None:
        self._posts += len(posts)
        rows = _activity_rows(posts)
        if rows.empty:
            return
        records = np.empty(len(rows), dtype=self._RECORD)
        for name in ("key", "handle", "source"):
            records[name] = self._intern(name, rows[name])
        for code, account_id in zip(records["key"][rows["account_id"].notna().to_numpy()].tolist(),
                                    rows["account_id"].dropna()):
            self._ids.setdefault(code, account_id)
        records["micros"] = rows["created_at"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        records["is_repost"] = rows["is_repost"].to_numpy(dtype=float)
        self._records.append(records, records["key"] % self._BUCKETS)

    def finish(self) -> pd.DataFrame | None:
        """The `activity_features` of every post fed; None when none was."""
        try:
            if not self._posts:
                return None
            strings = {name: np.array([None, *codes], dtype=object) for name, codes in self._codes.items()}
            ids = np.array([self._ids.get(code) for code in range(len(self._codes["key"]))], dtype=object)
            tables = [_activity_table(pd.DataFrame({
                "account_id": pd.Series(ids[records["key"]], dtype=object),
                "handle": pd.Series(strings["handle"][records["handle"] + 1], dtype=object),
                "key": pd.Series(strings["key"][records["key"] + 1], dtype=object),
                "created_at": pd.to_datetime(records["micros"], unit="us", utc=True),
                "is_repost": records["is_repost"],
                "source": pd.Series(strings["source"][records["source"] + 1], dtype=object),
            })) for records in self._records]
            if not tables:
                return _activity_table(pd.DataFrame()).reset_index(drop=True)
            return pd.concat(tables).sort_index().reset_index(drop=True)
        finally:
            self._folder.close()

    def _intern(self, name: str, values: pd.Series) -> np.ndarray:
        codes = self._codes[name]
        return np.fromiter((-1 if value is None or value != value else codes.setdefault(value, len(codes))
                            for value in values), dtype=np.int64, count=len(values))


def profile_features(profiles: pd.DataFrame, activity: pd.DataFrame | None = None,
                     observed_at=None) -> pd.DataFrame:
    """The features in `FEATURES`, one row per profile (same index); NaN where unknown.

    Account age is taken at the observation time: the row's `observed_at` column when
    present, else the `observed_at` argument, else the latest post in `activity` (a lower
    bound: ages come out short when the data was observed long after). Never the clock of
    the machine that runs this; without any of these, age and per-day rates are unknown.
    The newest `created_at` is not used: it would make the newest account 0 days old.

    `activity`: the table of `activity_features(posts)`; rows match profiles by
    `account_id`, else by handle (case-insensitive). Activity columns already in `profiles`
    are read as they are.
    """
    index = profiles.index
    # Positions, not labels, from here on: a profile table may repeat index labels.
    profiles = profiles.reset_index(drop=True)
    latest_post = None
    if activity is not None:
        profiles = _with_activity(profiles, activity)
        latest_post = activity["last_post_at"].max() if len(activity) else None
    followers = _count_column(profiles, "followers")
    following = _count_column(profiles, "following")
    posts = _count_column(profiles, "posts_count")
    listed = _count_column(profiles, "listed_count")
    created = _time_column(profiles, "created_at")
    observed = _time_column(profiles, "observed_at")
    for fallback in (observed_at, latest_post):
        if fallback is not None and not pd.isna(fallback):
            observed = observed.fillna(_utc(fallback))
    age = (observed - created).dt.total_seconds() / 86400
    age = age.where(age >= 0)
    # Rates per day of age: a day at least, so a brand-new account does not divide by zero.
    days = age.clip(lower=1)

    handle = _text_column(profiles, "handle").str.strip().str.lstrip("@")
    handle = handle.where(handle != "")
    description = _present_text(profiles, "description")
    location = _present_text(profiles, "location")
    has_url = _flag_column(profiles, "has_url")
    description_length = (description.str.strip().str.len() if "description" in profiles
                          else _count_column(profiles, "description_length")).astype(float)
    features = pd.DataFrame({
        "account_age_days": age,
        "followers": followers,
        "following": following,
        "following_per_follower": following / followers.clip(lower=1),
        "posts_count": posts,
        "posts_per_day": posts / days,
        "following_per_day": following / days,
        "listed_per_follower": listed / followers.clip(lower=1),
        "verified": _flag_column(profiles, "verified"),
        "protected": _flag_column(profiles, "protected"),
        "has_url": has_url,
        "has_location": (location.str.strip() != "").astype(float).where(location.notna()),
        "description_length": description_length,
        "default_profile": ((description_length == 0) & (has_url == 0)).astype(float)
        .where(description_length.notna() & has_url.notna()),
        "handle_length": (handle.str.len() if "handle" in profiles
                          else _count_column(profiles, "handle_length")).astype(float),
        "handle_digits": handle.str.count(r"\d").astype(float),
        "handle_entropy": handle.map(_entropy, na_action="ignore").astype(float),
        "display_name_similarity": _name_similarity(_text_column(profiles, "display_name"), handle),
    })
    for column in ACTIVITY_COLUMNS:
        features[column] = pd.to_numeric(profiles[column], errors="coerce") if column in profiles else np.nan
    features = features[list(FEATURES)].astype(float)
    features.index = index
    return features


def _with_activity(profiles: pd.DataFrame, activity: pd.DataFrame) -> pd.DataFrame:
    """`profiles` with the activity columns of the matching account (NaN: no posts)."""
    ids = _text_column(profiles, "account_id")
    handles = _text_column(profiles, "handle").str.strip().str.lstrip("@").str.casefold()
    by_id = activity[activity["account_id"].notna()].drop_duplicates("account_id").set_index("account_id")
    by_handle = activity[activity["handle"].notna()].drop_duplicates("handle").set_index("handle")
    matched = by_id[list(ACTIVITY_COLUMNS)].reindex(ids.to_numpy()).to_numpy(float, copy=True)
    from_handle = by_handle[list(ACTIVITY_COLUMNS)].reindex(handles.to_numpy()).to_numpy(float)
    unmatched = np.isnan(matched[:, 0])
    matched[unmatched] = from_handle[unmatched]
    return profiles.assign(**{name: matched[:, j] for j, name in enumerate(ACTIVITY_COLUMNS)})


def _utc(moment) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _time_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    return parse_datetimes(frame[name])[0]


def _text_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    column = frame[name]
    return column.where(column.isna(), column.astype(str)).astype(object)


def _present_text(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column that is there: null is an empty text. A column that is not: unknown."""
    return _text_column(frame, name).fillna("") if name in frame else _text_column(frame, name)


def _count_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index)
    counts = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return counts.where(counts >= 0)


_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}


def _flag_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index)
    text = frame[name].map(lambda v: str(v).strip().casefold(), na_action="ignore")
    return pd.Series(np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan)), index=frame.index)


def _entropy(text: str) -> float:
    """Shannon entropy of the characters, in bits per character."""
    counts = Counter(text.casefold())
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0


def _name_similarity(names: pd.Series, handles: pd.Series) -> pd.Series:
    """0..1 resemblance of display name and handle, letters and digits only, case-folded
    (a name in another script than its handle scores 0)."""
    def squeeze(text):
        return "".join(ch for ch in str(text).casefold() if ch.isalnum())

    return pd.Series([SequenceMatcher(None, squeeze(n), squeeze(h)).ratio()
                      if isinstance(n, str) and isinstance(h, str) and squeeze(n) and squeeze(h) else np.nan
                      for n, h in zip(names, handles)], index=names.index, dtype=float)


def _number(value: float) -> str:
    """3,100 / 45.2 / 0.04: as many digits as a reader needs."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --- the estimator -----------------------------------------------------------------------------------

class BotLikeClassifier(ClassifierMixin, BaseEstimator):
    """Additive scorecard over profile features: `fit(profiles, is_bot)`,
    `predict_proba(profiles)`, `explain(profiles)`.

    `X` is a table of account profiles (canonical columns); `fit`, `predict*` and `explain`
    take an optional `activity` table (`activity_features(posts)`) and `observed_at`.
    A feature is used when it is known for at least `min_known` of the training accounts
    and takes two values or more; the others are ignored at prediction time.
    """

    def __init__(self, n_bins: int = 10, C: float = 1.0, threshold: float = 0.5, min_known: float = 0.5,
                 features: tuple[str, ...] | None = None):
        self.n_bins = n_bins
        self.C = C
        self.threshold = threshold
        self.min_known = min_known
        self.features = features

    def fit(self, X, y, activity=None, observed_at=None):
        table = profile_features(_as_profiles(X), activity, observed_at)
        truth = np.asarray(y).astype(bool)
        if len(truth) != len(table) or truth.all() or not truth.any():
            raise UserError("bot-likeness training needs one label per account and both classes")
        candidates = self.features or FEATURES
        unknown = set(candidates) - set(FEATURES)
        if unknown:
            raise UserError(f"unknown bot-likeness features {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(FEATURES)})")
        known = table[list(candidates)].notna().mean()
        self.feature_names_ = [name for name in candidates
                               if known[name] >= self.min_known and table[name].nunique() > 1]
        if not self.feature_names_:
            raise UserError(f"no profile feature is known for {self.min_known:.0%} of the training accounts")
        # Training accounts with a feature unknown get the reference too, as at prediction time.
        humans = table.loc[~truth, self.feature_names_]
        self.reference_ = humans.median().fillna(table[self.feature_names_].median()).to_numpy()
        quantiles = np.linspace(0, 1, self.n_bins + 1)[1:-1]
        self.edges_ = [np.unique(np.nanquantile(table[name].to_numpy(), quantiles, method="higher"))
                       for name in self.feature_names_]
        design = self._design(self._bins(table))
        head = LogisticRegression(C=self.C, max_iter=5000).fit(design, truth)
        offsets = np.cumsum([0] + [len(e) + 1 for e in self.edges_])
        self.bin_weights_ = [head.coef_[0, start:stop] for start, stop in zip(offsets[:-1], offsets[1:])]
        self.intercept_ = float(head.intercept_[0])
        self.classes_ = np.array([False, True])
        return self

    # --- scoring ---------------------------------------------------------------------------------------

    def _bins(self, table: pd.DataFrame) -> np.ndarray:
        """Bin of each used feature per account; unknown values take the reference's bin."""
        values = table[self.feature_names_].to_numpy(float)
        values = np.where(np.isnan(values), self.reference_, values)
        # Right-closed bins, so a frequent lowest value (0 followers, empty description) is a bin of its own.
        return np.column_stack([np.searchsorted(edges, values[:, j], side="left")
                                for j, edges in enumerate(self.edges_)])

    def _design(self, bins: np.ndarray) -> np.ndarray:
        blocks = [np.eye(len(edges) + 1)[bins[:, j]] for j, edges in enumerate(self.edges_)]
        return np.hstack(blocks)

    def _contributions(self, table: pd.DataFrame) -> tuple[float, np.ndarray]:
        """The logit of a reference account, and each feature's push away from it."""
        bins = self._bins(table)
        reference_bins = self._bins(pd.DataFrame([self.reference_], columns=self.feature_names_))[0]
        weights = np.column_stack([w[bins[:, j]] for j, w in enumerate(self.bin_weights_)])
        reference = np.array([w[b] for w, b in zip(self.bin_weights_, reference_bins)])
        return self.intercept_ + float(reference.sum()), weights - reference

    def _table(self, X, activity, observed_at) -> pd.DataFrame:
        return profile_features(_as_profiles(X), activity, observed_at)

    def decision_function(self, X, activity=None, observed_at=None) -> np.ndarray:
        base, contributions = self._contributions(self._table(X, activity, observed_at))
        return base + contributions.sum(axis=1)

    def predict_proba(self, X, activity=None, observed_at=None) -> np.ndarray:
        probability = _sigmoid(self.decision_function(X, activity, observed_at))
        return np.column_stack([1 - probability, probability])

    def predict(self, X, activity=None, observed_at=None) -> np.ndarray:
        return self.predict_proba(X, activity, observed_at)[:, 1] >= self.threshold

    def explain(self, X, top: int = 3, activity=None, observed_at=None) -> pd.Series:
        """Per account, the `top` features that push its score up most, as one string
        ("following/followers 45.2; 3,100 posts/day of age; empty description"), and how
        many features were known when some were not."""
        table = self._table(X, activity, observed_at)
        return pd.Series(self._reasons(table, self._contributions(table)[1], top), index=table.index)

    def _reasons(self, table: pd.DataFrame, contributions: np.ndarray, top: int) -> list[str]:
        values = table[self.feature_names_].to_numpy(float)
        known = ~np.isnan(values)
        reasons = []
        for row in range(len(table)):
            order = [j for j in np.argsort(-contributions[row], kind="stable")[:top] if contributions[row, j] > 0]
            parts = [FEATURE_TEXT[self.feature_names_[j]](values[row, j]) for j in order]
            reason = "; ".join(parts) or "no bot-like signal"
            if not known[row].all():
                reason += f" ({known[row].sum()} of {len(self.feature_names_)} features known)"
            reasons.append(reason)
        return reasons

    # --- persistence -------------------------------------------------------------------------------------

    def save(self, folder: Path, metadata: dict | None = None) -> None:
        arrays = {}
        for name, edges, weights in zip(self.feature_names_, self.edges_, self.bin_weights_):
            arrays[f"edges.{name}"] = edges
            arrays[f"weights.{name}"] = weights
        description = {
            "format_version": FORMAT_VERSION, "estimator": "BotLikeClassifier",
            "params": {"n_bins": self.n_bins, "C": self.C, "threshold": self.threshold, "min_known": self.min_known,
                       "features": None if self.features is None else list(self.features)},
            "features": self.feature_names_,
            "reference": dict(zip(self.feature_names_, map(float, self.reference_))),
            "intercept": self.intercept_,
            **(metadata or {}),
        }
        save_model_files(folder, description, arrays)

    @classmethod
    def load(cls, folder: Path) -> "BotLikeClassifier":
        description, arrays = load_model_files(folder, cls.__name__, FORMAT_VERSION)
        try:
            unknown = set(description["features"]) - set(FEATURES)
            if unknown:
                raise ValueError(f"unknown features {', '.join(sorted(unknown))}")
            params = description["params"]
            model = cls(**{**params, "features": None if params["features"] is None else tuple(params["features"])})
            model.feature_names_ = list(description["features"])
            model.reference_ = np.array([description["reference"][name] for name in model.feature_names_])
            model.edges_ = [arrays[f"edges.{name}"] for name in model.feature_names_]
            model.bin_weights_ = [arrays[f"weights.{name}"] for name in model.feature_names_]
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"cannot load bot-likeness model from {folder}: {exc}")
        model.intercept_ = float(description["intercept"])
        model.classes_ = np.array([False, True])
        model.metadata_ = {k: v for k, v in description.items() if k not in ("features", "reference", "intercept")}
        return model


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _as_profiles(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise UserError(f"account profiles must be a pandas DataFrame, not {type(X).__name__}")
    return X


def load_model(name: str | Path | None = None) -> BotLikeClassifier:
    """A model folder, the name of one under the repository's `models/`, or the shipped
    model (`models/bot-like/`) when `name` is None; loaded once per process."""
    from pipeline.models import load

    model = load(str(name or DEFAULT_MODEL_DIR))
    if not isinstance(model, BotLikeClassifier):
        raise UserError(f"{name} is a {type(model).__name__}, not a bot-likeness model")
    return model


# --- the stage ----------------------------------------------------------------------------------------------

def score_accounts(profiles: pd.DataFrame, model: BotLikeClassifier | str | Path | None = None,
                   threshold: float | None = None, activity: pd.DataFrame | None = None,
                   observed_at=None) -> pd.DataFrame:
    """`profiles` with `bot_like_score` (0..1), `bot_like` (score >= threshold, by default the
    model's) and `bot_like_reason` (the features that raise the score most).

    `model`: a fitted `BotLikeClassifier` or a model folder; default the shipped model.
    `activity` and `observed_at`: see `profile_features`.
    """
    profiles = _as_profiles(profiles)
    if profiles.empty:
        raise UserError("no account profiles to score: the table is empty")
    scorer = model if isinstance(model, BotLikeClassifier) else load_model(model)
    table = profile_features(profiles, activity, observed_at)
    if not table[scorer.feature_names_].notna().to_numpy().any():
        present = ", ".join(map(str, profiles.columns)) or "none"
        raise UserError(f"account profiles carry nothing the bot-likeness model reads (it needs some of "
                        f"{', '.join(_inputs_of(scorer.feature_names_))}; the table has: {present})")
    base, contributions = scorer._contributions(table)
    scores = _sigmoid(base + contributions.sum(axis=1))
    cut = scorer.threshold if threshold is None else threshold
    return profiles.assign(bot_like_score=scores, bot_like=scores >= cut,
                           bot_like_reason=scorer._reasons(table, contributions, top=3))


def _inputs_of(features: list[str]) -> list[str]:
    return list(dict.fromkeys(column for name in features for column in FEATURE_INPUTS[name]))


# --- training on caverlee-2011 -----------------------------------------------------------------------------

CAVERLEE_FOLDER = "caverlee2011_social_honeypot_accounts"
CAVERLEE_FILE = "caverlee2011_accounts.csv"
SPLIT_SEED = 20251128
SPLIT_SHARES = (0.70, 0.15, 0.15)  # train, dev, test
GRID = {"n_bins": (5, 10, 20), "C": (0.1, 1.0, 10.0)}
# Raw audience sizes stay out of the trained model: caverlee's polluters (follow-back spam) had
# larger audiences than its legitimate users, so large counts would read as bot-like, and
# official accounts have the largest audiences of all. The following/followers ratio and the
# per-day rates keep the signal without the scale, for 0.4 point of dev accuracy.
TRAINING_FEATURES = tuple(name for name in FEATURES if name not in ("followers", "following"))


def caverlee_path(data: str | Path) -> Path:
    """The caverlee-2011 CSV: `data` itself, or inside it, or inside its caverlee folder."""
    data = Path(data)
    for path in (data, data / CAVERLEE_FILE, data / CAVERLEE_FOLDER / CAVERLEE_FILE):
        if path.is_file():
            return path
    raise UserError(f"caverlee-2011 accounts not found at {data} (expected {CAVERLEE_FOLDER}/{CAVERLEE_FILE})")


def load_caverlee(data: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """caverlee-2011 accounts as canonical profiles (`observed_at` = collection time; handle
    and description as lengths only), and `is_bot` (content polluter).

    The 44 user ids labelled both polluter and legitimate are dropped: neither label can be
    trusted. `user_id`, `created_at` and `collected_at` themselves are never features: the two
    classes were collected at different times (legitimate users Nov 2009, polluters
    Dec 2009-Aug 2010), so absolute dates and ids (assigned in creation order) tell the
    classes apart by how the set was made, not by what the accounts do.
    """
    raw = pd.read_csv(caverlee_path(data), dtype={"user_id": str})
    conflicting = raw["user_id"].duplicated(keep=False) & (raw.groupby("user_id")["label"].transform("nunique") > 1)
    raw = raw[~conflicting].drop_duplicates("user_id").reset_index(drop=True)
    profiles = pd.DataFrame({
        "account_id": raw["user_id"], "created_at": raw["created_at"], "observed_at": raw["collected_at"],
        "followers": raw["number_of_followers"], "following": raw["number_of_followings"],
        "posts_count": raw["number_of_tweets"], "handle_length": raw["length_of_screen_name"],
        "description_length": raw["length_of_description"],
    })
    return profiles, (raw["label"] == "content_polluter").rename("is_bot")


def split_caverlee(profiles: pd.DataFrame, is_bot: pd.Series, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Row positions of train, dev and test: stratified by label, fixed seed."""
    positions = np.arange(len(profiles))
    rest, test = train_test_split(positions, test_size=SPLIT_SHARES[2], stratify=is_bot, random_state=seed)
    train, dev = train_test_split(rest, test_size=SPLIT_SHARES[1] / (1 - SPLIT_SHARES[2]),
                                  stratify=is_bot.iloc[rest], random_state=seed)
    return {"train": train, "dev": dev, "test": test}


def classification_figures(truth, scores, threshold: float) -> dict:
    """Accuracy, and precision / recall / F1 of the bot class, at `threshold`; ROC AUC."""
    truth = np.asarray(truth, bool)
    predicted = np.asarray(scores) >= threshold
    return {"n": len(truth), "accuracy": round(accuracy_score(truth, predicted), 4),
            "bot_precision": round(precision_score(truth, predicted, zero_division=0), 4),
            "bot_recall": round(recall_score(truth, predicted, zero_division=0), 4),
            "bot_f1": round(f1_score(truth, predicted, zero_division=0), 4),
            "roc_auc": round(roc_auc_score(truth, scores), 4),
            "false_positive_rate": round(float(predicted[~truth].mean()), 4)}


def train_bot_model(data: str | Path, seed: int = SPLIT_SEED,
                    features: tuple[str, ...] = TRAINING_FEATURES) -> tuple[BotLikeClassifier, dict]:
    """Train the bot-likeness model on caverlee-2011 (`data`: the shared data folder, the
    caverlee folder or its CSV) and measure it.

    Bins and regularisation are chosen on dev by log loss; the threshold is the dev cut
    with the best bot F1; the model is fitted on train only and measured once on test.
    Returns the model and a report (split sizes, dev choices, test figures).
    """
    profiles, is_bot = load_caverlee(data)
    split = split_caverlee(profiles, is_bot, seed)
    train, dev, test = (profiles.iloc[split[name]] for name in ("train", "dev", "test"))
    y_train, y_dev, y_test = (is_bot.iloc[split[name]].to_numpy() for name in ("train", "dev", "test"))

    candidates = []
    for n_bins in GRID["n_bins"]:
        for C in GRID["C"]:
            model = BotLikeClassifier(n_bins=n_bins, C=C, features=features).fit(train, y_train)
            candidates.append((log_loss(y_dev, model.predict_proba(dev)[:, 1]), n_bins, C, model))
    loss, n_bins, C, model = min(candidates, key=lambda c: c[0])
    dev_scores = model.predict_proba(dev)[:, 1]
    model.set_params(threshold=best_f1_threshold(y_dev, dev_scores))
    test_scores = model.predict_proba(test)[:, 1]
    report = {
        "data": {"source": "caverlee-2011 (Lee, Eoff & Caverlee, ICWSM 2011)", "accounts": len(profiles),
                 "bots": int(is_bot.sum()), "split_seed": seed,
                 "split": {name: len(rows) for name, rows in split.items()}},
        "selection": {"grid": {k: list(v) for k, v in GRID.items()}, "n_bins": n_bins, "C": C,
                      "dev_log_loss": round(loss, 4), "threshold": round(model.threshold, 4)},
        "features": model.feature_names_,
        "dev": classification_figures(y_dev, dev_scores, model.threshold),
        "test": classification_figures(y_test, test_scores, model.threshold),
        "trained_on": date.today().isoformat(),
    }
    return model, report


_TRUE, _FALSE = {"true", "1", "yes", "1.0"}, {"false", "0", "no", "0.0"}  # is_bot as written by people and pandas


def read_labelled_profiles(path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """Account profiles (canonical columns) and their `is_bot` labels (true/false, 1/0,
    yes/no) from a CSV, JSON lines or Parquet file, for `diplolens evaluate bot_like`."""
    from pipeline.topics.training import read_table_file

    table = read_table_file(Path(path), "labelled profiles")
    if "is_bot" not in table.columns:
        raise UserError(f"{path}: labelled profiles need an is_bot column (true/false)")
    words = table["is_bot"].astype(str).str.strip().str.lower()
    unreadable = ~words.isin(_TRUE | _FALSE)
    if unreadable.any():
        raise UserError(f"{path}: is_bot must be true/false, 1/0 or yes/no; row {int(unreadable.idxmax()) + 1} "
                        f"has {table['is_bot'][unreadable].iloc[0]!r}")
    return table.drop(columns="is_bot"), words.isin(_TRUE).rename("is_bot")


def bot_report(model: BotLikeClassifier, profiles: pd.DataFrame, is_bot: pd.Series) -> dict:
    """The model's figures on labelled profiles at its own threshold (`classification_figures`)."""
    truth = np.asarray(is_bot, bool)
    if truth.all() or not truth.any():
        raise UserError("evaluating bot-likeness needs accounts of both kinds (is_bot true and false)")
    scores = model.predict_proba(profiles)[:, 1]
    return {"model": model.metadata_.get("name") if hasattr(model, "metadata_") else None,
            "threshold": round(float(model.threshold), 4), **classification_figures(truth, scores, model.threshold)}


def format_bot_report(report: dict) -> str:
    return (f"{report['n']:,} accounts, threshold {report['threshold']}: bot F1 {report['bot_f1']:.3f} "
            f"(precision {report['bot_precision']:.3f}, recall {report['bot_recall']:.3f}), accuracy "
            f"{report['accuracy']:.3f}, ROC AUC {report['roc_auc']:.3f}, others flagged "
            f"{report['false_positive_rate']:.1%}")


def best_f1_threshold(truth, scores) -> float:
    """The score cut that maximises F1 of the bot class."""
    truth = np.asarray(truth, bool)
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.cumsum(truth[order])
    f1 = 2 * hits / (np.arange(1, len(truth) + 1) + truth.sum())
    return float(np.asarray(scores)[order][int(np.argmax(f1))])
