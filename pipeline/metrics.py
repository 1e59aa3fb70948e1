"""Metrics: per-account and per-actor measures, accumulated batch by batch.

Memory grows with the number of accounts (times their periods, and the days they span, a byte
a day), never with the number of posts, so an archive larger than memory aggregates in one
pass. Every formula is one function below and one line of the README's data dictionary, with
its denominator; `_measures` applies them to an account's or an actor's counts.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.errors import UserError

ENGAGEMENT = ("likes", "reposts", "replies", "quotes")
PERIODS = {"month": "M", "quarter": "Q", "year": "Y"}
CRITERIA = ("presence", "interaction", "follow_up", "specialization")
SENSITIVITY_FACTORS = (0.8, 1.2)  # each weight moved by -20 % and +20 %


class _ActiveDays:
    """The UTC days (numbered from 1970-01-01) with at least one post: a flag per day of the
    account's span so far, one byte each (about 1.5 KB for four years), however many posts."""

    __slots__ = ("first", "flags")

    def __init__(self):
        self.first = 0
        self.flags = np.zeros(0, dtype=bool)

    def add(self, days: np.ndarray) -> None:
        if not len(days):
            return
        low, high = int(days.min()), int(days.max())
        if not len(self.flags):
            self.first, self.flags = low, np.zeros(high - low + 1, dtype=bool)
        elif low < self.first or high >= self.first + len(self.flags):
            first = min(low, self.first)
            flags = np.zeros(max(high, self.first + len(self.flags) - 1) - first + 1, dtype=bool)
            flags[self.first - first:self.first - first + len(self.flags)] = self.flags
            self.first, self.flags = first, flags
        self.flags[days - self.first] = True

    def __len__(self) -> int:
        return int(np.count_nonzero(self.flags))


@dataclass
class _AccountState:
    platform: str
    handle: str | None
    period: str | None = None
    account_id: str | None = None
    actor: str | None = None
    actor_type: str | None = None
    country: str | None = None
    posts: int = 0
    originals: int = 0
    replies_made: int = 0
    reposts_made: int = 0
    quotes_made: int = 0
    with_engagement: int = 0  # posts where at least one engagement count is known
    engagement: dict = field(default_factory=lambda: dict.fromkeys(ENGAGEMENT + ("views",), 0))
    reported: dict = field(default_factory=lambda: dict.fromkeys(ENGAGEMENT + ("views",), 0))
    original_reposts: int = 0  # reposts received by the account's original posts
    originals_with_reposts: int = 0  # original posts that report a repost count
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    followers: int | None = None  # at the latest post that reports it
    followers_at: pd.Timestamp | None = None
    days: _ActiveDays = field(default_factory=_ActiveDays)
    languages: Counter = field(default_factory=Counter)
    topics: Counter = field(default_factory=Counter)
    formats: Counter = field(default_factory=Counter)
    format_first: dict = field(default_factory=dict)
    risk_checked: int = 0  # posts whose risk flags were counted
    risk_flags: Counter = field(default_factory=Counter)


def check_period(period: str | None) -> str | None:
    """`metrics.period` / `--period`: "" or None for no period tables."""
    if period in (None, ""):
        return None
    if period not in PERIODS:
        raise UserError(f"config: metrics.period must be '', {', '.join(map(repr, PERIODS))}; got {period!r}")
    return period


