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

Memory: flat in the archive's size. Each batch's counts per account and period (an account
code and period in one 64-bit key, and the count: 16 bytes) are spilled to disk as sorted runs
(`pipeline.spill.SortedRuns`) and come back at `finish` in key order, one account at a time;
only the accounts' codes stay in memory. Batches may come in any time order.
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
# A count's key: the account's code in the high 32 bits, its period (shifted to be positive:
# hours since 1970 fit 31 bits for 245,000 years either way) in the low 32.
_PERIOD_BITS = 32
_PERIOD_SHIFT = 1 << 31
_COUNT = np.dtype([("key", "<i8"), ("posts", "<i8")])


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
    """Feed every batch of posts to `update`, then call `finish` once.

    `work_dir`: where the counts are spilled (a private folder is made inside it and removed by
    `finish`); None: the system's temporary folder."""

    def __init__(self, settings: dict | None = None, work_dir=None):
        from pipeline.spill import SortedRuns, WorkFolder

        self.settings = settings_with_defaults(settings)
        self._accounts: dict[tuple, int] = {}  # (platform, account) -> code
        self._folder = WorkFolder(work_dir, prefix="burst-")
        self._counts = SortedRuns(self._folder.path, "counts", _COUNT, order=("key",))

    def update(self, posts: pd.DataFrame) -> None:
        platform = posts["platform"].astype(str)
        account = posts["account_handle"].fillna(posts["account_id"])
        period = _periods(posts["created_at"], self.settings["period"])
        known = (platform.notna() & account.notna() & period.notna()).to_numpy()
        if not known.any():
            return
        codes = np.fromiter((self._accounts.setdefault(key, len(self._accounts))
                             for key in zip(platform[known], account[known])), dtype=np.int64, count=int(known.sum()))
        keys = (codes << _PERIOD_BITS) | (period[known].to_numpy(dtype=np.int64) + _PERIOD_SHIFT)
        keys, counts = np.unique(keys, return_counts=True)
        records = np.empty(len(keys), dtype=_COUNT)
        records["key"], records["posts"] = keys, counts
        self._counts.append(records)

    def finish(self) -> BurstResult:
        try:
            return self._result()
        finally:
            self._folder.close()

    def _result(self) -> BurstResult:
        codes, active, judged = [], [], [_judged_frame().assign(code=pd.Series(dtype="int64"))]
        for code, periods, posts in self._account_counts():
            codes.append(code)
            active.append(len(periods))
            # Only accounts with a period of at least min_posts posts can have a burst.
            if posts.max() >= self.settings["min_posts"]:
                judged.append(self._judge(periods, posts).assign(code=code))
        codes, active = np.array(codes, dtype=np.int64), np.array(active, dtype=np.int64)
        names = list(self._accounts)
        judged = pd.concat(judged, ignore_index=True)
        judged["burst"] = judged["score"] >= self.settings["score_threshold"]
        judged["platform"] = pd.Series([names[c][0] for c in judged["code"]], index=judged.index, dtype=object)
        judged["account"] = pd.Series([names[c][1] for c in judged["code"]], index=judged.index, dtype=object)

        summary = judged.groupby("code").agg(burst_periods=("burst", "sum"), max_burst_score=("score", "max"))
        accounts = pd.DataFrame({"platform": [names[c][0] for c in codes], "account_handle": [names[c][1] for c in codes],
                                 "active_periods": active}, index=pd.Index(codes, name="code"))
        accounts = accounts.join(summary).fillna({"burst_periods": 0, "max_burst_score": 0.0}).reset_index()
        accounts = accounts[ACCOUNT_COLUMNS].astype(
            {"platform": "str", "account_handle": "str", "active_periods": "int64", "burst_periods": "int64",
             "max_burst_score": "float64"})

        periods = judged[judged["burst"]].rename(columns={"account": "account_handle"})
        periods["period_start"] = pd.to_datetime(periods["period"].to_numpy(dtype=np.int64)
                                                 * PERIOD_MICROS[self.settings["period"]], unit="us", utc=True)
        periods["reason"] = [self._reason(row) for row in periods.itertuples()]
        periods = periods[PERIOD_COLUMNS].astype({"platform": "str", "account_handle": "str", "reason": "str"})
        return BurstResult(periods.sort_values(["platform", "account_handle", "period_start"], ignore_index=True),
                           accounts.sort_values(["platform", "account_handle"], ignore_index=True))

    def _account_counts(self):
        """Each account's code, its periods (in time order) and its posts in each, from the
        spilled counts: they come back sorted by key, so by account, then period; a key counted
        in several batches is summed."""
        carry = np.empty(0, dtype=_COUNT)
        for block in self._counts.merged():
            block = np.concatenate([carry, block]) if len(carry) else block
            code = block["key"] >> _PERIOD_BITS
            complete = code != code[-1]  # the last account may go on in the next block
            yield from _per_account(block[complete])
            carry = block[~complete]
        yield from _per_account(carry)

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


def _per_account(records: np.ndarray):
    if not len(records):
        return
    keys, where = np.unique(records["key"], return_inverse=True)
    posts = np.bincount(where.ravel(), weights=records["posts"], minlength=len(keys)).astype(np.int64)
    code = keys >> _PERIOD_BITS
    periods = (keys & ((1 << _PERIOD_BITS) - 1)) - _PERIOD_SHIFT
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    for start, end in zip(starts, np.r_[starts[1:], len(code)]):
        yield int(code[start]), periods[start:end], posts[start:end]


def periods_by_key(periods: pd.DataFrame, settings: dict | None = None) -> pd.DataFrame:
    """`BurstResult.periods` (found with `settings`) indexed by (platform, account, period
    number), as `flag_posts` reads it: built once for a whole archive, for every batch."""
    period_micros = PERIOD_MICROS[settings_with_defaults(settings)["period"]]
    return periods.set_index([
        periods["platform"], periods["account_handle"],
        periods["period_start"].dt.tz_convert(None).to_numpy(dtype="datetime64[us]").astype(np.int64) // period_micros,
    ])


def flag_posts(posts: pd.DataFrame, by_key: pd.DataFrame, settings: dict | None = None) -> pd.DataFrame:
    """`burst_score`, `burst` and `burst_reason` for each row of `posts` (same index): those of
    its account's burst period in `periods_by_key(BurstResult.periods, settings)` (the same
    `settings`), else score 0, not a burst, no reason."""
    keys = pd.MultiIndex.from_arrays([
        posts["platform"].astype(str), posts["account_handle"].fillna(posts["account_id"]),
        _periods(posts["created_at"], settings_with_defaults(settings)["period"]),
    ])
    found = by_key.reindex(keys)
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


def _judged_frame() -> pd.DataFrame:
    return pd.DataFrame({"platform": pd.Series(dtype="str"), "account": pd.Series(dtype="str"),
                         "period": pd.Series(dtype="int64"), "posts": pd.Series(dtype="int64"),
                         "baseline": pd.Series(dtype="float64"), "deviations": pd.Series(dtype="float64"),
                         "history": pd.Series(dtype="int64"), "score": pd.Series(dtype="float64")})
