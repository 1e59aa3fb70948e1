"""Bot-likeness (`bot_like`): profile and activity features, the scorecard estimator, the
shipped model, and `score_accounts` on real accounts (a caverlee-2011 sample and the
world leaders of the embedded sample archive)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.ingest import ingest_batches, plan_inputs
from pipeline.risk import score_accounts as risk_score_accounts
from pipeline.risk.bots import (
    ActivityAccumulator,
    BotLikeClassifier,
    activity_features,
    load_caverlee,
    load_model,
    profile_features,
    score_accounts,
)

REPO = Path(__file__).resolve().parents[2]
CAVERLEE_SAMPLE = Path(__file__).parent / "fixtures" / "bots_caverlee" / "caverlee2011_accounts_sample.csv"
SAMPLE_POSTS = REPO / "corpora" / "sample" / "world_leaders_sample.csv"
SAMPLE_ACCOUNTS = REPO / "corpora" / "sample" / "accounts.csv"
NEW_COLUMNS = ["bot_like_score", "bot_like", "bot_like_reason"]


@pytest.fixture(scope="module")
def caverlee():
    return load_caverlee(CAVERLEE_SAMPLE)


@pytest.fixture(scope="module")
def small_model(caverlee):
    profiles, is_bot = caverlee
    train, held_out = train_test_split(np.arange(len(profiles)), test_size=0.3, stratify=is_bot, random_state=0)
    model = BotLikeClassifier(n_bins=5).fit(profiles.iloc[train], is_bot.iloc[train])
    return model, profiles.iloc[held_out], is_bot.iloc[held_out]


@pytest.fixture(scope="module")
def world_leaders():
    posts = pd.concat([batch.posts for batch in ingest_batches(plan_inputs([str(SAMPLE_POSTS)]), load_config())])
    return pd.read_csv(SAMPLE_ACCOUNTS), activity_features(posts)


# --- training and persistence --------------------------------------------------------------------

def test_training_on_caverlee_accounts_beats_chance_on_held_out_accounts(small_model):
    model, held_out, is_bot = small_model
    assert model.score(held_out, is_bot) >= 0.7  # classes are balanced: chance is 0.5


def test_a_saved_model_loads_and_scores_exactly_the_same(small_model, tmp_path):
    model, held_out, _ = small_model
    model.save(tmp_path / "bot-like", {"version": "test"})
    loaded = BotLikeClassifier.load(tmp_path / "bot-like")
    assert np.array_equal(loaded.predict_proba(held_out), model.predict_proba(held_out))
    assert loaded.explain(held_out).tolist() == model.explain(held_out).tolist()
    assert loaded.metadata_["version"] == "test"
    assert {p.name for p in (tmp_path / "bot-like").iterdir()} == {"model.json", "weights.npz"}


def test_a_folder_that_is_not_a_bot_model_is_a_user_error(tmp_path, small_model):
    model, _, _ = small_model
    model.save(tmp_path)
    description = json.loads((tmp_path / "model.json").read_text("utf-8"))
    (tmp_path / "model.json").write_text(json.dumps({**description, "estimator": "TextClassifier"}), "utf-8")
    with pytest.raises(UserError, match="expected BotLikeClassifier"):
        BotLikeClassifier.load(tmp_path)


def test_changed_weights_are_refused(tmp_path, small_model):
    model, _, _ = small_model
    model.save(tmp_path)
    (tmp_path / "weights.npz").write_bytes(b"PK" + bytes(64))
    with pytest.raises(UserError, match="does not match the sha256"):
        BotLikeClassifier.load(tmp_path)


def test_train_and_evaluate_commands_work_for_bot_like(caverlee, tmp_path):
    from pipeline.cli import main

    model_folder, labelled, report_file = tmp_path / "bots", tmp_path / "labelled.csv", tmp_path / "report.json"
    assert main(["train", "bot_like", str(CAVERLEE_SAMPLE), "--out", str(model_folder)]) == 0
    profiles, is_bot = caverlee
    profiles.assign(is_bot=is_bot.map({True: "true", False: "false"})).to_csv(labelled, index=False)
    assert main(["evaluate", "bot_like", str(labelled), "--model", str(model_folder), "--report", str(report_file)]) == 0
    report = json.loads(report_file.read_text("utf-8"))
    assert report["n"] == len(profiles) and report["threshold"] == round(load_model(model_folder).threshold, 4)
    assert report["roc_auc"] > 0.7  # most of these accounts were trained on: a floor, not a measure


def test_labelled_profiles_with_an_unreadable_label_are_one_clear_error(caverlee, tmp_path, capsys):
    from pipeline.cli import main

    profiles, _ = caverlee
    path = tmp_path / "labelled.csv"
    profiles.head(3).assign(is_bot=["true", "maybe", "false"]).to_csv(path, index=False)
    assert main(["evaluate", "bot_like", str(path)]) == 2
    assert "is_bot must be true/false, 1/0 or yes/no; row 2 has 'maybe'" in capsys.readouterr().err


def test_the_estimator_clones_with_its_parameters():
    model = clone(BotLikeClassifier(n_bins=7, C=0.5, threshold=0.6))
    assert model.get_params()["n_bins"] == 7 and model.get_params()["threshold"] == 0.6


def test_training_uses_only_features_known_for_the_training_accounts(small_model):
    model, _, _ = small_model
    assert "followers" in model.feature_names_ and "account_age_days" in model.feature_names_
    # caverlee has no verified flag, no handle text, no posts: those features are not learnt.
    assert not {"verified", "handle_digits", "interval_cv"} & set(model.feature_names_)


# --- the shipped model and score_accounts -----------------------------------------------------------

def test_score_accounts_returns_the_profiles_with_score_flag_and_reason(caverlee):
    profiles, _ = caverlee
    scored = score_accounts(profiles)
    assert list(scored.columns) == list(profiles.columns) + NEW_COLUMNS
    assert scored[profiles.columns].equals(profiles)
    assert scored["bot_like_score"].between(0, 1).all()
    assert scored["bot_like"].dtype == bool
    assert (scored["bot_like"] == (scored["bot_like_score"] >= load_model().threshold)).all()
    assert scored["bot_like_reason"].map(lambda r: isinstance(r, str) and r != "").all()


def test_the_shipped_model_separates_caverlee_accounts_it_never_saw(caverlee):
    profiles, is_bot = caverlee  # the fixture rows come from the test split of the shipped model
    scored = score_accounts(profiles)
    assert (scored["bot_like"] == is_bot).mean() >= 0.85


def test_pipeline_risk_score_accounts_is_the_same_stage(caverlee):
    profiles, _ = caverlee
    assert risk_score_accounts(profiles.head(20)).equals(score_accounts(profiles.head(20)))


def test_a_threshold_given_to_score_accounts_overrides_the_models(caverlee):
    profiles, _ = caverlee
    assert not score_accounts(profiles, threshold=1.01)["bot_like"].any()
    assert score_accounts(profiles, threshold=0.0)["bot_like"].all()


def test_reasons_name_the_features_that_raise_the_score_most(caverlee):
    profiles, _ = caverlee
    model = load_model()
    scored = score_accounts(profiles)
    flagged = scored[scored["bot_like_score"] > 0.9]
    assert len(flagged) > 0
    for reason in flagged["bot_like_reason"]:
        assert 1 <= len(reason.split("; ")) <= 3 and "no bot-like signal" not in reason
    # An account with 45 times more followed accounts than followers reads so.
    spammer = profiles.head(1).assign(following=4520, followers=100)
    assert "following/followers 45.2" in model.explain(spammer, top=len(model.feature_names_)).iloc[0]


# --- missing and bad input ----------------------------------------------------------------------------

def test_missing_columns_degrade_to_fewer_flags_on_the_features_left(caverlee):
    profiles, is_bot = caverlee
    full = score_accounts(profiles)
    without_dates = score_accounts(profiles.drop(columns=["created_at", "observed_at"]))
    assert without_dates["bot_like_score"].between(0, 1).all()
    assert without_dates["bot_like_reason"].str.contains("of 7 features known").all()
    # Unknown features count as a typical human: fewer flags, never more false ones ...
    assert without_dates["bot_like"].sum() <= full["bot_like"].sum()
    assert without_dates.loc[~is_bot, "bot_like"].sum() <= full.loc[~is_bot, "bot_like"].sum()
    # ... while the features left still rank bots above humans.
    assert roc_auc_score(is_bot, without_dates["bot_like_score"]) >= 0.75
    only_counts = score_accounts(profiles[["followers", "following"]])
    assert roc_auc_score(is_bot, only_counts["bot_like_score"]) >= 0.7


def test_an_account_with_nothing_known_scores_like_a_typical_human(caverlee):
    profiles, _ = caverlee
    blank = profiles.head(3).copy()
    blank.loc[blank.index[0], ["followers", "following", "posts_count", "created_at"]] = None
    blank.loc[blank.index[0], ["handle_length", "description_length"]] = np.nan
    scored = score_accounts(blank)
    assert scored["bot_like_score"].iloc[0] < 0.05
    assert scored["bot_like_reason"].iloc[0] == "no bot-like signal (0 of 7 features known)"


def test_unparseable_and_negative_values_count_as_unknown():
    profiles = pd.DataFrame({"followers": ["12K", -5, 40], "following": ["n/a", 10, 4000],
                             "verified": ["maybe", "TRUE", 0], "created_at": ["not a date", None, "2020-01-01"]})
    features = profile_features(profiles, observed_at="2020-01-11")
    assert features["followers"].isna().tolist() == [True, True, False]
    assert features["following"].isna().tolist() == [True, False, False]
    assert features["verified"].tolist()[1:] == [1.0, 0.0] and np.isnan(features["verified"].iloc[0])
    assert features["account_age_days"].isna().tolist() == [True, True, False]
    assert features["following_per_day"].iloc[2] == pytest.approx(400)


def test_an_empty_table_is_one_clear_user_error():
    with pytest.raises(UserError, match="no account profiles to score") as caught:
        score_accounts(pd.DataFrame(columns=["handle", "followers"]))
    assert "\n" not in str(caught.value)


def test_a_table_without_usable_profile_columns_is_one_clear_user_error():
    with pytest.raises(UserError, match="carry nothing the bot-likeness model reads") as caught:
        score_accounts(pd.DataFrame({"name": ["a", "b"], "score": [1, 2]}))
    assert "followers" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UserError, match="carry nothing"):
        score_accounts(pd.DataFrame({"followers": [None, "?"]}))


def test_something_other_than_a_dataframe_is_a_user_error():
    with pytest.raises(UserError, match="must be a pandas DataFrame"):
        score_accounts([{"followers": 3}])


def test_repeated_index_labels_are_scored_row_by_row(caverlee):
    profiles, _ = caverlee
    repeated = profiles.head(4).set_axis([7, 7, 7, 7])
    scored = score_accounts(repeated)
    assert list(scored.index) == [7, 7, 7, 7]
    assert np.allclose(scored["bot_like_score"], score_accounts(profiles.head(4))["bot_like_score"])


# --- features --------------------------------------------------------------------------------------------

def test_profile_features_read_every_canonical_column():
    profiles = pd.DataFrame({
        "account_id": ["1", "2"], "handle": ["@news4you2023", "JaneDoe"], "display_name": ["", "Jane Doe"],
        "created_at": ["2023-01-01T00:00:00Z", "Wed Oct 10 20:19:24 +0000 2018"], "description": [None, "Diplomat."],
        "location": ["", "Geneva"], "verified": [False, True], "protected": ["false", "false"],
        "followers": [10, 5000], "following": [900, 300], "posts_count": [36500, 2000], "listed_count": [0, 50],
        "has_url": [False, True], "observed_at": ["2024-01-01", "2024-01-01"]})
    features = profile_features(profiles)
    bot, human = features.iloc[0], features.iloc[1]
    assert bot["account_age_days"] == 365 and bot["posts_per_day"] == 100
    assert bot["following_per_follower"] == 90 and human["listed_per_follower"] == 0.01
    assert bot["handle_length"] == 12 and bot["handle_digits"] == 5 and human["handle_digits"] == 0
    assert bot["description_length"] == 0 and bot["default_profile"] == 1 and human["default_profile"] == 0
    assert bot["has_location"] == 0 and human["has_location"] == 1
    assert np.isnan(bot["display_name_similarity"]) and human["display_name_similarity"] == 1.0
    assert human["handle_entropy"] > 2 and human["verified"] == 1 and human["protected"] == 0


def test_age_is_unknown_without_an_observation_time_never_the_machine_clock():
    profiles = pd.DataFrame({"created_at": ["2019-01-01", "2020-01-01"], "followers": [1, 2]})
    assert profile_features(profiles)["account_age_days"].isna().all()
    given = profile_features(profiles, observed_at="2021-01-01")["account_age_days"]
    assert given.tolist() == [731, 366]
    per_row = profile_features(profiles.assign(observed_at=["2019-01-11", None]), observed_at="2021-01-01")
    assert per_row["account_age_days"].tolist() == [10, 366]


def test_activity_features_describe_each_accounts_posting():
    hours = pd.date_range("2024-03-01 00:00", periods=48, freq="h", tz="UTC")
    posts = pd.DataFrame({
        "account_handle": ["@Clock"] * 48 + ["Person"] * 4,
        "created_at": list(hours) + ["2024-03-01 09:00Z", "2024-03-01 09:05Z", "2024-03-03 18:00Z",
                                     "2024-03-09 12:00Z"],
        "is_repost": [True] * 48 + [False, True, False, False],
        "platform": ["twitter"] * 52,
    })
    # Two batches concatenated, as a caller gathers them: index labels repeat.
    activity = activity_features(pd.concat([posts.iloc[:30], posts.iloc[30:].reset_index(drop=True)]))
    activity = activity.set_index("handle")
    clock, person = activity.loc["clock"], activity.loc["person"]
    assert clock["interval_cv"] == 0 and clock["repost_share"] == 1 and clock["posts_per_active_day"] == 24
    assert clock["night_share"] == 0.25 and clock["source_count"] == 1
    assert person["interval_cv"] > 0.5 and person["repost_share"] == 0.25 and person["night_share"] == 0
    assert person["last_post_at"] == pd.Timestamp("2024-03-09 12:00Z")


def test_activity_joins_profiles_by_id_then_handle_and_dates_the_observation():
    posts = pd.DataFrame({"account_id": ["42", "42", "42", None, None],
                          "account_handle": ["someone", "someone", "someone", "Other", "Other"],
                          "created_at": ["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-01", "2024-01-02"]})
    profiles = pd.DataFrame({"account_id": ["42", "7", "8"], "handle": ["renamed", "@OTHER", "nobody"],
                             "created_at": ["2023-12-25", "2023-12-01", "2023-01-01"]})
    features = profile_features(profiles, activity_features(posts))
    assert features["activity_posts"].tolist()[:2] == [3, 2] and np.isnan(features["activity_posts"].iloc[2])
    # The latest post (2024-01-04) is the observation time when nothing else gives one.
    assert features["account_age_days"].tolist() == [10, 34, 368]



def test_activity_accumulated_batch_by_batch_is_activity_features_of_the_whole(tmp_path):
    columns = ["platform", "account_id", "account_handle", "created_at", "is_repost"]
    posts = pd.concat([batch.posts for batch in ingest_batches(plan_inputs([str(SAMPLE_POSTS)]),
                                                               load_config(overrides={"batch_size": 300}))])
    when = pd.Timestamp("2019-05-01 12:00", tz="UTC")
    # What real exports also hold: renamed accounts (two handles for one id at the same second,
    # in different batches: the first seen is kept), handles alone, another platform, no time.
    odd = pd.DataFrame({"platform": ["twitter", "twitter", "mastodon", "mastodon", "twitter", "twitter"],
                        "account_id": ["42", "42", None, None, None, "7"],
                        "account_handle": ["@First", "second", "@Someone", "someone", None, "undated"],
                        "created_at": [when, when, when, when + pd.Timedelta(hours=3), when, pd.NaT],
                        "is_repost": [False, True, True, None, False, False]})
    posts = posts[columns].reset_index(drop=True)
    batches = [posts.iloc[:1000], odd.iloc[[0, 2, 4]], posts.iloc[1000:2200], odd.iloc[[1, 3, 5]], posts.iloc[2200:]]
    accumulator = ActivityAccumulator(tmp_path)
    for batch in batches:
        accumulator.update(batch)
    accumulated = accumulator.finish()
    pd.testing.assert_frame_equal(accumulated, activity_features(pd.concat(batches)))
    assert accumulated.set_index("account_id").loc["42", "handle"] == "first"
    assert not any(tmp_path.iterdir())  # the spilled records are gone


def test_activity_of_no_posts_or_of_undatable_posts():
    assert ActivityAccumulator().finish() is None
    accumulator = ActivityAccumulator()
    accumulator.update(pd.DataFrame({"platform": ["x"], "account_id": ["1"], "account_handle": ["a"],
                                     "created_at": [pd.NaT], "is_repost": [False]}))
    found = accumulator.finish()
    assert found.empty and list(found.columns) == list(activity_features(pd.DataFrame(
        {"account_id": ["1"], "created_at": [None]})).columns)

# --- the accounts of the embedded sample: real, official, run by people ----------------------------------

def test_the_shipped_model_does_not_flag_the_official_accounts_of_the_sample(world_leaders):
    accounts, activity = world_leaders
    assert len(accounts) == 16 and len(activity) == 16
    scored = score_accounts(accounts, activity=activity)
    features = profile_features(accounts, activity)
    assert features["activity_posts"].notna().all() and features["interval_cv"].notna().all()
    assert not scored["bot_like"].any(), scored.loc[scored["bot_like"], ["handle", "bot_like_reason"]]
