"""CrowdTangle CSV exports (Facebook pages): reactions, thousands separators, US zone names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest import plan_inputs

CROWDTANGLE = Path(__file__).parent / "fixtures" / "crowdtangle.csv"
MFA_POST = "https://www.facebook.com/104958162837166/posts/3874512925893002"
EMBASSY_VIDEO = "https://www.facebook.com/AmbAtlantisRabat/videos/402251671438815"
STATEMENT = "https://www.facebook.com/104958162837166/posts/4490311204313168"


@pytest.fixture(scope="module")
def crowdtangle(run_ingest):
    return run_ingest([CROWDTANGLE], {"batch_size": 2})


def test_crowdtangle_export_is_detected_from_its_header():
    [planned] = plan_inputs([str(CROWDTANGLE)])
    assert planned.reader.name == "crowdtangle"


def test_crowdtangle_counts_balance(crowdtangle):
    assert (crowdtangle.read, len(crowdtangle.posts), len(crowdtangle.quarantine), crowdtangle.duplicates) == (5, 3, 1, 1)


def test_crowdtangle_post_maps_page_and_engagement_columns(crowdtangle):
    row = crowdtangle.post(MFA_POST)
    assert row["post_id_origin"] == "native"
    assert row["url"] == MFA_POST
    assert row["platform"] == "facebook"
    assert (row["account_id"], row["account_handle"]) == ("104958162837166", "MFAAtlantis")
    assert row["text"] == ("The Minister met the Secretary-General of the African Union in Addis Ababa "
                           "to discuss peace and security in the Sahel.")
    assert row["media_type"] == "Photo"
    assert row["followers"] == 1_348_920  # "1,348,920" at posting time
    # Likes are every reaction (Likes, Love, Wow, Haha, Sad, Angry, Care): 2,210+98+17+4+12+7+14.
    assert row["likes"] == 2362
    assert (row["replies"], row["reposts"], row["views"]) == (143, 312, 0)
    assert pd.isna(row["quotes"])
    assert row["lang_declared"] is None  # CrowdTangle has no language column
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, False, False)


def test_crowdtangle_zone_names_are_converted_to_utc(crowdtangle):
    assert crowdtangle.post(MFA_POST)["created_at"] == pd.Timestamp("2021-01-06 22:03:43", tz="UTC")  # EST
    assert crowdtangle.post(EMBASSY_VIDEO)["created_at"] == pd.Timestamp("2021-07-14 13:30:00", tz="UTC")  # EDT
    assert crowdtangle.post(STATEMENT)["created_at"] == pd.Timestamp("2021-11-02 12:15:27", tz="UTC")  # EDT


def test_crowdtangle_video_keeps_arabic_text_and_views(crowdtangle):
    row = crowdtangle.post(EMBASSY_VIDEO)
    assert row["text"] == "بمناسبة العيد الوطني، يتشرف سفير أتلانتس بتهنئة الشعب المغربي الشقيق 🇲🇦"
    assert (row["account_id"], row["account_handle"]) == ("1539021766372054", "AmbAtlantisRabat")
    assert row["media_type"] == "Native Video"
    assert (row["likes"], row["replies"], row["reposts"], row["views"], row["followers"]) == (888, 57, 101, 12480, 52877)


def test_crowdtangle_link_post_without_message_is_quarantined(crowdtangle):
    [row] = crowdtangle.quarantine.to_dict("records")
    assert (row["source_row"], row["format"], row["reason"]) == (3, "crowdtangle", "missing text")
    assert row["raw"].startswith("Ambassade d'Atlantis au Maroc,AmbAtlantisRabat,1539021766372054,")
    assert "https://www.facebook.com/AmbAtlantisRabat/posts/4102985519761283,,https://www.mfa.atlantis" in row["raw"]


def test_crowdtangle_repeated_post_from_overlapping_exports_is_a_duplicate(crowdtangle):
    assert crowdtangle.posts["post_id"].tolist() == [MFA_POST, EMBASSY_VIDEO, STATEMENT]
    assert crowdtangle.duplicates == 1


def test_crowdtangle_reaction_that_is_not_a_number_quarantines_the_row(run_ingest, tmp_path):
    lines = CROWDTANGLE.read_text("utf-8").splitlines()
    header, first = lines[0], lines[1]
    reactions = '"2,210",143,312,98,17,'  # Likes, Comments, Shares, Love, Wow
    assert reactions in first
    path = tmp_path / "crowdtangle.csv"
    path.write_text(header + "\n" + first.replace(reactions, '"2,210",143,312,n/a,17,') + "\n", "utf-8")
    result = run_ingest([path])
    assert len(result.posts) == 0
    assert result.reasons() == {1: "likes is not a non-negative integer"}
