"""Risk: post- and account-level flags, each with a score, a configured threshold and a
reason a person can read.

Two parts, because some evidence is in one post and some only in the whole archive:

- the `risk` stage (per batch) starts each post's `risk_flags`, `risk_scores` and
  `risk_reasons` with the flags a post shows on its own: the text heads of
  `risk.text_flags` (check_worthy, abusive) and links to listed low-credibility domains;
- `RiskAccumulator` sees every batch and, once the stream ends, adds what needs the whole
  archive: `coordinated` (near-duplicate texts and co-reposts across accounts,
  `pipeline.risk.coordination`), `burst` (abnormal posting volume against the account's own
  baseline, `pipeline.risk.burst`) and `bot_like` (account profile and activity,
  `pipeline.risk.bots`). The runner applies them to posts.parquet in a second streaming
  pass, to accounts.parquet, and writes `coordination_edges.parquet`.

What the accumulator keeps per post (ids, account, time and, for long original texts, a
MinHash signature; the activity features' account, time and repost flag; the posts per account
and day, for bursts) goes to files in the run's work folder and comes back one item, account or
time window at a time, so its memory is flat in the archive's size like the rest of a run; only
per-account state stays in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline.registry import register_stage

FLAGS = ("check_worthy", "abusive", "coordinated", "burst", "bot_like", "low_credibility_link")
# Batch columns the risk stage adds for the archive-wide pass (`pipeline.risk.coordination.MINHASH`:
# MinHash signatures): carried from the stages, in whatever process runs them, to
# `RiskAccumulator`, and never written to the parts or posts.parquet.
CARRIED_COLUMNS = {"minhash": pa.binary()}
RISK_COLUMNS = ("risk_flags", "risk_scores", "risk_reasons")  # what the stage adds, and the archive pass extends


def score_accounts(profiles, **options):
    """Account profiles (DESIGN.md's canonical profile columns) with `bot_like_score` (0..1),
    `bot_like` (bool) and `bot_like_reason`; see `pipeline.risk.bots.score_accounts`."""
    from pipeline.risk.bots import score_accounts as score

    return score(profiles, **options)


@register_stage(
    "risk",
    adds=(
        pa.field("risk_flags", pa.list_(pa.string())),
        pa.field("risk_scores", pa.map_(pa.string(), pa.float32())),
        pa.field("risk_reasons", pa.map_(pa.string(), pa.string())),
    ),
)
def risk(posts: pd.DataFrame, context) -> pd.DataFrame:
    from pipeline.models import load, score_posts
    from pipeline.risk.coordination import MINHASH, minhash_column
    from pipeline.risk.text_flags import low_credibility_links

    settings = context.config["risk"]
    for column in RISK_COLUMNS:
        posts[column] = pd.Series([[] for _ in range(len(posts))], index=posts.index, dtype=object)
    found = []
    for flag, models in settings["text_flags"].items():
        name = models[context.profile]
        if name:
            score = pd.Series(score_posts(load(name), posts)[:, 0], index=posts.index)
            found.append(Flag(flag, score, score >= 0.5,
                              score.map(lambda s, flag=flag: f"{_TEXT_REASONS[flag]} (score {s:.2f})")))
    listed = posts["urls"].map(lambda urls: low_credibility_links(urls, _domains(settings["low_credibility_domains"])))
    found.append(Flag("low_credibility_link", listed.map(lambda hits: 1.0 if hits else 0.0), listed.map(bool),
                      listed.map(lambda hits: "links to " + ", ".join(hits) +
                                 " (listed in the low-credibility domains)" if hits else "")))
    posts = add_flags(posts, found)
    # For the archive-wide coordination pass: computed here, where the stages run (worker
    # processes, Dask workers), carried to it in the batch and never written.
    posts[MINHASH] = minhash_column(posts, settings["coordination"])
    return posts


_TEXT_REASONS = {"check_worthy": "states a check-worthy factual claim", "abusive": "abusive or hateful language"}


@lru_cache(maxsize=4)
def _domains(path: str) -> frozenset[str]:
    from pipeline.risk.text_flags import load_low_credibility_domains

    return load_low_credibility_domains(Path(path) if path else None)


@dataclass
class Flag:
    """One flag's evidence for a batch of posts (each Series on the posts' index)."""

    name: str
    score: pd.Series  # every post's
    raised: pd.Series  # bool
    reason: pd.Series  # read where raised


def add_flags(posts: pd.DataFrame, flags: list[Flag]) -> pd.DataFrame:
    """Record each flag's score for every post, and the flags raised with their reasons (one
    pass over the posts for all the flags: the archive pass does this for every post)."""
    if not flags:
        return posts
    names = [flag.name for flag in flags]
    scores = zip(*[[round(float(s), 4) for s in flag.score] for flag in flags])
    raised = list(zip(*[flag.raised.tolist() for flag in flags]))
    reasons = zip(*[flag.reason.tolist() for flag in flags])
    posts["risk_scores"] = [_pairs(existing) + list(zip(names, row))
                            for existing, row in zip(posts["risk_scores"], scores)]
    posts["risk_flags"] = [list(existing) + [name for name, hit in zip(names, hits) if hit]
                           for existing, hits in zip(posts["risk_flags"], raised)]
    posts["risk_reasons"] = [_pairs(existing) + [(name, why) for name, why, hit in zip(names, whys, hits) if hit]
                             for existing, whys, hits in zip(posts["risk_reasons"], reasons, raised)]
    return posts


def _pairs(mapping) -> list[tuple]:
    """A map column's value as (key, value) pairs: read back from Parquet it is a dict."""
    return list(mapping.items()) if isinstance(mapping, dict) else list(mapping)


