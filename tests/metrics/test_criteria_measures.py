"""The four criteria's measures, per account and per period, against values computed by hand on
real JustinTrudeau posts of corpora/sample/world_leaders_sample.csv (ids in the comments)."""

import math

import pandas as pd
import pytest

from pipeline.metrics import AccountMetrics, actor_table, activity_trends, with_specialization
from tests.metrics.posts_frame import posts_frame


# Two EmmanuelMacron posts of the archive: the last original of 2019-12-23 and a reply.
MACRON = [
    dict(platform="twitter", account_handle="EmmanuelMacron", actor="France", created_at="2019-12-23 10:33:39",
         is_reply=False, likes=877, reposts=195, replies=248, lang="fr", topics=[], risk_flags=[]),
    dict(platform="twitter", account_handle="EmmanuelMacron", actor="France", created_at="2019-12-21 10:04:16",
         is_reply=True, likes=3284, reposts=693, replies=410, lang="fr", topics=[], risk_flags=[]),
]


def _trudeau(**extra):
    return dict(platform="twitter", account_handle="JustinTrudeau", actor="Canada", lang="en", **extra)


# Three original posts and two replies; topics, media types, followers and risk flags are set by
# hand for the test (the archive has none of them).
TRUDEAU = [
    _trudeau(created_at="2015-01-07 13:41:29", is_reply=False, replies=41, reposts=342, likes=250,  # 552822330141851649
             topics=["political"], media_type="photo", risk_flags=["burst"]),
    _trudeau(created_at="2015-01-07 20:15:03", is_reply=False, replies=3, reposts=11, likes=17,  # 552921377045352448
             topics=["political", "economic"], media_type=None, risk_flags=[]),
    _trudeau(created_at="2015-01-09 20:01:41", is_reply=False, replies=0, reposts=13, likes=21,  # 553642788038770690
             topics=["culture"], media_type="video", risk_flags=["burst", "coordinated"]),
    _trudeau(created_at="2015-02-20 18:46:07", is_reply=True, replies=2, reposts=1, likes=4,  # 568844062226321410
             topics=[], media_type="photo", risk_flags=[]),
    _trudeau(created_at="2015-07-01 14:39:17", is_reply=True, replies=2, reposts=19, likes=31,  # 616254753199161344
             topics=["political"], media_type=None, risk_flags=[], followers=2000),
]


def _table(rows, period=None):
    metrics = AccountMetrics(period=period)
    posts = posts_frame(rows)
    metrics.update(posts)
    metrics.count_risk_flags(posts)
    return metrics.account_table()


def test_gsmi_measures_match_hand_computation():
    row = _table(TRUDEAU).iloc[0]
    assert row["contribution"] == pytest.approx(3 / 5)  # 3 originals of 5 posts
    assert row["responsiveness"] == pytest.approx(2 / 3)  # 2 replies per 3 originals
    assert row["reception"] == pytest.approx((342 + 11 + 13) / 3)  # reposts of the originals only: 122
    # 7 Jan to 1 Jul 2015: 176 days, both included, so 5 posts in 176/7 weeks.
    assert row["span_days"] == 176
    assert row["posts_per_week_of_span"] == pytest.approx(5 / (176 / 7))


def test_interaction_measures_match_hand_computation():
    row = _table(TRUDEAU).iloc[0]
    likes_reposts = (250 + 17 + 21 + 4 + 31) + (342 + 11 + 13 + 1 + 19)  # 709
    assert row["message_efficiency"] == pytest.approx(likes_reposts / 5)  # 141.8
    interactions = likes_reposts + (41 + 3 + 0 + 2 + 2)  # 757, no quotes reported
    assert row["interactions_per_post"] == pytest.approx(interactions / 5)
    assert row["engagement_per_1k_followers"] == pytest.approx(interactions / 5 / 2000 * 1000)  # 75.7
    assert row["reply_share"] == pytest.approx(2 / 5)


def test_engagement_per_followers_is_unknown_without_followers():
    row = _table([{k: v for k, v in post.items() if k != "followers"} for post in TRUDEAU]).iloc[0]
    assert pd.isna(row["engagement_per_1k_followers"])


