"""The data dictionary: every column of every output table, declared once.

Each entry says what a column means, its type and unit, and for a measure its formula with
the denominator and the function of `pipeline.metrics` (or `pipeline.risk`) that computes it.
Every run renders it into `OUT/data_dictionary.md` (with the run's own index settings), and
`python -m pipeline.dictionary` writes `docs/data_dictionary.md`, which the README links to;
tests check that no column of a written table goes undocumented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline.outputs import PARTIAL_SUFFIX


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # type, and unit where it has one
    meaning: str  # for a measure: the formula, with its denominator


@dataclass(frozen=True)
class Table:
    file: str
    row: str  # what one row is
    note: str
    columns: tuple[Column, ...]


def _columns(*rows: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*row) for row in rows)


POSTS = Table("posts.parquet", "accepted post", (
    "The canonical schema (`pipeline/schema.py`) and the columns each stage adds. Engagement "
    "counts are those of the export, at collection time; null means the export did not report them."), _columns(
    ("post_id", "string", "the platform's id (Telegram: `channel/message`; Bluesky: the `at://` uri; "
                          "CrowdTangle: the post URL); `h:…` when derived from the content"),
    ("post_id_origin", "string", "`native`, or `derived` when the id was missing or mangled by a spreadsheet"),
    ("platform", "string", "`twitter`, `facebook`, `telegram`, `mastodon`, `bluesky`, … or `ingest.default_platform`"),
    ("account_id", "string", "the author's id on the platform, when the export has it"),
    ("account_handle", "string", "the author's handle (without `@`)"),
    ("actor", "string", "the country or organisation the account speaks for (accounts registry, or the file's "
                        "actor/country column)"),
    ("actor_type", "string", "`mfa`, `embassy`, `head_of_state`, `minister`, `diplomat`, `mission` or `other`"),
    ("country", "string", "ISO 3166-1 alpha-2 code of the actor's country"),
    ("created_at", "timestamp (UTC)", "when it was posted"),
    ("text", "string", "the post as written (original Unicode, right-to-left scripts included)"),
    ("lang_declared", "string", "the language the platform declared, if any"),
    ("is_reply", "bool", "the post answers another post"),
    ("is_repost", "bool", "the post reposts (retweets, boosts, forwards) another"),
    ("is_quote", "bool", "the post quotes another"),
    ("reply_to_id", "string", "id of the post answered"),
    ("reply_to_handle", "string", "handle of the account answered"),
    ("repost_of_id", "string", "id of the post (or shared object) reposted"),
    ("quote_of_id", "string", "id of the post quoted"),
    ("media_type", "string", "the post's format as exported (`photo`, `video`, `link`, `status`, …); null when unknown"),
    ("url", "string", "the post's address"),
    ("likes", "int, count", "likes (CrowdTangle: all reactions) received"),
    ("reposts", "int, count", "reposts (retweets, shares, boosts) received"),
    ("replies", "int, count", "replies (comments) received"),
    ("quotes", "int, count", "quotes received"),
    ("views", "int, count", "views (impressions) reported"),
    ("followers", "int, count", "the account's followers at posting time, when the export has it"),
    ("source_file", "string", "the input file the row came from"),
    ("source_row", "int", "1-based data row, line or array position in `source_file`"),
    ("text_norm", "string", "model-facing text: NFC, URLs removed, Arabic letter variants, tatweel and "
                            "diacritics folded (normalize)"),
    ("urls", "list of string", "URLs in the text"),
    ("mentions", "list of string", "mentioned handles, without `@`"),
    ("hashtags", "list of string", "hashtags, without `#`"),
    ("emojis", "list of string", "emoji in the text"),
    ("lang", "string", "detected ISO 639-1 code, or `und` when fewer than `langid.min_letters` letters remain "
                       "without URLs, mentions, hashtags and emoji"),
    ("lang_confidence", "float 0..1", "lingua's confidence for `lang` (0 for `und`)"),
    ("script", "string", "dominant script of the words (ISO 15924: `Latn`, `Arab`, `Hebr`, `Cyrl`, …)"),
    ("lang_mixed", "bool", "a second language covers at least `langid.mixed_min_share` of the letters of a post "
                           "of at least `langid.mixed_min_letters` letters"),
    ("lang_secondary", "string", "that second language"),
    ("topics", "list of string", "the issue labels (`corpora/taxonomy.yaml`) whose score is at least 0.5; "
                                 "empty for small talk"),
    ("topic_scores", "map label → float 0..1", "every label's score, rescaled so that each label's own "
                                               "decision threshold is 0.5 (comparable across labels)"),
    ("risk_flags", "list of string", "risk flags raised for the post (`coordinated`, `burst`, `check_worthy`, "
                                     "`abusive`, `low_credibility_link`)"),
    ("risk_scores", "map flag → float 0..1", "each flag's score; the flag is raised at its configured threshold"),
    ("risk_reasons", "map flag → string", "for each raised flag, why, in words"),
))

# Columns of accounts.parquet that actors.parquet shares, with the same formula over the summed
# counts of the actor's accounts (a pooled ratio, not a mean of the accounts' ratios).
_SHARED = _columns(
    ("country", "string", "ISO 3166-1 alpha-2 code of the actor's country"),
    ("posts", "int, posts", "posts in the table"),
    ("original_posts", "int, posts", "posts that are neither replies nor reposts"),
    ("replies_made", "int, posts", "posts that are replies"),
    ("first_post", "timestamp (UTC)", "earliest `created_at`"),
    ("last_post", "timestamp (UTC)", "latest `created_at`"),
    ("span_days", "int, days", "calendar days from the first to the last post, both included"),
    ("posts_per_day", "float, posts per day", "posts / span_days"),
    ("posts_per_week_of_span", "float, posts per week",
     "GSMI production: posts / (span_days / 7) (`production`). Account age is unknown in most exports, so the "
     "denominator is the span of observed posts"),
    ("recency_days", "float, days", "days from the last post to the latest post of the table (of the period, in "
                                    "the period tables) (`recency_days`)"),
    ("languages", "list of ISO 639-1", "languages with a share ≥ `metrics.min_language_share` of the posts with "
                                       "a language, most used first (actors: the union of their accounts')"),
    ("n_languages", "int, languages", "length of `languages`"),
    ("likes", "int, count", "sum of `likes` over the posts; null when no post reported it"),
    ("reposts", "int, count", "sum of `reposts` received; null when no post reported it"),
    ("replies", "int, count", "sum of `replies` received; null when no post reported it"),
    ("quotes", "int, count", "sum of `quotes` received; null when no post reported it"),
    ("views", "int, count", "sum of `views`; null when no post reported it"),
    ("posts_with_engagement", "int, posts", "posts reporting at least one of likes, reposts, replies, quotes"),
    ("interactions_per_post", "float, interactions per post",
     "Twiplomacy: (likes + reposts + replies + quotes) / posts_with_engagement (`interactions_per_post`); "
     "views are kept apart"),
    ("message_efficiency", "float, interactions per post",
     "Digital Diplomacy Index: (likes + reposts) / posts_with_engagement (`message_efficiency`)"),
    ("original_reposts", "int, count", "reposts received by original posts"),
    ("originals_with_reposts", "int, posts", "original posts that report a repost count"),
    ("reception", "float, reposts per original post",
     "GSMI reception: original_reposts / originals_with_reposts (`reception`)"),
    ("followers", "int, followers", "followers at the latest post that reports them (actors: the sum over the "
                                    "accounts whose followers are known); null when unknown"),
    ("engagement_per_1k_followers", "float, interactions per post per 1,000 followers",
     "interactions_per_post / followers × 1,000 (`engagement_per_1k_followers`; actors: pooled over the accounts "
     "whose followers are known); null when followers are unknown"),
    ("reply_share", "float 0..1", "Twiplomacy's \"most conversational\": replies_made / posts (`reply_share`)"),
    ("contribution", "float 0..1", "GSMI contribution: original_posts / posts (`contribution`)"),
    ("responsiveness", "float, replies per original post",
     "GSMI responsiveness: replies_made / original_posts (`responsiveness`)"),
    ("format_counts", "map media type → int", "posts per `media_type` (posts without one are not counted)"),
    ("format_shares", "map media type → float 0..1", "format_counts / posts"),
    ("n_formats", "int, formats", "media types used"),
    ("topic_counts", "map label → int", "posts carrying each issue label"),
    ("topic_shares", "map label → float 0..1", "topic_counts / posts (a post may count for several issues, so the "
                                               "shares may add up to more than 1)"),
    ("main_topic", "string", "the most frequent issue label"),
    ("risk_checked_posts", "int, posts", "posts whose risk flags were counted (all posts when the `risk` stage "
                                         "runs, else 0)"),
    ("risk_flag_counts", "map flag → int", "posts carrying each risk flag; null when none was flagged"),
    ("risk_flag_shares", "map flag → float 0..1", "risk_flag_counts / risk_checked_posts"),
    ("topic_evenness", "float 0..1",
     "normalised Shannon entropy of the issue mix: −Σ pᵢ ln pᵢ / ln K, pᵢ = topic_counts[i] / Σ topic_counts, "
     "K = the number of taxonomy categories; 0 = one issue, 1 = all equally (`shannon_evenness`)"),
    ("topic_gini_simpson", "float 0..1", "1 − Σ pᵢ² (same pᵢ): the chance that two issue labels drawn at random "
                                         "differ (`gini_simpson`)"),
    ("categories_above_min_share", "int, issues", "issues whose topic_shares ≥ `metrics.category_min_share` "
                                                  "(`categories_above`)"),
    ("non_political_share", "float 0..1", "labels outside `metrics.political_categories` / all labels, from "
                                          "topic_counts (`non_political_share`)"),
)

_ACCOUNT_ONLY = _columns(
    ("platform", "string", "the platform of the account"),
    ("account_handle", "string", "the account's handle (its id when it has none)"),
    ("account_id", "string", "the account's id on the platform, when known"),
    ("actor", "string", "the actor the accounts registry attaches it to; null when none"),
    ("actor_type", "string", "the account's role (see posts.actor_type)"),
    ("reposts_made", "int, posts", "posts that are reposts"),
    ("quotes_made", "int, posts", "posts that are quotes"),
    ("active_days", "int, days", "UTC days with at least one post"),
    ("active_day_share", "float 0..1", "active_days / span_days"),
    ("lang_shares", "map ISO 639-1 → float 0..1", "each detected language / posts with a language (`und` left out)"),
    ("main_lang", "string", "the most used language"),
    ("main_lang_share", "float 0..1", "its share in lang_shares"),
    ("format_first_used", "map media type → timestamp (UTC)", "when each media type was first used"),
)

# Only in accounts.parquet: summaries of the whole archive, not of one period.
_ACCOUNT_ARCHIVE_WIDE = _columns(
    ("coordinated_posts", "int, posts", "posts flagged `coordinated`"),
    ("near_duplicate_partners", "int, accounts", "distinct accounts it posted near-duplicates with"),
    ("co_repost_partners", "int, accounts", "distinct accounts it repeatedly co-reposted with"),
    ("cluster_id", "int", "its connected component in coordination_edges.parquet; null when it has no edge"),
    ("cluster_size", "int, accounts", "accounts in that component"),
    ("burst_periods", "int, days or hours", "periods (`risk.burst.period`) with a posting burst against the "
                                            "account's own baseline (median and MAD of its previous periods)"),
    ("max_burst_score", "float 0..1", "the highest burst score of its judged periods (0 when none was judged)"),
    ("bot_like_score", "float 0..1", "bot-likeness from what the archive shows of the account (followers, "
                                     "activity), by the `models/bot-like` scorecard"),
    ("bot_like", "bool", "bot_like_score at or above the model's threshold"),
    ("bot_like_reason", "string", "the features that raise the score most"),
    ("activity_trend", "float, posts per period per period",
     "with `--period`: least-squares slope of posts per period, from the account's first to its last active "
     "period, inactive periods counting 0 (`activity_trend`); null without `--period` or with one period"),
)

_ACTOR_ONLY = _columns(
    ("actor", "string", "the country or organisation"),
    ("accounts", "int, accounts", "accounts attached to the actor"),
    ("platforms", "list of string", "platforms of those accounts"),
    ("n_platforms", "int, platforms", "length of `platforms`"),
    ("score_presence", "float", "mean of the normalised presence measures (`index.measures.presence`) the actor "
                                "has (`criterion_scores`)"),
    ("score_interaction", "float", "the same over the interaction measures"),
    ("score_follow_up", "float", "the same over the follow-up measures"),
    ("score_specialization", "float", "the same over the specialization measures"),
    ("index", "float", "composite index: Σ w_c · score_c / Σ w_c over the criteria c the actor has a score for, "
                       "w = `index.weights` (`composite_index`)"),
    ("rank", "int", "rank by index, 1 = highest (ties share the best rank)"),
)

_PERIOD = Column("period", "string", "UTC calendar period (`2019-03`, `2019Q1` or `2019`)")

_ACCOUNT_COLUMNS = _ACCOUNT_ONLY + _SHARED + _ACCOUNT_ARCHIVE_WIDE
_ACTOR_COLUMNS = _ACTOR_ONLY + _SHARED
_BY_PERIOD_NOTE = ("With `--period month|quarter|year` (or `metrics.period`): the same columns per UTC calendar "
                   "period{}.")

TABLES = (
    POSTS,
    Table("accounts.parquet", "account (platform, handle)",
          "The four criteria (presence, interaction, follow-up, specialization) and the risk summary per "
          "account; each formula is one function of `pipeline/metrics.py`, named in brackets.", _ACCOUNT_COLUMNS),
    Table("actors.parquet", "actor (country or organisation)",
          "The same measures over the summed counts of the actor's accounts (accounts with no actor are left "
          "out), then the composite index. Each index measure is normalised across actors (`index.normalization`:"
          " minmax (x − min) / (max − min), or zscore (x − mean) / standard deviation); a measure equal for every "
          "actor is skipped.", _ACTOR_COLUMNS),
    Table("accounts_by_period.parquet", "account and calendar period", _BY_PERIOD_NOTE.format(
          ", without the archive-wide risk summaries and activity_trend"), (_PERIOD,) + _ACCOUNT_ONLY + _SHARED),
    Table("actors_by_period.parquet", "actor and calendar period", _BY_PERIOD_NOTE.format(
          "; actors are normalised and ranked within each period"), (_PERIOD,) + _ACTOR_COLUMNS),
    Table("index_sensitivity.parquet", "actor, criterion and weight change",
          "No ranking publishes its weights: each actor's rank when one criterion's weight moves by −20 % or "
          "+20 %, the others unchanged (`rank_sensitivity`).", _columns(
              ("actor", "string", "the actor"),
              ("criterion", "string", "the criterion whose weight moved"),
              ("weight_change", "float", "the relative change of its weight (−0.2 or +0.2)"),
              ("weight", "float", "the moved weight"),
              ("base_rank", "int", "rank with the configured weights"),
              ("rank", "int", "rank with the moved weight"),
              ("rank_change", "int, ranks", "rank − base_rank (negative: the actor moves up)"),
          )),
    Table("coordination_edges.parquet", "pair of accounts and kind of coordination",
          "Written when the `risk` stage runs (see `pipeline/risk/coordination.py`).", _columns(
              ("account_a", "string", "one account (account_a < account_b)"),
              ("account_b", "string", "the other account"),
              ("platform", "string", "their platform"),
              ("kind", "string", "`near_duplicate` (near-duplicate texts within `risk.coordination.window_seconds`) "
                                 "or `co_repost` (the same item reposted within `co_repost_window_seconds`)"),
              ("weight", "int", "near-duplicate pairs, or distinct items co-reposted"),
              ("first_at", "timestamp (UTC)", "first such event"),
              ("last_at", "timestamp (UTC)", "last such event"),
          )),
    Table("quarantine.parquet", "rejected input row", "Every row read is a post, a quarantined row or a duplicate.",
          _columns(
              ("source_file", "string", "the input file"),
              ("source_row", "int", "1-based data row, line or array position"),
              ("format", "string", "the reader that read it"),
              ("reason", "string", "why it was rejected"),
              ("raw", "string", "the raw content (invalid bytes shown as `\\xNN`)"),
          )),
)

BY_FILE = {table.file: table for table in TABLES}


_ARROW_TYPES = (("int", pa.int64()), ("float", pa.float64()), ("string", pa.string()), ("bool", pa.bool_()),
                ("timestamp", pa.timestamp("us", tz="UTC")))


def arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of a declared kind: "int, posts" -> int64, "map label → float 0..1" ->
    map<string, double>, "list of ISO 639-1" -> list<string>."""
    kind = kind.strip()
    if kind.startswith("map "):
        return pa.map_(pa.string(), arrow_type(kind.split("→", 1)[1]))
    if kind.startswith("list of "):
        return pa.list_(pa.string())
    for prefix, arrow in _ARROW_TYPES:
        if kind.startswith(prefix):
            return arrow
    raise ValueError(f"no Arrow type for the declared kind {kind!r}")