@dataclass
class RiskOutcome:
    """What the whole archive says: per-post evidence, per-account summaries, the edges."""

    coordination: object  # pipeline.risk.coordination.CoordinationResult
    burst: object  # pipeline.risk.burst.BurstResult
    burst_settings: dict
    activity: pd.DataFrame  # pipeline.risk.bots.activity_features

    def __post_init__(self):
        from pipeline.risk import burst, coordination

        # The lookups `apply_to_posts` reads, indexed once for all the archive's batches.
        self._coordination_evidence = coordination.evidence_by_post(self.coordination.posts)
        self._burst_periods = burst.periods_by_key(self.burst.periods, self.burst_settings)

    @property
    def edges(self) -> pd.DataFrame:
        return self.coordination.edges

    def apply_to_posts(self, posts: pd.DataFrame) -> pd.DataFrame:
        from pipeline.risk import burst, coordination

        posts = posts.copy()
        coordinated = coordination.flag_posts(posts, self._coordination_evidence)
        bursts = burst.flag_posts(posts, self._burst_periods, self.burst_settings)
        return add_flags(posts, [
            Flag("coordinated", coordinated["coordinated_score"], coordinated["coordinated"],
                 coordinated["coordinated_reason"]),
            Flag("burst", bursts["burst_score"], bursts["burst"], bursts["burst_reason"])])

    def apply_to_accounts(self, accounts: pd.DataFrame) -> pd.DataFrame:
        """accounts.parquet plus the coordination, burst and bot-likeness summaries."""
        from pipeline.risk.bots import score_accounts as score

        keys = ["platform", "account_handle"]
        accounts = accounts.merge(self.coordination.accounts, on=keys, how="left")
        accounts = accounts.merge(self.burst.accounts.drop(columns=["active_periods"]), on=keys, how="left")
        for column in ("coordinated_posts", "near_duplicate_partners", "co_repost_partners", "burst_periods"):
            accounts[column] = accounts[column].fillna(0).astype("int64")
        accounts["max_burst_score"] = accounts["max_burst_score"].fillna(0.0)
        profiles = pd.DataFrame({"account_id": accounts["account_id"], "handle": accounts["account_handle"],
                                 "followers": accounts["followers"]})
        if len(accounts):
            scored = score(profiles, activity=self.activity)
            accounts["bot_like_score"] = scored["bot_like_score"].to_numpy()
            accounts["bot_like"] = scored["bot_like"].to_numpy()
            accounts["bot_like_reason"] = scored["bot_like_reason"].to_numpy()
        else:
            accounts = accounts.assign(bot_like_score=pd.Series(dtype=float), bot_like=pd.Series(dtype=bool),
                                       bot_like_reason=pd.Series(dtype=object))
        return accounts


class RiskAccumulator:
    """Feed every enriched batch to `update`; `finish` gives the archive-wide evidence.

    `work_dir`: where the detectors spill their per-post records (private folders made inside
    it, removed by `finish`); None: the system's temporary folder. Memory stays flat in the
    archive's size (see `pipeline.risk.coordination` and `pipeline.risk.bots.ActivityAccumulator`)."""

    _ACTIVITY = ["platform", "account_id", "account_handle", "created_at", "is_repost"]

    def __init__(self, settings: dict, work_dir=None):
        from pipeline.risk.bots import ActivityAccumulator
        from pipeline.risk.burst import BurstDetector
        from pipeline.risk.coordination import CoordinationDetector

        self.settings = settings
        self.coordination = CoordinationDetector(settings["coordination"], work_dir)
        self.burst = BurstDetector(settings["burst"], work_dir)
        self.activity = ActivityAccumulator(work_dir)

    def update(self, posts: pd.DataFrame) -> None:
        self.coordination.update(posts)
        self.burst.update(posts)
        self.activity.update(posts[self._ACTIVITY])

    def finish(self) -> RiskOutcome:
        return RiskOutcome(self.coordination.finish(), self.burst.finish(), self.settings["burst"],
                           self.activity.finish())
