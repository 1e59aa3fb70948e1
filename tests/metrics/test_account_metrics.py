"""Account and actor measures against values computed by hand on real posts."""

import pandas as pd
import pytest

from pipeline.metrics import AccountMetrics, actor_table
from tests.metrics.posts_frame import posts_frame


# Four real EmmanuelMacron posts of 2019-12-23 and one reply (counts as in the archive).
MACRON = [
    dict(platform="twitter", account_handle="EmmanuelMacron", actor="France", created_at="2019-12-23 10:33:39",
         is_reply=False, likes=877, reposts=195, replies=248, lang="fr"),
    dict(platform="twitter", account_handle="EmmanuelMacron", actor="France", created_at="2019-12-23 10:33:39",
         is_reply=False, likes=782, reposts=143, replies=109, lang="fr"),
    dict(platform="twitter", account_handle="EmmanuelMacron", actor="France", created_at="2019-12-23 10:33:38",
         is_reply=False, likes=2063, reposts=344, replies=441, lang="fr"),
    dict(platform="twitter", account_handle="EmmanuelMacron", actor="France", created_at="2019-12-21 10:04:16",
         is_reply=True, likes=3284, reposts=693, replies=410, lang="fr"),
]


def test_interactions_per_post_and_reply_share_match_hand_computation():
    metrics = AccountMetrics()
    metrics.update(posts_frame(MACRON))
    row = metrics.account_table().iloc[0]
    interactions = (877 + 195 + 248) + (782 + 143 + 109) + (2063 + 344 + 441) + (3284 + 693 + 410)
    assert row["posts"] == 4
    assert row["interactions_per_post"] == pytest.approx(interactions / 4)
    assert row["reply_share"] == pytest.approx(1 / 4)
    assert row["original_posts"] == 3
    assert row["likes"] == 877 + 782 + 2063 + 3284
    # Quotes and views are reported by no post: unknown, not zero.
    assert pd.isna(row["quotes"]) and pd.isna(row["views"])


def test_activity_span_and_active_days():
    metrics = AccountMetrics()
    metrics.update(posts_frame(MACRON))
    row = metrics.account_table().iloc[0]
    assert row["span_days"] == 3  # 21, 22, 23 December
    assert row["active_days"] == 2
    assert row["active_day_share"] == pytest.approx(2 / 3)
    assert row["posts_per_day"] == pytest.approx(4 / 3)


def test_batches_accumulate_to_the_same_result_as_one_batch():
    whole = AccountMetrics()
    whole.update(posts_frame(MACRON))
    split = AccountMetrics()
    split.update(posts_frame(MACRON[:1]))
    split.update(posts_frame(MACRON[1:]))
    pd.testing.assert_frame_equal(whole.account_table(), split.account_table())


def test_stray_language_below_threshold_is_not_a_language_used():
    rows = [dict(MACRON[0], lang="fr") for _ in range(60)] + [dict(MACRON[0], lang="ro")]
    metrics = AccountMetrics(min_language_share=0.02)
    metrics.update(posts_frame(rows))
    row = metrics.account_table().iloc[0]
    assert list(row["languages"]) == ["fr"]
    assert dict(row["lang_shares"])["ro"] == pytest.approx(1 / 61)


def test_actors_aggregate_their_accounts_and_skip_accounts_without_actor():
    trudeau = [dict(platform="twitter", account_handle="JustinTrudeau", actor="Canada", created_at="2016-01-01",
                    is_reply=False, likes=10, reposts=5, replies=1, lang=lang) for lang in ("en", "fr")]
    office = [dict(platform="twitter", account_handle="CanadianPM", actor="Canada", created_at="2016-01-02",
                   is_reply=True, likes=2, reposts=1, replies=1, lang="en")]
    stray = [dict(platform="twitter", account_handle="someone", actor=None, created_at="2016-01-02",
                  is_reply=False, likes=1, reposts=0, replies=0, lang="en")]
    metrics = AccountMetrics()
    metrics.update(posts_frame(trudeau + office + stray))
    actors = actor_table(metrics.account_table())
    assert actors["actor"].tolist() == ["Canada"]
    canada = actors.iloc[0]
    assert canada["accounts"] == 2
    assert canada["posts"] == 3
    assert list(canada["languages"]) == ["en", "fr"]
    assert canada["interactions_per_post"] == pytest.approx((16 + 16 + 4) / 3)
    assert canada["reply_share"] == pytest.approx(1 / 3)


