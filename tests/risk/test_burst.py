"""Posting bursts against an account's own baseline, on a real retweet stream (fixtures/SOURCE.md)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import UserError
from pipeline.risk.burst import ACCOUNT_COLUMNS, PERIOD_COLUMNS, BurstDetector, flag_posts, periods_by_key

FIXTURES = Path(__file__).parent / "fixtures"


def retweets() -> pd.DataFrame:
    raw = pd.read_csv(FIXTURES / "russian_coord_tweets_sample.csv", dtype=str)
    return pd.DataFrame({"post_id": raw["content_id"], "platform": "twitter", "account_handle": raw["account_id"],
                         "account_id": raw["account_id"], "created_at": pd.to_datetime(raw["timestamp_utc"], utc=True)})


def detect(posts: pd.DataFrame, settings: dict | None = None, batches: int = 1):
    detector = BurstDetector(settings)
    for batch in np.array_split(np.arange(len(posts)), batches):
        detector.update(posts.iloc[batch])
    return detector.finish()


def account(prefix: str) -> str:
    (match,) = [handle for handle in retweets()["account_handle"].unique() if handle.startswith(prefix)]
    return match


def test_a_real_spike_is_flagged_against_the_accounts_own_baseline():
    # 2c90dd67…: 46 retweets on 2021-01-31; the 14 days before: 9 3 0 1 8 2 17 6 1 2 1 2 5 1 (median 2).
    result = detect(retweets())
    spiky = account("2c90dd67")
    bursts = result.periods[result.periods["account_handle"] == spiky]
    assert len(bursts) == 1
    burst = bursts.iloc[0]
    assert burst["period_start"] == pd.Timestamp("2021-01-31", tz="UTC")
    assert burst["posts"] == 46 and burst["baseline"] == 2
    assert burst["score"] > 0.95
    assert burst["reason"].startswith("46 posts on 2021-01-31 (UTC), ")
    assert burst["reason"].endswith("above the account's median of 2 per day over the previous 14 days")
    summary = result.accounts.set_index("account_handle").loc[spiky]
    assert summary["burst_periods"] == 1 and summary["max_burst_score"] == burst["score"]
    assert list(result.periods.columns) == PERIOD_COLUMNS and list(result.accounts.columns) == ACCOUNT_COLUMNS


def test_a_steady_busy_account_is_not_flagged():
    # 5c10a1e2…: its busiest days (11 and 13 retweets) follow days of 5, 9, 9, 3.
    result = detect(retweets())
    steady = account("5c10a1e2")
    daily = retweets().query("account_handle == @steady").groupby(pd.Grouper(key="created_at", freq="D")).size()
    assert (daily >= 10).sum() == 2  # busy enough to be judged
    summary = result.accounts.set_index("account_handle").loc[steady]
    assert summary["burst_periods"] == 0 and 0 < summary["max_burst_score"] < 0.5
    assert steady not in set(result.periods["account_handle"])


def test_a_busy_day_in_the_accounts_first_week_is_not_judged():
    # 2c90dd67…'s 17 retweets on 2021-01-23 come 6 days after its first (median 2.5 before, 4.9
    # robust deviations): a burst at 4 deviations, if 6 days of history were enough.
    day = pd.Timestamp("2021-01-23", tz="UTC")
    assert day not in set(detect(retweets(), {"deviations": 4}).periods["period_start"])
    assert day in set(detect(retweets(), {"deviations": 4, "min_history": 6}).periods["period_start"])


def test_posts_of_a_burst_period_are_flagged_and_others_are_not():
    posts = retweets()
    result = detect(posts)
    flags = flag_posts(posts, periods_by_key(result.periods))
    assert flags.index.equals(posts.index)
    spiky = account("2c90dd67")
    on_the_day = (posts["account_handle"] == spiky) & (posts["created_at"].dt.floor("D") == "2021-01-31")
    assert flags.loc[on_the_day, "burst"].all() and on_the_day.sum() == 46
    assert flags.loc[on_the_day, "burst_reason"].str.startswith("46 posts on 2021-01-31").all()
    own_other_days = (posts["account_handle"] == spiky) & ~on_the_day
    assert not flags.loc[own_other_days, "burst"].any()
    assert flags.loc[own_other_days, "burst_score"].eq(0).all()
    assert flags.loc[own_other_days, "burst_reason"].eq("").all()
    assert flags["burst"].sum() == result.periods["posts"].sum()


def test_hourly_periods_place_the_burst_within_the_day():
    result = detect(retweets(), {"period": "hour"})
    spiky = result.periods[result.periods["account_handle"] == account("2c90dd67")]
    # 2021-01-31: 10 retweets from 11:00 and 12 from 13:00 (8 at 12:00, under min_posts); and
    # 10 of 2021-01-23's 17 in one hour, a burst the daily view could not judge yet.
    assert list(spiky["period_start"].dt.strftime("%Y-%m-%d %H:%M")) == [
        "2021-01-23 17:00", "2021-01-31 11:00", "2021-01-31 13:00"]
    assert spiky["reason"].iloc[1].startswith("10 posts on 2021-01-31 11:00 (UTC)")
    assert "per hour over the previous 28 hours" in spiky["reason"].iloc[0]


def test_results_do_not_depend_on_batch_splitting_or_order():
    posts = retweets()
    whole = detect(posts)
    shuffled = detect(posts.sample(frac=1, random_state=3), batches=11)
    pd.testing.assert_frame_equal(whole.periods, shuffled.periods)
    pd.testing.assert_frame_equal(whole.accounts, shuffled.accounts)


def test_posts_without_time_or_account_are_not_counted():
    posts = retweets()
    posts.loc[posts.index[:5], "created_at"] = pd.NaT
    posts.loc[posts.index[5:10], ["account_handle", "account_id"]] = None
    result = detect(posts)
    assert result.accounts["active_periods"].sum() == detect(posts.iloc[10:]).accounts["active_periods"].sum()


@pytest.mark.parametrize("settings, message", [({"perod": "day"}, "unknown burst setting perod"),
                                               ({"period": "week"}, "burst period must be day or hour")])
def test_bad_settings_are_user_errors(settings, message):
    with pytest.raises(UserError, match=message):
        BurstDetector(settings)


def test_counts_are_spilled_and_come_back_summed_once_per_account_and_day(monkeypatch):
    import pipeline.spill

    # Small buffers: many sorted runs on disk, merged back in blocks that split accounts.
    monkeypatch.setattr(pipeline.spill, "BUFFER_BYTES", 4096)
    monkeypatch.setattr(pipeline.spill, "MERGE_BYTES", 4096)
    posts = retweets()
    detector = BurstDetector()
    for _ in range(3):  # the same posts again: more posts, no new account-day
        for batch in np.array_split(np.arange(len(posts)), 7):
            detector.update(posts.iloc[batch])
    assert len(detector._counts._runs) > 1
    accounts = list(detector._account_counts())
    days = posts.assign(day=posts["created_at"].dt.floor("D"))[["account_handle", "day"]].drop_duplicates()
    assert len({code for code, _, _ in accounts}) == len(accounts) == posts["account_handle"].nunique()
    assert sum(len(periods) for _, periods, _ in accounts) == len(days)
    assert sum(int(counts.sum()) for _, _, counts in accounts) == 3 * len(posts)
    assert all((np.diff(periods) > 0).all() for _, periods, _ in accounts)  # in time order


def test_results_do_not_depend_on_how_the_counts_were_spilled(monkeypatch):
    import pipeline.spill

    whole = detect(retweets())
    monkeypatch.setattr(pipeline.spill, "BUFFER_BYTES", 4096)
    monkeypatch.setattr(pipeline.spill, "MERGE_BYTES", 4096)
    spilled = detect(retweets(), batches=9)
    pd.testing.assert_frame_equal(whole.periods, spilled.periods)
    pd.testing.assert_frame_equal(whole.accounts, spilled.accounts)


def test_finish_removes_the_spilled_counts(tmp_path):
    detector = BurstDetector(work_dir=tmp_path)
    detector.update(retweets())
    assert any(tmp_path.iterdir())
    detector.finish()
    assert not any(tmp_path.iterdir())
