"""Telegram Desktop chat exports (result.json): entity lists, reactions, service messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest import plan_inputs

RESULT_JSON = Path(__file__).parent / "fixtures" / "telegram_result.json"
CHANNEL = "1580237391"
CHANNEL_NAME = "Ministère des Affaires étrangères d’Atlantis"


@pytest.fixture(scope="module")
def channel(run_ingest):
    return run_ingest([RESULT_JSON], {"batch_size": 3})


def test_telegram_export_is_detected_from_its_content():
    [planned] = plan_inputs([str(RESULT_JSON)])
    assert planned.reader.name == "telegram"


def test_telegram_counts_balance(channel):
    assert (channel.read, len(channel.posts), len(channel.quarantine), channel.duplicates) == (7, 5, 2, 0)


def test_message_ids_are_prefixed_with_the_chat_id(channel):
    assert channel.posts["post_id"].tolist() == [f"{CHANNEL}/{n}" for n in (2, 3, 4, 5, 7)]
    row = channel.post(f"{CHANNEL}/2")
    assert (row["platform"], row["post_id_origin"]) == ("telegram", "native")
    assert (row["account_id"], row["account_handle"]) == (f"channel{CHANNEL}", CHANNEL_NAME)
    assert row["source_row"] == 2


def test_created_at_is_the_unix_time_not_the_exporters_local_time(channel):
    # "date" says 12:30 (the exporting computer was at UTC+1); date_unixtime is 11:30 UTC.
    assert channel.post(f"{CHANNEL}/2")["created_at"] == pd.Timestamp("2023-01-03 11:30:00", tz="UTC")


def test_text_joins_plain_parts_and_entity_texts(channel):
    row = channel.post(f"{CHANNEL}/2")
    assert row["text"] == ("La ministre s’est entretenue avec son homologue malien. Coopération sécuritaire et "
                           "aide humanitaire au menu. #Sahel\n\nLire le communiqué")
    assert row["media_type"] == "link"  # a text_link entity
    forwarded = channel.post(f"{CHANNEL}/5")
    assert forwarded["text"] == ("Alerte consulaire : l’Ambassade à Paris reste à la disposition de nos "
                                 "ressortissants.")


def test_likes_are_the_sum_of_all_reactions(channel):
    assert channel.post(f"{CHANNEL}/2")["likes"] == 42 + 13
    assert channel.post(f"{CHANNEL}/7")["likes"] == 18 + 2  # custom emoji reactions count too
    assert pd.isna(channel.post(f"{CHANNEL}/4")["likes"])  # no reactions recorded: unknown


def test_arabic_photo_message_keeps_its_text(channel):
    row = channel.post(f"{CHANNEL}/3")
    assert row["text"] == "وزير الخارجية يستقبل سفير المملكة المغربية لبحث تعزيز العلاقات الثنائية"
    assert row["media_type"] == "photo"
    assert channel.post(f"{CHANNEL}/7")["media_type"] == "video"


def test_reply_points_at_the_message_in_the_same_chat(channel):
    row = channel.post(f"{CHANNEL}/4")
    assert (row["is_reply"], row["reply_to_id"], row["is_repost"]) == (True, f"{CHANNEL}/3", False)


def test_forwarded_message_is_a_repost(channel):
    row = channel.post(f"{CHANNEL}/5")
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, True, False)


def test_service_message_and_broken_message_are_quarantined_with_their_json(channel):
    service, broken = channel.quarantine.sort_values("source_row").to_dict("records")
    assert (service["source_row"], service["format"], service["reason"]) == (
        1, "telegram", "telegram service message (not a post)")
    assert json.loads(service["raw"])["action"] == "create_channel"
    assert broken["source_row"] == 6
    assert broken["reason"].startswith("invalid JSON: Expecting ',' delimiter")
    assert broken["raw"].startswith('{\n   "id": 6,') and "Visite de travail à Genève." in broken["raw"]


def small_chat(**message) -> dict:
    """A one-message channel export, as Telegram Desktop writes it."""
    return {"name": "Ambassade", "type": "public_channel", "id": 42, "messages": [
        {"id": 9, "type": "message", "date": "2020-03-01T10:00:00", "from": "Ambassade", "from_id": "channel42",
         "text": "Fermeture exceptionnelle du consulat.", **message}]}


def test_export_without_date_unixtime_falls_back_to_date(run_ingest, tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(small_chat(), indent=1), "utf-8")
    row = run_ingest([path]).post("42/9")
    assert row["created_at"] == pd.Timestamp("2020-03-01 10:00:00", tz="UTC")


def test_full_account_export_is_not_taken_for_one_chat(tmp_path):
    # "Export Telegram data" puts every chat under chats.list: reading only the first would mislead.
    path = tmp_path / "result.json"
    export = {"about": "Here is the data you requested.", "chats": {"about": "", "list": [small_chat()]}}
    path.write_text(json.dumps(export, indent=1), "utf-8")
    [planned] = plan_inputs([str(path)])
    assert planned.reader.name != "telegram"


def test_message_of_unexpected_shape_is_quarantined_not_raised(run_ingest, tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(small_chat(text=[{"type": "bold", "text": ["Fermeture"]}]), indent=1), "utf-8")
    result = run_ingest([path])
    assert (result.read, len(result.posts)) == (1, 0)
    assert result.reasons()[1].startswith("unexpected Telegram item structure (TypeError(")