def declared_table(frame: pd.DataFrame, file: str) -> pa.Table:
    """`frame` as Arrow with the types this dictionary declares for `file`: a column has the
    same type in every run whatever its data holds (pandas would type a column with no value as
    null, and a mapping as a struct whose fields are the keys present). Which columns there are
    depends on the stages run (no risk stage, no risk columns)."""
    declared = {column.name: arrow_type(column.kind) for column in BY_FILE[file].columns}
    undeclared = [name for name in frame.columns if name not in declared]
    if undeclared:
        raise RuntimeError(f"{file}: column(s) {', '.join(undeclared)} are not in the data dictionary")
    # from_pandas keeps the pandas metadata: a nullable integer (a rank) reads back as Int64.
    return pa.Table.from_pandas(frame, schema=pa.schema([pa.field(name, declared[name]) for name in frame.columns]),
                                preserve_index=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(files: list[str] | None = None, config: dict | None = None) -> str:
    """The dictionary as Markdown: the tables in `files` (default all), and the index
    settings of `config` when given (a run's own dictionary)."""
    tables = [table for table in TABLES if files is None or table.file in files]
    lines = ["# DiploLens data dictionary", "",
             "Generated from `pipeline/dictionary.py`; one section per output table.", ""]
    for table in tables:
        lines += [f"## {table.file}", "", f"One row per {table.row}. {table.note}", "",
                  "| column | type, unit | meaning, formula (denominator) |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {_cell(c.kind)} | {_cell(c.meaning)} |" for c in table.columns]
        lines.append("")
    if config is not None:
        index = config["index"]
        lines += ["## The composite index of this run", "",
                  f"Normalisation: `{index['normalization']}`.", "",
                  "| criterion | weight | measures (normalised, then averaged) |", "|---|---|---|"]
        lines += [f"| {criterion} | {weight:g} | {', '.join(f'`{m}`' for m in index['measures'][criterion])} |"
                  for criterion, weight in index["weights"].items()]
        lines.append("")
    return "\n".join(lines)


def write_data_dictionary(out_dir: Path, files: list[str], config: dict) -> int:
    """Write `out_dir/data_dictionary.md` for the tables a run wrote; returns the columns described."""
    path = Path(out_dir) / "data_dictionary.md"
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    partial.write_text(render(files, config), encoding="utf-8")
    os.replace(partial, path)
    return sum(len(BY_FILE[name].columns) for name in files if name in BY_FILE)


DOCS_COPY = Path(__file__).resolve().parent.parent / "docs" / "data_dictionary.md"

if __name__ == "__main__":
    # `python -m pipeline.dictionary`: refresh the committed copy that the README links to.
    DOCS_COPY.parent.mkdir(exist_ok=True)
    DOCS_COPY.write_text(render(), encoding="utf-8")