class AccountMetrics:
    """Streams batches of enriched posts into per-account state; `account_table()` gives the results.

    With a `period`, the state is keyed by (account, calendar period) instead, and each row of
    the table is one account in one period.
    """

    def __init__(self, min_language_share: float = 0.02, period: str | None = None):
        self.min_language_share = min_language_share
        self.period = check_period(period)
        self.accounts: dict[tuple[str, str, str | None], _AccountState] = {}

    def _grouped(self, posts: pd.DataFrame) -> tuple[pd.DataFrame, list[_AccountState]]:
        """The posts with `_group`, the number of their state in the list returned beside them
        (one per account, or per account and period, in order of first appearance)."""
        key = posts["account_handle"].fillna(posts["account_id"]).fillna("(unknown)")
        period = None
        if self.period:
            # Periods are UTC calendar periods; an undated post has none.
            stamps = posts["created_at"].dt.tz_convert(None).dt.to_period(PERIODS[self.period])
            period = stamps.astype(str).where(stamps.notna(), None)
        frame = posts.assign(_key=key, _period=period)
        frame["_group"] = frame.groupby(["platform", "_key", "_period"], sort=False, dropna=False).ngroup()
        labels = frame.drop_duplicates("_group").sort_values("_group")
        states = [self._state(platform, handle, None if pd.isna(period) else period)
                  for platform, handle, period in zip(labels["platform"], labels["_key"], labels["_period"])]
        return frame, states

    def _state(self, platform: str, handle: str, period: str | None) -> _AccountState:
        state = self.accounts.get((platform, handle, period))
        if state is None:
            state = self.accounts[(platform, handle, period)] = _AccountState(platform, handle, period)
        return state

    def update(self, posts: pd.DataFrame) -> None:
        """Add a batch of posts to their accounts' state: one grouped aggregation per measure
        over the whole batch (a batch of a time-ordered archive holds hundreds of accounts)."""
        if posts.empty:
            return
        frame, states = self._grouped(posts)
        original = ~frame["is_reply"] & ~frame["is_repost"]
        counts = pd.DataFrame({
            "_group": frame["_group"], "posts": 1,
            "replies_made": frame["is_reply"], "reposts_made": frame["is_repost"], "quotes_made": frame["is_quote"],
            "originals": original,
            "original_reposts": frame["reposts"].fillna(0).astype("int64").where(original, 0),
            "originals_with_reposts": original & frame["reposts"].notna(),
            "with_engagement": frame[list(ENGAGEMENT)].notna().any(axis=1),
            **{f"engagement_{name}": frame[name].fillna(0).astype("int64") for name in ENGAGEMENT + ("views",)},
            **{f"reported_{name}": frame[name].notna() for name in ENGAGEMENT + ("views",)},
        }).groupby("_group").sum()
        sums = {name: counts[name].to_numpy() for name in counts}  # groups 0, 1, ...: each has posts
        by_group = frame.groupby("_group")
        identity = by_group[["account_id", "actor", "actor_type", "country"]].first()
        identity = {name: identity[name].tolist() for name in identity}
        first, last = by_group["created_at"].min().tolist(), by_group["created_at"].max().tolist()

        for group, state in enumerate(states):
            for name, known in identity.items():
                if getattr(state, name) is None and pd.notna(known[group]):
                    setattr(state, name, known[group])
            for name in ("posts", "replies_made", "reposts_made", "quotes_made", "originals", "original_reposts",
                         "originals_with_reposts", "with_engagement"):
                setattr(state, name, getattr(state, name) + int(sums[name][group]))
            for name in state.engagement:
                state.engagement[name] += int(sums[f"engagement_{name}"][group])
                state.reported[name] += int(sums[f"reported_{name}"][group])
            if pd.notna(first[group]):
                state.first = first[group] if state.first is None else min(state.first, first[group])
                state.last = last[group] if state.last is None else max(state.last, last[group])

        dated = frame.loc[frame["created_at"].notna(), ["_group", "created_at"]]
        days = dated["created_at"].dt.floor("D").to_numpy(dtype="datetime64[D]").astype(np.int64)
        for group, group_days in _split_by_group(dated["_group"].to_numpy(), days):
            states[group].days.add(group_days)
        # The latest post that reports followers (undated ones last, as the account's latest).
        latest = (frame.loc[frame["followers"].notna(), ["_group", "created_at", "followers"]]
                  .sort_values(["_group", "created_at"], kind="stable").drop_duplicates("_group", keep="last"))
        for group, when, followers in zip(latest["_group"], latest["created_at"], latest["followers"]):
            state = states[group]
            if state.followers_at is None or pd.isna(when) or when >= state.followers_at:
                state.followers, state.followers_at = int(followers), when
        if "lang" in frame:
            _count_per_group(states, "languages", frame["_group"], frame["lang"])
        if "topics" in frame:
            labels = frame[["_group", "topics"]].explode("topics").dropna(subset=["topics"])
            _count_per_group(states, "topics", labels["_group"], labels["topics"])
        if "media_type" in frame:
            media = frame.loc[frame["media_type"].notna(), ["_group", "media_type", "created_at"]]
            _count_per_group(states, "formats", media["_group"], media["media_type"])
            earliest = media.groupby(["_group", "media_type"], sort=False)["created_at"].min()
            for (group, kind), when in earliest.items():
                format_first = states[group].format_first
                if kind not in format_first or (pd.notna(when) and when < format_first[kind]):
                    format_first[kind] = when

    def count_risk_flags(self, posts: pd.DataFrame) -> None:
        """Count each risk flag once the posts carry all of them (after the archive-wide pass)."""
        if posts.empty or "risk_flags" not in posts:
            return
        frame, states = self._grouped(posts)
        for group, checked in frame.groupby("_group").size().items():
            states[group].risk_checked += int(checked)
        # A flag counts once per post, even if two detectors raised it.
        flags = frame["risk_flags"].map(lambda raised: list(dict.fromkeys(raised)))
        flags = pd.DataFrame({"_group": frame["_group"], "flag": flags}).explode("flag").dropna(subset=["flag"])
        _count_per_group(states, "risk_flags", flags["_group"], flags["flag"])

    def account_table(self) -> pd.DataFrame:
        rows = [_account_row(state, self.min_language_share) for state in self.accounts.values()]
        columns = ACCOUNT_COLUMNS if self.period is None else ["period", *ACCOUNT_COLUMNS]
        table = pd.DataFrame(rows, columns=columns)
        by = ["actor", "platform", "account_handle"] + (["period"] if self.period else [])
        return _with_recency(table.sort_values(by, na_position="last").reset_index(drop=True))


