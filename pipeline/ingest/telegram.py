"""Telegram Desktop chat export (`result.json`, "Export chat history" in JSON).

One chat per file: `{"name", "type", "id", "messages": [...]}`. Message ids count per
chat, so a post id is "<chat id>/<message id>". `date` is the exporting computer's local
time; `date_unixtime` (in newer exports) is the real instant and is preferred.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from pipeline.ingest.native import JSON_CONTAINERS, NotAPost, as_dict, convert_items, dicts
from pipeline.ingest.records import RawRecord, ReadOptions, object_members_before
from pipeline.ingest.sniff import Sample
from pipeline.ingest.tabular import iter_json_document_items
from pipeline.registry import register_reader

SERVICE_MESSAGE = "telegram service message (not a post)"
_MEDIA_TYPES = {
    "video_file": "video", "video_message": "video", "animation": "gif",
    "voice_message": "audio", "audio_file": "audio", "sticker": "sticker",
}
_LINK_ENTITIES = ("link", "text_link")


def _looks_telegram(sample: Sample) -> bool:
    # One chat's export; the full-account export (chats under "chats.list") is another shape.
    header = _chat_header(sample.text) if sample.container in JSON_CONTAINERS else None
    return header is not None and {"type", "id"} <= header.keys()


@register_reader("telegram", "Telegram Desktop chat export (result.json)", _looks_telegram, priority=20)
def read_telegram(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    chat = _chat_header(sample.text) or {}
    return convert_items(iter_json_document_items(path, ("messages",), options.max_decompressed_bytes),
                         lambda message: _message_fields(message, chat), "Telegram")


def _chat_header(text: str) -> dict | None:
    """The chat's own fields (name, type, id), which the export writes before `messages`;
    None when the text is not an object with a top-level `messages` list."""
    found = object_members_before(text, ("messages",))
    return None if found is None else found[0]


def _message_fields(message: dict, chat: dict) -> dict:
    if message.get("type") == "service":
        raise NotAPost(SERVICE_MESSAGE)
    chat_id = chat.get("id")

    def in_chat(message_id: Any) -> str | None:
        # Without the chat id a message id is ambiguous: better no id than a false duplicate.
        return None if chat_id is None or message_id is None else f"{chat_id}/{message_id}"

    return {
        "post_id": in_chat(message.get("id")),
        "platform": "telegram",
        "account_id": message.get("from_id"),
        # The export has the sender's display name, not the @username.
        "account_handle": message.get("from"),
        "created_at": message.get("date_unixtime") or message.get("date"),
        "text": _plain_text(message.get("text")),
        "reply_to_id": in_chat(message.get("reply_to_message_id")),
        "is_repost": "forwarded_from" in message,  # the key is there (maybe null) for every forward
        "likes": _reaction_total(message.get("reactions")),
        "media_type": _media_type(message),
    }


def _plain_text(text: Any) -> Any:
    """`text` is a string, or a list of strings and entity objects ({"type", "text", ...})."""
    if not isinstance(text, list):
        return text
    return "".join(part if isinstance(part, str) else as_dict(part).get("text") or "" for part in text)


def _reaction_total(reactions: Any) -> Any:
    counts = [reaction.get("count") for reaction in dicts(reactions)]
    if not counts:
        return None  # no reactions key: older exports, or reactions off; unknown, not zero
    if all(isinstance(count, int) and not isinstance(count, bool) for count in counts):
        return sum(counts)
    return "; ".join(map(str, counts))  # not numbers: canonical.py quarantines the row


def _media_type(message: dict) -> str | None:
    if "photo" in message:
        return "photo"
    if message.get("media_type"):
        return _MEDIA_TYPES.get(message["media_type"], message["media_type"])
    if "file" in message:
        return "file"
    if isinstance(message.get("text"), list) and any(
            entity.get("type") in _LINK_ENTITIES for entity in dicts(message["text"])):
        return "link"
    return None
