"""Burst: an account posting far more than usual for it in one day (or hour) (`burst`).

`update` counts each account's posts per period (UTC day or hour); `finish` judges each period
with at least `min_posts` posts against the account's own baseline: the median of its previous
`baseline_periods` periods, silent periods included (counted from the account's first post).
The spread is the median absolute deviation (x 1.4826, the normal-consistent scale), but at
least the Poisson standard deviation sqrt(median) and at least 1, so that a steady account's
ordinary day-to-day noise and a median of 0 do not turn every busier day into a burst.

  z = (posts - median) / spread;  score = 1 - 2^(-z / deviations)  (0 when z <= 0)

so the score is 0.5 at `deviations` robust deviations and 0.75 at twice that. A period is a
burst when score >= `score_threshold`; it needs `min_history` periods of history to be judged.
An account is its `account_handle`, else its `account_id` (as in `pipeline.metrics`); posts
with neither, or without `created_at`, are not counted.

Memory: one count per account and active period (never per post); batches may come in any
time order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from pipeline.config import with_defaults
from pipeline.errors import UserError

DEFAULTS = {
    "period": "day",            # day | hour, in UTC
    "baseline_periods": 28,     # the baseline looks this many periods back
    "min_history": 7,           # periods since the account's first post needed to judge one
    "min_posts": 10,            # a period with fewer posts is never a burst
    "deviations": 5.0,          # robust deviations above the baseline that score 0.5
    "score_threshold": 0.5,
}

PERIOD_MICROS = {"day": 86_400_000_000, "hour": 3_600_000_000}
PERIOD_COLUMNS = ["platform", "account_handle", "period_start", "posts", "baseline", "score", "reason"]
ACCOUNT_COLUMNS = ["platform", "account_handle", "active_periods", "burst_periods", "max_burst_score"]
# Scale that makes the median absolute deviation estimate a normal standard deviation.
_MAD_SCALE = 1.4826
# Counts are merged into one table when the pending parts outgrow it (amortised: each count
# is re-aggregated O(log n) times), never below this many rows.
_MIN_COMPACTION_ROWS = 100_000


@dataclass
class BurstResult:
    """`periods`: a row per burst period (PERIOD_COLUMNS); `accounts`: a row per account seen
    (ACCOUNT_COLUMNS; max_burst_score over its judged periods, 0 when none was judged)."""

    periods: pd.DataFrame
    accounts: pd.DataFrame


def settings_with_defaults(settings: dict | None) -> dict:
    merged = with_defaults(settings, DEFAULTS, "burst")
    if merged["period"] not in PERIOD_MICROS:
        raise UserError(f"burst period must be {' or '.join(PERIOD_MICROS)}, not {merged['period']!r}")
    return merged


class BurstDetector:
    """Feed every batch of posts to `update`, then call `finish` once."""

    def __init__(self, settings: dict | None = None):
        self.settings = settings_with_defaults(settings)
        self._counts = _empty_counts()
        self._pending: list[pd.DataFrame] = []
        self._pending_rows = 0

    def update(self, posts: pd.DataFrame) -> None:
        frame = pd.DataFrame({"platform": posts["platform"].astype(str),
                              "account": posts["account_handle"].fillna(posts["account_id"]),
                              "period": _periods(posts["created_at"], self.settings["period"])})
        frame = frame.dropna()
        counts = frame.groupby(["platform", "account", "period"]).size().rename("posts").reset_index()
        self._pending.append(counts)
        self._pending_rows += len(counts)
        if self._pending_rows > max(len(self._counts), _MIN_COMPACTION_ROWS):
            self._compact()

    def finish(self) -> BurstResult:
        self._compact()
        counts = self._counts
        accounts = counts.groupby(["platform", "account"]).agg(active_periods=("period", "size"),
                                                               busiest=("posts", "max"))
        # Only accounts with a period of at least min_posts posts can have a burst.
        busy = accounts.index[accounts["busiest"] >= self.settings["min_posts"]]
        busy_counts = counts.set_index(["platform", "account"]).loc[busy].reset_index()
        judged = [self._judge(group["period"].to_numpy(dtype=np.int64), group["posts"].to_numpy())
                  .assign(platform=platform, account=account)
                  for (platform, account), group in busy_counts.groupby(["platform", "account"])]
        judged = pd.concat([_judged_frame(), *judged], ignore_index=True)
        judged["burst"] = judged["score"] >= self.settings["score_threshold"]

        summary = judged.groupby(["platform", "account"]).agg(burst_periods=("burst", "sum"),
                                                              max_burst_score=("score", "max"))
        accounts = accounts.join(summary).fillna({"burst_periods": 0, "max_burst_score": 0.0}).reset_index()
        accounts = accounts.rename(columns={"account": "account_handle"})[ACCOUNT_COLUMNS].astype(
            {"platform": "str", "account_handle": "str", "active_periods": "int64", "burst_periods": "int64",
             "max_burst_score": "float64"})

        periods = judged[judged["burst"]].rename(columns={"account": "account_handle"})
        periods["period_start"] = pd.to_datetime(periods["period"].to_numpy(dtype=np.int64)
                                                 * PERIOD_MICROS[self.settings["period"]], unit="us", utc=True)
        periods["reason"] = [self._reason(row) for row in periods.itertuples()]
        periods = periods[PERIOD_COLUMNS].astype({"platform": "str", "account_handle": "str", "reason": "str"})
        return BurstResult(periods.sort_values(["platform", "account_handle", "period_start"], ignore_index=True),
                           accounts.sort_values(["platform", "account_handle"], ignore_index=True))

    def _compact(self) -> None:
        merged = pd.concat([self._counts, *self._pending], ignore_index=True)
        self._counts = merged.groupby(["platform", "account", "period"], as_index=False)["posts"].sum()
        self._pending, self._pending_rows = [], 0

    def _judge(self, periods: np.ndarray, posts: np.ndarray) -> pd.DataFrame:
        """Baseline, deviations and score of this account's periods with at least `min_posts`
        posts and `min_history` periods of history (`periods` sorted, without gaps filled)."""
        settings = self.settings
        span = int(periods[-1] - periods[0]) + 1
        candidates = np.flatnonzero(posts >= settings["min_posts"])
        positions = periods[candidates] - periods[0]  # = periods of history before it
        enough = positions >= settings["min_history"]
        candidates, positions = candidates[enough], positions[enough]
        if not len(candidates):
            return _judged_frame()
        # Silent periods count: fill the account's span, then look back over it.
        dense = np.zeros(span)
        dense[periods - periods[0]] = posts
        lookback = settings["baseline_periods"]
        padded = np.concatenate([np.full(lookback, np.nan), dense])
        windows = sliding_window_view(padded, lookback)[positions]  # row i: dense[i - lookback : i]
        median = np.nanmedian(windows, axis=1)
        mad = np.nanmedian(np.abs(windows - median[:, None]), axis=1)
        spread = np.maximum.reduce([_MAD_SCALE * mad, np.sqrt(median), np.ones_like(median)])
        deviations = (posts[candidates] - median) / spread
        score = np.where(deviations > 0, 1.0 - 2.0 ** (-deviations / settings["deviations"]), 0.0)
        return pd.DataFrame({"period": periods[candidates], "posts": posts[candidates].astype(np.int64),
                             "baseline": median, "deviations": deviations,
                             "history": np.minimum(positions, lookback), "score": score})

    def _reason(self, row) -> str:
        unit = self.settings["period"]
        when = row.period_start.strftime("%Y-%m-%d" if unit == "day" else "%Y-%m-%d %H:00")
        return (f"{row.posts} posts on {when} (UTC), {row.deviations:.1f} robust deviations above the "
                f"account's median of {row.baseline:g} per {unit} over the previous {row.history} {unit}s")


def flag_posts(posts: pd.DataFrame, periods: pd.DataFrame, settings: dict | None = None) -> pd.DataFrame:
    """`burst_score`, `burst` and `burst_reason` for each row of `posts` (same index): those of
    its account's burst period in `BurstResult.periods` (found with the same `settings`), else
    score 0, not a burst, no reason."""
    settings = settings_with_defaults(settings)
    period_micros = PERIOD_MICROS[settings["period"]]
    keys = pd.MultiIndex.from_arrays([
        posts["platform"].astype(str), posts["account_handle"].fillna(posts["account_id"]),
        _periods(posts["created_at"], settings["period"]),
    ])
    by_period = periods.set_index([
        periods["platform"], periods["account_handle"],
        periods["period_start"].dt.tz_convert(None).to_numpy(dtype="datetime64[us]").astype(np.int64) // period_micros,
    ])
    found = by_period.reindex(keys)
    return pd.DataFrame({
        "burst_score": found["score"].fillna(0.0).to_numpy(dtype=float),
        "burst": found["score"].notna().to_numpy(),
        "burst_reason": found["reason"].fillna("").to_numpy(dtype=object),
    }, index=posts.index).astype({"burst_reason": "str"})


def _periods(created_at: pd.Series, period: str) -> pd.Series:
    """Period number since the epoch (UTC) of each time; missing times stay missing."""
    times = pd.to_datetime(created_at, utc=True).dt.tz_convert(None)
    micros = pd.Series(times.to_numpy(dtype="datetime64[us]").astype(np.int64), index=created_at.index)
    return (micros // PERIOD_MICROS[period]).where(times.notna()).astype("Int64")


def _empty_counts() -> pd.DataFrame:
    return pd.DataFrame({"platform": pd.Series(dtype="str"), "account": pd.Series(dtype="str"),
                         "period": pd.Series(dtype="Int64"), "posts": pd.Series(dtype="int64")})


def _judged_frame() -> pd.DataFrame:
    return pd.DataFrame({"platform": pd.Series(dtype="str"), "account": pd.Series(dtype="str"),
                         "period": pd.Series(dtype="int64"), "posts": pd.Series(dtype="int64"),
                         "baseline": pd.Series(dtype="float64"), "deviations": pd.Series(dtype="float64"),
                         "history": pd.Series(dtype="int64"), "score": pd.Series(dtype="float64")})