def _split_by_group(groups: np.ndarray, values: np.ndarray):
    """(group, its values) for each group present, from two aligned arrays."""
    if not len(groups):
        return []
    order = np.argsort(groups, kind="stable")
    groups, values = groups[order], values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    return zip(groups[starts].tolist(), np.split(values, starts[1:]))


def _count_per_group(states: list[_AccountState], counter: str, groups: pd.Series, values: pd.Series) -> None:
    """Add the count of each value, per group, to that group's state's Counter `counter`
    (values in order of first appearance, as Counter.update would add them)."""
    sizes = pd.DataFrame({"group": groups.to_numpy(), "value": values.to_numpy()}).groupby(
        ["group", "value"], sort=False, dropna=False).size()
    for (group, value), n in sizes.items():
        getattr(states[group], counter)[value] += int(n)


# --- One function per measure (see the README's data dictionary). ---

def _ratio(numerator, denominator) -> float | None:
    return numerator / denominator if denominator else None


def production(posts: int, span_days: int | None) -> float | None:
    """GSMI production, over the span of observed posts (account age is rarely exported): posts per week."""
    return _ratio(posts, span_days / 7) if span_days else None


def contribution(original_posts: int, posts: int) -> float | None:
    """GSMI contribution: original posts (neither reply nor repost) / all posts."""
    return _ratio(original_posts, posts)


def responsiveness(replies_made: int, original_posts: int) -> float | None:
    """GSMI responsiveness: replies made / original posts."""
    return _ratio(replies_made, original_posts)


def reception(original_reposts: int, originals_with_reposts: int) -> float | None:
    """GSMI reception: reposts received by original posts / original posts that report reposts."""
    return _ratio(original_reposts, originals_with_reposts)


def interactions_per_post(interactions: int, posts_with_engagement: int) -> float | None:
    """Twiplomacy: (likes + reposts + replies + quotes) / posts reporting engagement."""
    return _ratio(interactions, posts_with_engagement)


def message_efficiency(likes: int, reposts: int, posts_with_engagement: int) -> float | None:
    """DDI message efficiency: (likes + reposts) / posts reporting engagement."""
    return _ratio(likes + reposts, posts_with_engagement)