def test_active_days_are_counted_alike_in_any_batch_order_and_across_the_epoch():
    rows = [dict(MACRON[0], created_at=when) for when in
            ("2019-12-23 10:00", "1969-12-31 23:59", "1970-01-01 00:00", "2019-12-23 23:59", "2020-01-05 00:00",
             "2019-12-01 12:00")]
    whole = AccountMetrics()
    whole.update(posts_frame(rows))
    assert whole.account_table().iloc[0]["active_days"] == 5
    split = AccountMetrics()
    for order in ([3], [0, 4], [1], [5, 2]):  # the span grows forward and back
        split.update(posts_frame([rows[i] for i in order]))
    pd.testing.assert_frame_equal(whole.account_table(), split.account_table())


def test_accounts_without_language_id_are_written(tmp_path):
    # A configuration without the langid stage: no language shares, and the table still
    # writes (an empty mapping would be a Parquet struct with no field).
    from pipeline.outputs import write_table

    posts = posts_frame([{k: v for k, v in row.items() if k != "lang"} for row in MACRON]).drop(columns="lang",
                                                                                                  errors="ignore")
    metrics = AccountMetrics()
    metrics.update(posts)
    table = metrics.account_table()
    assert table["lang_shares"].isna().all()
    write_table(table, tmp_path / "accounts.parquet")
    assert pd.read_parquet(tmp_path / "accounts.parquet")["posts"].tolist() == [4]


def test_account_tables_of_different_data_share_one_parquet_schema(tmp_path):
    # Languages and topics differ from one archive to the next, and a column may hold no value:
    # the tables are written with the data dictionary's types (mappings as Parquet maps, not
    # structs of whatever keys the data held), so two runs' tables can be stacked.
    import pyarrow.parquet as pq

    from pipeline.dictionary import declared_table
    from pipeline.outputs import write_table

    schemas = []
    for number, lang in enumerate(("fr", "ar")):
        metrics = AccountMetrics()
        metrics.update(posts_frame([{**row, "lang": lang} for row in MACRON]))
        write_table(declared_table(metrics.account_table(), "accounts.parquet"), tmp_path / f"{number}.parquet")
        schemas.append(pq.read_schema(tmp_path / f"{number}.parquet"))
    assert schemas[0] == schemas[1]
    assert str(schemas[0].field("lang_shares").type).startswith("map<string, double")
    assert schemas[0].field("followers").type == "int64"  # no follower count in these posts
    assert dict(pd.read_parquet(tmp_path / "1.parquet")["lang_shares"].iloc[0]) == {"ar": 1.0}


# Three real IsraeliPM posts of 2019-12-29/30 (counts as in the archive).
NETANYAHU = [
    dict(platform="twitter", account_handle="IsraeliPM", actor="Israel", created_at="2019-12-30 14:59:04",
         is_reply=False, likes=635, reposts=184, replies=43, followers=1_900_000, lang="en", topics=["security"]),
    dict(platform="twitter", account_handle="IsraeliPM", actor="Israel", created_at="2019-12-29 19:13:52",
         is_reply=False, likes=485, reposts=111, replies=26, followers=1_899_000, lang="he",
         topics=["security", "bilateral_relations"]),
    dict(platform="twitter", account_handle="IsraeliPM", actor="Israel", created_at="2019-12-29 14:03:18",
         is_reply=True, likes=108, reposts=28, replies=2, lang="en", topics=[]),
]


@pytest.mark.parametrize("period", [None, "month"])
def test_a_batch_mixing_accounts_gives_each_account_its_own_measures(period):
    # A time-ordered archive's batch holds many accounts: the batch is aggregated per account
    # (and period) in one pass, and must equal the accounts fed one at a time.
    macron = [dict(row, followers=row.get("followers", 4_000_000), topics=["culture"]) for row in MACRON]
    mixed = [row for pair in zip(macron, NETANYAHU) for row in pair] + macron[len(NETANYAHU):]
    together = AccountMetrics(period=period)
    together.update(posts_frame(mixed))
    apart = AccountMetrics(period=period)
    apart.update(posts_frame(NETANYAHU))
    apart.update(posts_frame(macron))
    table = together.account_table()
    pd.testing.assert_frame_equal(table, apart.account_table())
    israel = table[table["account_handle"] == "IsraeliPM"].iloc[0]
    assert israel["posts"] == 3 and israel["reply_share"] == pytest.approx(1 / 3)
    assert israel["followers"] == 1_900_000  # at its latest post that reports followers
    assert israel["topic_counts"] == {"security": 2, "bilateral_relations": 1}
