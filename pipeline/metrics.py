"""Metrics: per-account and per-actor measures, accumulated batch by batch.

Memory grows with the number of accounts (and their active days), never with the number
of posts, so an archive larger than memory aggregates in one pass. Formulas, with their
denominators, are in the README's data dictionary; each is one expression in `_account_row`
or `actor_table`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

ENGAGEMENT = ("likes", "reposts", "replies", "quotes")


@dataclass
class _AccountState:
    platform: str
    handle: str | None
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
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    followers: int | None = None  # at the latest post that reports it
    followers_at: pd.Timestamp | None = None
    days: set = field(default_factory=set)
    languages: Counter = field(default_factory=Counter)
    topics: Counter = field(default_factory=Counter)


class AccountMetrics:
    """Streams batches of enriched posts into per-account state; `tables()` gives the results."""

    def __init__(self, min_language_share: float = 0.02):
        self.min_language_share = min_language_share
        self.accounts: dict[tuple[str, str], _AccountState] = {}

    def update(self, posts: pd.DataFrame) -> None:
        if posts.empty:
            return
        key = posts["account_handle"].fillna(posts["account_id"]).fillna("(unknown)")
        frame = posts.assign(_key=key, _day=posts["created_at"].dt.floor("D"))
        counts = frame[list(ENGAGEMENT)]
        frame["_known"] = counts.notna().any(axis=1)
        for name in ENGAGEMENT + ("views",):
            frame[f"_{name}"] = frame[name].fillna(0).astype("int64")
        for (platform, handle), group in frame.groupby(["platform", "_key"], sort=False):
            state = self.accounts.get((platform, handle))
            if state is None:
                state = self.accounts[(platform, handle)] = _AccountState(platform, handle)
            self._merge(state, group)

    @staticmethod
    def _merge(state: _AccountState, group: pd.DataFrame) -> None:
        for name in ("account_id", "actor", "actor_type", "country"):
            if getattr(state, name) is None:
                known = group[name].dropna()
                if len(known):
                    setattr(state, name, known.iloc[0])
        state.posts += len(group)
        state.replies_made += int(group["is_reply"].sum())
        state.reposts_made += int(group["is_repost"].sum())
        state.quotes_made += int(group["is_quote"].sum())
        state.originals += int((~group["is_reply"] & ~group["is_repost"]).sum())
        state.with_engagement += int(group["_known"].sum())
        for name in state.engagement:
            state.engagement[name] += int(group[f"_{name}"].sum())
            state.reported[name] += int(group[name].notna().sum())
        dated = group["created_at"].dropna()
        if len(dated):
            first, last = dated.min(), dated.max()
            state.first = first if state.first is None else min(state.first, first)
            state.last = last if state.last is None else max(state.last, last)
            state.days.update(group["_day"].dropna().tolist())
        followers = group.dropna(subset=["followers"])
        if len(followers):
            latest = followers.sort_values("created_at").iloc[-1]
            when = latest["created_at"]
            if state.followers_at is None or pd.isna(when) or when >= state.followers_at:
                state.followers, state.followers_at = int(latest["followers"]), when
        if "lang" in group:
            state.languages.update(group["lang"].tolist())
        if "topics" in group:
            state.topics.update(label for labels in group["topics"] for label in labels)

    def account_table(self) -> pd.DataFrame:
        rows = [_account_row(state, self.min_language_share) for state in self.accounts.values()]
        table = pd.DataFrame(rows, columns=ACCOUNT_COLUMNS)
        return table.sort_values(["actor", "platform", "account_handle"], na_position="last").reset_index(drop=True)


ACCOUNT_COLUMNS = [
    "platform", "account_handle", "account_id", "actor", "actor_type", "country",
    "posts", "original_posts", "replies_made", "reposts_made", "quotes_made",
    "first_post", "last_post", "span_days", "active_days", "active_day_share", "posts_per_day",
    "languages", "n_languages", "lang_shares", "main_lang", "main_lang_share",
    "likes", "reposts", "replies", "quotes", "views", "posts_with_engagement",
    "interactions_per_post", "reply_share", "followers",
    "topic_counts", "topic_shares", "main_topic",
]


def _account_row(state: _AccountState, min_language_share: float) -> dict:
    span = (state.last.normalize() - state.first.normalize()).days + 1 if state.first is not None else None
    detected = Counter({k: v for k, v in state.languages.items() if k != "und"})
    total_detected = sum(detected.values())
    main_lang, main_count = detected.most_common(1)[0] if detected else (None, 0)
    # A language "used" by the account, not a stray misdetection of one short post.
    used = [code for code, n in detected.most_common() if n / total_detected >= min_language_share]
    interactions = sum(state.engagement[name] for name in ENGAGEMENT)
    return {
        "platform": state.platform,
        "account_handle": state.handle,
        "account_id": state.account_id,
        "actor": state.actor,
        "actor_type": state.actor_type,
        "country": state.country,
        "posts": state.posts,
        "original_posts": state.originals,
        "replies_made": state.replies_made,
        "reposts_made": state.reposts_made,
        "quotes_made": state.quotes_made,
        "first_post": state.first,
        "last_post": state.last,
        "span_days": span,
        "active_days": len(state.days),
        "active_day_share": len(state.days) / span if span else None,
        "posts_per_day": state.posts / span if span else None,
        "languages": used,
        "n_languages": len(used),
        "lang_shares": {code: n / total_detected for code, n in detected.most_common()},
        "main_lang": main_lang,
        "main_lang_share": main_count / total_detected if total_detected else None,
        # A count no post reported (views on most platforms) is unknown, not zero.
        **{name: state.engagement[name] if state.reported[name] else None for name in ENGAGEMENT + ("views",)},
        "posts_with_engagement": state.with_engagement,
        "interactions_per_post": interactions / state.with_engagement if state.with_engagement else None,
        "reply_share": state.replies_made / state.posts if state.posts else None,
        "followers": state.followers,
        # Share of the account's posts about each issue (a post may be about several).
        "topic_counts": dict(state.topics.most_common()) or None,
        "topic_shares": {label: n / state.posts for label, n in state.topics.most_common()} or None,
        "main_topic": state.topics.most_common(1)[0][0] if state.topics else None,
    }


def actor_table(accounts: pd.DataFrame) -> pd.DataFrame:
    """Accounts grouped by actor (country or organisation); accounts with no actor are left out."""
    rows = []
    for actor, group in accounts.dropna(subset=["actor"]).groupby("actor", sort=True):
        languages = sorted(set(code for codes in group["languages"] for code in codes))
        with_engagement = int(group["posts_with_engagement"].sum())
        interactions = int(group[list(ENGAGEMENT)].fillna(0).sum().sum())
        posts = int(group["posts"].sum())
        topics = Counter()
        for counts in group["topic_counts"].dropna():
            topics.update(counts)
        rows.append({
            "actor": actor,
            "country": group["country"].dropna().iloc[0] if group["country"].notna().any() else None,
            "accounts": len(group),
            "platforms": sorted(group["platform"].unique().tolist()),
            "n_platforms": group["platform"].nunique(),
            "posts": posts,
            "original_posts": int(group["original_posts"].sum()),
            "replies_made": int(group["replies_made"].sum()),
            "first_post": group["first_post"].min(),
            "last_post": group["last_post"].max(),
            "languages": languages,
            "n_languages": len(languages),
            **{name: int(group[name].sum()) if group[name].notna().any() else None
               for name in ENGAGEMENT + ("views",)},
            "posts_with_engagement": with_engagement,
            "interactions_per_post": interactions / with_engagement if with_engagement else None,
            "reply_share": int(group["replies_made"].sum()) / posts if posts else None,
            "topic_counts": dict(topics.most_common()) or None,
            "topic_shares": {label: n / posts for label, n in topics.most_common()} or None,
            "main_topic": topics.most_common(1)[0][0] if topics else None,
        })
    return pd.DataFrame(rows, columns=ACTOR_COLUMNS)


ACTOR_COLUMNS = [
    "actor", "country", "accounts", "platforms", "n_platforms", "posts", "original_posts",
    "replies_made", "first_post", "last_post", "languages", "n_languages",
    "likes", "reposts", "replies", "quotes", "views", "posts_with_engagement",
    "interactions_per_post", "reply_share", "topic_counts", "topic_shares", "main_topic",
]