def engagement_per_1k_followers(interactions: int, posts_with_engagement: int, followers: int | None) -> float | None:
    """Interactions per post per 1,000 followers; null where followers are unknown (or zero)."""
    per_post = interactions_per_post(interactions, posts_with_engagement)
    return per_post / followers * 1000 if per_post is not None and followers else None


def reply_share(replies_made: int, posts: int) -> float | None:
    """Twiplomacy's "most conversational": replies made / posts."""
    return _ratio(replies_made, posts)


def recency_days(last_post: pd.Timestamp, latest_post: pd.Timestamp) -> float | None:
    """Days (fractional) from the account's last post to the latest post of the whole table."""
    if pd.isna(last_post) or pd.isna(latest_post):
        return None
    return (latest_post - last_post).total_seconds() / 86400


def shannon_evenness(topic_counts: dict | None, n_categories: int) -> float | None:
    """Shannon entropy of the issue mix over ln(number of categories): 0 = one issue, 1 = all equally."""
    counts = [n for n in (topic_counts or {}).values() if n]
    total = sum(counts)
    if not total or n_categories < 2:
        return None
    return sum(n / total * math.log(total / n) for n in counts) / math.log(n_categories)


def gini_simpson(topic_counts: dict | None) -> float | None:
    """1 - sum of squared issue shares: the chance that two issue labels drawn at random differ."""
    counts = [n for n in (topic_counts or {}).values() if n]
    total = sum(counts)
    return 1 - sum((n / total) ** 2 for n in counts) if total else None


def categories_above(topic_counts: dict | None, posts: int, min_share: float) -> int:
    """Issues found in at least `min_share` of the posts."""
    return sum(1 for n in (topic_counts or {}).values() if n and posts and n / posts >= min_share)


def non_political_share(topic_counts: dict | None, political: list[str]) -> float | None:
    """Share of issue labels outside the `political` categories (soft-power topics)."""
    counts = {label: n for label, n in (topic_counts or {}).items() if n}
    total = sum(counts.values())
    return _ratio(sum(n for label, n in counts.items() if label not in political), total)


def activity_trend(posts_per_period: pd.Series) -> float | None:
    """Least-squares slope of posts per period (posts per period, per period), from the account's
    first to its last active period; periods without posts in between count as 0."""
    if len(posts_per_period) < 2:
        return None
    return float(np.polyfit(np.arange(len(posts_per_period)), posts_per_period.to_numpy(float), 1)[0])


def _measures(c: dict) -> dict:
    """The ratio measures from an account's or an actor's counts."""
    interactions = sum(c[name] or 0 for name in ENGAGEMENT)
    return {
        "posts_per_day": _ratio(c["posts"], c["span_days"]),
        "posts_per_week_of_span": production(c["posts"], c["span_days"]),
        "contribution": contribution(c["original_posts"], c["posts"]),
        "responsiveness": responsiveness(c["replies_made"], c["original_posts"]),
        "reply_share": reply_share(c["replies_made"], c["posts"]),
        "interactions_per_post": interactions_per_post(interactions, c["posts_with_engagement"]),
        "message_efficiency": message_efficiency(c["likes"] or 0, c["reposts"] or 0, c["posts_with_engagement"]),
        "reception": reception(c["original_reposts"], c["originals_with_reposts"]),
        "format_shares": {kind: n / c["posts"] for kind, n in c["format_counts"].items()} or None,
        "n_formats": len(c["format_counts"]),
        "risk_flag_shares": ({flag: n / c["risk_checked_posts"] for flag, n in c["risk_flag_counts"].items()}
                             or None),
    }


def _span_days(first: pd.Timestamp | None, last: pd.Timestamp | None) -> int | None:
    return (last.normalize() - first.normalize()).days + 1 if pd.notna(first) and pd.notna(last) else None