def test_formats_recency_and_risk_summary():
    table = _table(TRUDEAU + MACRON)
    row = table[table["account_handle"] == "JustinTrudeau"].iloc[0]
    assert row["format_counts"] == {"photo": 2, "video": 1}
    assert row["format_shares"] == pytest.approx({"photo": 2 / 5, "video": 1 / 5})
    assert row["n_formats"] == 2
    assert row["format_first_used"]["video"] == pd.Timestamp("2015-01-09 20:01:41", tz="UTC")
    # From 2015-07-01 14:39:17 to the table's latest post, Macron's 2019-12-23 10:33:39:
    # 1,635 days and 19:54:22 (71,662 s).
    assert row["recency_days"] == pytest.approx(1635 + 71662 / 86400)
    assert table.loc[table["account_handle"] == "EmmanuelMacron", "recency_days"].iloc[0] == 0
    assert row["risk_flag_shares"] == pytest.approx({"burst": 2 / 5, "coordinated": 1 / 5})
    unchecked = [{k: v for k, v in post.items() if k != "risk_flags"} for post in MACRON]
    assert _table(unchecked).iloc[0]["risk_checked_posts"] == 0  # no risk_flags column: not checked
    assert _table(MACRON).iloc[0]["risk_checked_posts"] == 2  # checked, nothing flagged
    assert _table(MACRON).iloc[0]["risk_flag_shares"] is None


def test_specialization_from_topic_counts():
    table = with_specialization(_table(TRUDEAU), n_categories=19, min_share=0.25, political=["political"])
    row = table.iloc[0]
    # Labels: political 3, economic 1, culture 1 (5 labels on 5 posts): shares .6, .2, .2.
    entropy = -(0.6 * math.log(0.6) + 2 * 0.2 * math.log(0.2))  # 0.9503
    assert row["topic_evenness"] == pytest.approx(entropy / math.log(19))  # 0.3227
    assert row["topic_gini_simpson"] == pytest.approx(1 - (0.36 + 0.04 + 0.04))
    assert row["categories_above_min_share"] == 1  # only political is in >= 25 % of posts (3/5)
    assert row["non_political_share"] == pytest.approx(2 / 5)
    assert row["main_topic"] == "political"


def test_period_rows_and_activity_trend():
    by_month = _table(TRUDEAU, period="month")
    assert by_month["period"].tolist() == ["2015-01", "2015-02", "2015-07"]
    assert by_month["posts"].tolist() == [3, 1, 1]
    january = by_month.iloc[0]
    assert january["contribution"] == 1 and january["reception"] == pytest.approx(366 / 3)
    # Posts per month from January to July: 3, 1, 0, 0, 0, 0, 1; x = 0..6, mean 3.
    # slope = sum((x - 3) * y) / sum((x - 3)^2) = (-9 - 2 + 3) / 28 = -2/7.
    trend = activity_trends(by_month, "month").iloc[0]
    assert trend["activity_trend"] == pytest.approx(-2 / 7)


def test_period_state_streams_like_one_batch():
    whole = _table(TRUDEAU, period="quarter")
    split = AccountMetrics(period="quarter")
    for post in TRUDEAU:
        split.update(posts_frame([post]))
        split.count_risk_flags(posts_frame([post]))
    pd.testing.assert_frame_equal(whole, split.account_table())


def test_actor_measures_pool_the_accounts_counts():
    actors = actor_table(_table(TRUDEAU + [dict(MACRON[1], actor="Canada")]))
    canada = actors.iloc[0]
    # 6 posts, 3 originals, 3 replies; followers known for Trudeau only.
    assert canada["contribution"] == pytest.approx(3 / 6)
    assert canada["responsiveness"] == pytest.approx(3 / 3)
    assert canada["reception"] == pytest.approx(366 / 3)
    assert canada["message_efficiency"] == pytest.approx((709 + 3284 + 693) / 6)
    assert canada["engagement_per_1k_followers"] == pytest.approx(757 / 5 / 2000 * 1000)
    assert canada["risk_flag_shares"] == pytest.approx({"burst": 2 / 6, "coordinated": 1 / 6})
