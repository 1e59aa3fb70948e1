"""X/Twitter account archives: tweets.js with account.js beside it, extracted folders, the .zip."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import UserError
from pipeline.ingest import plan_inputs

ARCHIVE = Path(__file__).parent / "fixtures" / "x_archive"
DATA = ARCHIVE / "data"
TWEETS = DATA / "tweets.js"

MFA_ID = "1187329107381612544"
SAHEL, ARABIC_PHOTO, REPLY, RETWEET, QUOTE, BROKEN, VIDEO = (
    "1610237034004287488", "1610547831930687488", "1611025911283519488", "1611289510707007488",
    "1611714288844607488", "1612026324090687488", "1612494408417087488")
PART1_FORUM, PART1_ARABIC = "1605140954644287488", "1605480693268287488"


@pytest.fixture(scope="module")
def tweets(run_ingest):
    return run_ingest([TWEETS], {"batch_size": 3})


@pytest.fixture
def archive_zip(tmp_path):
    """The archive as X delivers it: data/ and assets/ at the root of the zip."""
    path = tmp_path / "twitter-2023-01-10-3f9c2a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Your archive.html", "<html><body>Your archive</body></html>")
        archive.writestr("assets/js/main.js", "window.__THAR_CONFIG = {};")
        for source in sorted(DATA.iterdir()):
            archive.write(source, f"data/{source.name}")
    return path


def test_tweets_js_and_the_archive_zip_are_detected_from_their_content(archive_zip):
    planned = {p.path.name: p.reader.name for p in plan_inputs([str(TWEETS), str(archive_zip)])}
    assert planned == {"tweets.js": "x-archive", archive_zip.name: "x-archive-zip"}


def test_account_js_and_other_archive_files_are_not_post_files():
    planned = {p.path.name: p.reader and p.reader.name for p in plan_inputs([str(ARCHIVE)])}
    assert planned == {"account.js": None, "like.js": None, "tweets.js": "x-archive", "tweets-part1.js": "x-archive"}
    with pytest.raises(UserError, match="unknown format"):
        plan_inputs([str(DATA / "like.js")])


def test_tweets_js_counts_balance(tweets):
    assert (tweets.read, len(tweets.posts), len(tweets.quarantine), tweets.duplicates) == (7, 6, 1, 0)


def test_tweet_takes_its_author_from_account_js_and_gets_typed_counts(tweets):
    row = tweets.post(SAHEL)
    assert (row["platform"], row["post_id_origin"]) == ("twitter", "native")
    assert (row["account_id"], row["account_handle"]) == (MFA_ID, "mfa_atlantis")
    assert row["url"] == f"https://twitter.com/mfa_atlantis/status/{SAHEL}"
    assert row["created_at"] == pd.Timestamp("2023-01-03 11:30:00", tz="UTC")
    assert row["lang_declared"] == "fr"
    assert (row["likes"], row["reposts"]) == (310, 85)  # strings in the archive
    assert pd.isna(row["replies"]) and pd.isna(row["views"])  # not in archives
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, False, False)
    assert row["source_row"] == 1


def test_tweet_text_is_unescaped_and_its_tco_links_expanded(tweets):
    row = tweets.post(SAHEL)
    assert row["text"] == (
        "La ministre s’est entretenue avec son homologue malien. Coopération sécuritaire & aide "
        "humanitaire au Sahel. Communiqué : https://www.mfa.atlantis.example/fr/communiques/sahel-2023 #Sahel")
    assert row["media_type"] == "link"


def test_media_types_come_from_extended_entities(tweets):
    photo = tweets.post(ARABIC_PHOTO)
    assert photo["media_type"] == "photo"
    assert photo["text"] == "وزير الخارجية يستقبل سفير المملكة المغربية لبحث تعزيز العلاقات الثنائية https://t.co/Zr8KqT2mWe"
    assert (photo["lang_declared"], photo["likes"], photo["reposts"]) == ("ar", 1204, 233)
    assert tweets.post(VIDEO)["media_type"] == "video"


def test_reply_points_at_the_replied_tweet_and_account(tweets):
    row = tweets.post(REPLY)
    assert (row["is_reply"], row["reply_to_id"], row["reply_to_handle"]) == (True, "1610980071154601984", "UNHumanRights")
    assert row["created_at"] == pd.Timestamp("2023-01-05 15:44:43", tz="UTC")


def test_retweet_is_a_repost_from_its_rt_prefix(tweets):
    row = tweets.post(RETWEET)
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, True, False)
    assert row["text"].startswith("RT @AtlantisEmbParis: L’Ambassade à Paris")
    assert (row["likes"], row["reposts"]) == (0, 42)


def test_link_to_another_tweet_is_a_quote(tweets):
    row = tweets.post(QUOTE)
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, False, True)
    assert row["quote_of_id"] == "1611348212233588737"
    assert row["media_type"] is None  # the only link is the quoted tweet


def test_malformed_tweet_is_quarantined_with_reason_and_raw_text(tweets):
    [row] = tweets.quarantine.to_dict("records")
    assert (row["source_row"], row["format"]) == (6, "x-archive")
    assert row["reason"].startswith("invalid JSON: Invalid control character")
    assert row["raw"].startswith('{\n    "tweet" : {\n      "retweeted" : false,\n      "favorite_count" : "15,')
    assert f'"id_str" : "{BROKEN}"' in row["raw"] and row["raw"].endswith("}")
    assert BROKEN not in set(tweets.posts["post_id"])


def test_extracted_archive_folder_reads_only_the_tweets_files(run_ingest):
    result = run_ingest([ARCHIVE])
    assert (result.read, len(result.posts), len(result.quarantine), result.duplicates) == (9, 8, 1, 0)
    assert set(result.posts["post_id"]) == {SAHEL, ARABIC_PHOTO, REPLY, RETWEET, QUOTE, VIDEO, PART1_FORUM, PART1_ARABIC}
    assert set(result.posts["account_handle"]) == {"mfa_atlantis"}
    assert result.post(PART1_ARABIC)["text"] == "تهنئة خالصة للشعب القطري بمناسبة اليوم الوطني"


def test_archive_zip_reads_every_tweets_part_in_place(run_ingest, archive_zip, tmp_path):
    before = sorted(tmp_path.rglob("*"))
    result = run_ingest([archive_zip], {"batch_size": 4})
    assert sorted(tmp_path.rglob("*")) == before  # nothing extracted
    assert (result.read, len(result.posts), len(result.quarantine), result.duplicates) == (9, 8, 1, 0)
    assert result.formats == {archive_zip.name: "x-archive-zip"}
    # One source file: rows numbered across the parts (tweets.js first, then tweets-part1.js).
    rows = dict(zip(result.posts["post_id"], result.posts["source_row"]))
    assert (rows[SAHEL], rows[VIDEO], rows[PART1_FORUM], rows[PART1_ARABIC]) == (1, 7, 8, 9)
    assert result.quarantine["source_row"].tolist() == [6]
    assert result.post(PART1_FORUM)["url"] == f"https://twitter.com/mfa_atlantis/status/{PART1_FORUM}"


def test_damaged_zip_member_costs_only_that_member(run_ingest, tmp_path):
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.write(DATA / "account.js", "data/account.js")
        archive.write(DATA / "tweets.js", "data/tweets.js")
        archive.write(DATA / "tweets-part1.js", "data/tweets-part1.js")
    content = path.read_bytes()
    flipped = content.index("Forum de Paris".encode())  # inside tweets-part1.js: its CRC no longer matches
    path.write_bytes(content[:flipped] + b"X" + content[flipped + 1:])
    result = run_ingest([path])
    assert (result.read, len(result.posts), len(result.quarantine)) == (8, 6, 2)
    assert result.reasons()[8].startswith("cannot read data/tweets-part1.js in the zip: Bad CRC-32")


def test_tweets_js_without_account_js_has_no_author_and_no_url(run_ingest, tmp_path):
    shutil.copy(TWEETS, tmp_path / "tweets.js")
    result = run_ingest([tmp_path / "tweets.js"])
    row = result.post(SAHEL)
    assert row["account_handle"] is None and row["account_id"] is None and row["url"] is None
    assert row["platform"] == "twitter"


def test_first_archives_tweet_js_without_tweet_wrapper_is_read(run_ingest, tmp_path):
    path = tmp_path / "tweet.js"
    path.write_text(
        'window.YTD.tweet.part0 = [ {\n  "retweeted" : false,\n  "id_str" : "1196591190123847680",\n'
        '  "created_at" : "Tue Nov 19 08:05:00 +0000 2019",\n  "favorite_count" : "40",\n'
        '  "full_text" : "Sommet UA-UE : la déclaration finale",\n  "lang" : "fr"\n} ]', "utf-8")
    result = run_ingest([path])
    assert result.formats == {"tweet.js": "x-archive"}
    row = result.post("1196591190123847680")
    assert (row["text"], row["likes"]) == ("Sommet UA-UE : la déclaration finale", 40)
    assert row["created_at"] == pd.Timestamp("2019-11-19 08:05:00", tz="UTC")