ACCOUNT_COLUMNS = [
    "platform", "account_handle", "account_id", "actor", "actor_type", "country",
    "posts", "original_posts", "replies_made", "reposts_made", "quotes_made",
    "first_post", "last_post", "span_days", "active_days", "active_day_share", "posts_per_day",
    "posts_per_week_of_span", "recency_days",
    "languages", "n_languages", "lang_shares", "main_lang", "main_lang_share",
    "likes", "reposts", "replies", "quotes", "views", "posts_with_engagement",
    "interactions_per_post", "message_efficiency", "original_reposts", "originals_with_reposts", "reception",
    "followers", "engagement_per_1k_followers",
    "reply_share", "contribution", "responsiveness",
    "format_counts", "format_shares", "n_formats", "format_first_used",
    "topic_counts", "topic_shares", "main_topic",
    "risk_checked_posts", "risk_flag_counts", "risk_flag_shares",
]


def _account_row(state: _AccountState, min_language_share: float) -> dict:
    span = _span_days(state.first, state.last)
    detected = Counter({k: v for k, v in state.languages.items() if k != "und"})
    total_detected = sum(detected.values())
    main_lang, main_count = detected.most_common(1)[0] if detected else (None, 0)
    # A language "used" by the account, not a stray misdetection of one short post.
    used = [code for code, n in detected.most_common() if n / total_detected >= min_language_share]
    # A count no post reported (views on most platforms) is unknown, not zero.
    engagement = {name: state.engagement[name] if state.reported[name] else None for name in ENGAGEMENT + ("views",)}
    counts = {
        "posts": state.posts, "original_posts": state.originals, "replies_made": state.replies_made,
        "span_days": span, "posts_with_engagement": state.with_engagement, **engagement,
        "original_reposts": state.original_reposts, "originals_with_reposts": state.originals_with_reposts,
        "format_counts": dict(state.formats.most_common()),
        "risk_checked_posts": state.risk_checked, "risk_flag_counts": dict(state.risk_flags.most_common()),
    }
    interactions = sum(state.engagement[name] for name in ENGAGEMENT)
    return {
        "period": state.period,
        "platform": state.platform,
        "account_handle": state.handle,
        "account_id": state.account_id,
        "actor": state.actor,
        "actor_type": state.actor_type,
        "country": state.country,
        "reposts_made": state.reposts_made,
        "quotes_made": state.quotes_made,
        "first_post": state.first,
        "last_post": state.last,
        "active_days": len(state.days),
        "active_day_share": len(state.days) / span if span else None,
        "languages": used,
        "n_languages": len(used),
        "lang_shares": {code: n / total_detected for code, n in detected.most_common()} or None,
        "main_lang": main_lang,
        "main_lang_share": main_count / total_detected if total_detected else None,
        **counts,
        **_measures(counts),
        "followers": state.followers,
        "engagement_per_1k_followers": engagement_per_1k_followers(interactions, state.with_engagement,
                                                                   state.followers),
        "format_counts": counts["format_counts"] or None,
        "format_first_used": dict(sorted(state.format_first.items(), key=lambda kv: str(kv[1]))) or None,
        # Share of the account's posts about each issue (a post may be about several).
        "topic_counts": dict(state.topics.most_common()) or None,
        "topic_shares": {label: n / state.posts for label, n in state.topics.most_common()} or None,
        "main_topic": state.topics.most_common(1)[0][0] if state.topics else None,
        "risk_flag_counts": counts["risk_flag_counts"] or None,
    }


def _with_recency(table: pd.DataFrame) -> pd.DataFrame:
    # The reference is the table's latest post: the archive's, or the period's in period tables.
    latest = (table.groupby("period")["last_post"].transform("max") if "period" in table
              else pd.Series(table["last_post"].max(), index=table.index))
    table["recency_days"] = [recency_days(last, ref) for last, ref in zip(table["last_post"], latest)]
    return table


def activity_trends(period_accounts: pd.DataFrame, period: str) -> pd.DataFrame:
    """`activity_trend` per account from the accounts-by-period table."""
    rows = []
    dated = period_accounts.dropna(subset=["period"])
    for (platform, handle), group in dated.groupby(["platform", "account_handle"], sort=False):
        posts = group.set_index(pd.PeriodIndex(group["period"], freq=PERIODS[period]))["posts"]
        span = pd.period_range(posts.index.min(), posts.index.max(), freq=PERIODS[period])
        rows.append({"platform": platform, "account_handle": handle,
                     "activity_trend": activity_trend(posts.groupby(level=0).sum().reindex(span, fill_value=0))})
    return pd.DataFrame(rows, columns=["platform", "account_handle", "activity_trend"])


def with_specialization(table: pd.DataFrame, n_categories: int, min_share: float,
                        political: list[str]) -> pd.DataFrame:
    """Add the specialization measures, computed from `topic_counts` (accounts or actors)."""
    counts = table["topic_counts"].map(lambda c: {k: v for k, v in c.items() if v} if isinstance(c, dict) else None)
    table = table.copy()
    table["topic_evenness"] = [shannon_evenness(c, n_categories) for c in counts]
    table["topic_gini_simpson"] = [gini_simpson(c) for c in counts]
    table["categories_above_min_share"] = [categories_above(c, p, min_share) for c, p in zip(counts, table["posts"])]
    table["non_political_share"] = [non_political_share(c, political) for c in counts]
    return table


def _sum_counts(dicts) -> dict:
    total = Counter()
    for counts in dicts:
        if isinstance(counts, dict):
            total.update({k: v for k, v in counts.items() if v})
    return dict(total.most_common())


def actor_table(accounts: pd.DataFrame) -> pd.DataFrame:
    """Accounts grouped by actor (country or organisation), and by period in the period table;
    accounts with no actor are left out."""
    by = ["actor", "period"] if "period" in accounts else ["actor"]
    rows = []
    for key, group in accounts.dropna(subset=["actor"]).groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        languages = sorted(set(code for codes in group["languages"] for code in codes))
        posts = int(group["posts"].sum())
        topics = _sum_counts(group["topic_counts"])
        first, last = group["first_post"].min(), group["last_post"].max()
        engagement = {name: int(group[name].sum()) if group[name].notna().any() else None
                      for name in ENGAGEMENT + ("views",)}
        counts = {
            "posts": posts, "span_days": _span_days(first, last),
            **{name: int(group[name].sum()) for name in (
                "original_posts", "replies_made", "posts_with_engagement", "original_reposts",
                "originals_with_reposts")},
            **engagement,
            "format_counts": _sum_counts(group["format_counts"]),
            "risk_checked_posts": int(group["risk_checked_posts"].sum()),
            "risk_flag_counts": _sum_counts(group["risk_flag_counts"]),
        }
        # Pooled over the accounts whose followers are known.
        known = group[group["followers"].notna()]
        interactions = int(known[list(ENGAGEMENT)].fillna(0).sum().sum())
        rows.append({
            **dict(zip(by, key)),
            "country": group["country"].dropna().iloc[0] if group["country"].notna().any() else None,
            "accounts": len(group),
            "platforms": sorted(group["platform"].unique().tolist()),
            "n_platforms": group["platform"].nunique(),
            "first_post": first,
            "last_post": last,
            "languages": languages,
            "n_languages": len(languages),
            **counts,
            **_measures(counts),
            "followers": int(known["followers"].sum()) if len(known) else None,
            "engagement_per_1k_followers": engagement_per_1k_followers(
                interactions, int(known["posts_with_engagement"].sum()), int(known["followers"].sum())),
            "format_counts": counts["format_counts"] or None,
            "topic_counts": topics or None,
            "topic_shares": {label: n / posts for label, n in topics.items()} or None,
            "main_topic": next(iter(topics), None),
            "risk_flag_counts": counts["risk_flag_counts"] or None,
        })
    columns = ACTOR_COLUMNS if by == ["actor"] else ["actor", "period", *ACTOR_COLUMNS[1:]]
    return _with_recency(pd.DataFrame(rows, columns=columns))


ACTOR_COLUMNS = [
    "actor", "country", "accounts", "platforms", "n_platforms", "posts", "original_posts",
    "replies_made", "first_post", "last_post", "span_days", "posts_per_day", "posts_per_week_of_span",
    "recency_days", "languages", "n_languages",
    "likes", "reposts", "replies", "quotes", "views", "posts_with_engagement",
    "interactions_per_post", "message_efficiency", "original_reposts", "originals_with_reposts", "reception",
    "followers", "engagement_per_1k_followers",
    "reply_share", "contribution", "responsiveness",
    "format_counts", "format_shares", "n_formats",
    "topic_counts", "topic_shares", "main_topic",
    "risk_checked_posts", "risk_flag_counts", "risk_flag_shares",
]


# --- Composite index ---

def check_index_settings(settings: dict) -> None:
    if settings["normalization"] not in ("minmax", "zscore"):
        raise UserError(f"config: index.normalization must be 'minmax' or 'zscore', got {settings['normalization']!r}")
    for criterion in CRITERIA:
        if not isinstance(settings["weights"][criterion], (int, float)) or settings["weights"][criterion] < 0:
            raise UserError(f"config: index.weights.{criterion} must be a number >= 0")
    if not sum(settings["weights"].values()):
        raise UserError("config: index.weights must not all be 0")


def normalize(values: pd.Series, method: str) -> pd.Series:
    """Min-max to 0..1, or z-score (population standard deviation). A measure equal for every
    actor tells them apart in nothing: it gives null, and so is skipped."""
    values = pd.to_numeric(values, errors="coerce").astype(float)
    if method == "minmax":
        spread = values.max() - values.min()
        return (values - values.min()) / spread if spread > 0 else values * np.nan
    spread = values.std(ddof=0)
    return (values - values.mean()) / spread if spread > 0 else values * np.nan


def criterion_scores(actors: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Each criterion's score: the mean of its normalised measures (an unknown measure is skipped)."""
    scores = {}
    for criterion in CRITERIA:
        measures = [normalize(actors[name], settings["normalization"]) for name in settings["measures"][criterion]]
        scores[f"score_{criterion}"] = pd.concat(measures, axis=1).mean(axis=1) if measures else np.nan
    return pd.DataFrame(scores, index=actors.index)


def _index_and_rank(scores: pd.DataFrame, weights: dict) -> tuple[pd.Series, pd.Series]:
    # The weighted mean over the criteria an actor has a score for.
    w = pd.Series({f"score_{c}": float(weights[c]) for c in CRITERIA})
    known = scores.notna()
    index = (scores.fillna(0) * w).sum(axis=1) / (known * w).sum(axis=1).replace(0, np.nan)
    return index, index.rank(ascending=False, method="min").astype("Int64")


def composite_index(actors: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Add `score_<criterion>`, `index` (weighted mean of the criterion scores) and `rank` (1 = highest);
    in the period table, actors are normalised and ranked within each period."""
    if actors.empty:
        return actors.assign(**{f"score_{c}": pd.Series(dtype=float) for c in CRITERIA},
                             index=pd.Series(dtype=float), rank=pd.Series(dtype="Int64"))
    parts = []
    for _, group in (actors.groupby("period", sort=False, dropna=False) if "period" in actors else [(None, actors)]):
        scores = criterion_scores(group, settings)
        index, rank = _index_and_rank(scores, settings["weights"])
        parts.append(pd.concat([group, scores], axis=1).assign(index=index, rank=rank))
    return pd.concat(parts).loc[actors.index]


def rank_sensitivity(actors: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Each actor's rank when one criterion's weight moves by -20 % or +20 % (others unchanged)."""
    scores = criterion_scores(actors, settings)
    _, base = _index_and_rank(scores, settings["weights"])
    rows = []
    for criterion in CRITERIA:
        for factor in SENSITIVITY_FACTORS:
            weights = {**settings["weights"], criterion: settings["weights"][criterion] * factor}
            _, rank = _index_and_rank(scores, weights)
            rows.append(pd.DataFrame({
                "actor": actors["actor"], "criterion": criterion, "weight_change": round(factor - 1, 2),
                "weight": weights[criterion], "base_rank": base, "rank": rank, "rank_change": rank - base,
            }))
    columns = ["actor", "criterion", "weight_change", "weight", "base_rank", "rank", "rank_change"]
    return pd.concat(rows, ignore_index=True) if rows and len(actors) else pd.DataFrame(columns=columns)
