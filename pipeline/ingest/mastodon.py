"""Mastodon statuses as the REST API returns them (`/api/v1/accounts/:id/statuses`...).

A JSON array of statuses, one status object, JSON lines of statuses, or a v2 search result
(`{"statuses": [...]}`). A status's text is HTML; a reblog is a status whose `reblog`
holds the reblogged status (its own `content` is empty).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from pipeline.ingest.native import JSON_CONTAINERS, as_dict, convert_items, dicts, json_items
from pipeline.ingest.records import RawRecord, ReadOptions
from pipeline.ingest.sniff import Sample
from pipeline.registry import register_reader

_MEDIA_TYPES = {"image": "photo", "gifv": "gif", "video": "video", "audio": "audio", "unknown": "file"}


def _looks_mastodon(sample: Sample) -> bool:
    # favourites_count (British spelling) and reblogs_count name Mastodon's counters only.
    return (sample.container in JSON_CONTAINERS and '"favourites_count"' in sample.text
            and '"reblogs_count"' in sample.text)


@register_reader("mastodon", "Mastodon statuses (REST API JSON: array, object or JSON lines)",
                 _looks_mastodon, priority=20)
def read_mastodon(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    return convert_items(json_items(path, sample, ("statuses",), options.max_decompressed_bytes), _status_fields, "Mastodon")


def _status_fields(status: dict) -> dict:
    reblogged = as_dict(status.get("reblog"))
    shown = reblogged or status  # what the timeline shows: the reblogged status, if any
    account = as_dict(status.get("account"))
    return {
        "post_id": status.get("id"),
        "platform": "mastodon",
        "account_id": account.get("id"),
        "account_handle": _full_acct(account),
        "created_at": status.get("created_at"),
        "text": _status_text(shown),
        "lang_declared": shown.get("language"),
        "is_repost": bool(reblogged),
        "repost_of_id": reblogged.get("id"),
        "reply_to_id": status.get("in_reply_to_id"),
        "media_type": _media_type(shown),
        "url": status.get("url") or shown.get("url"),
        "likes": status.get("favourites_count"),
        "reposts": status.get("reblogs_count"),
        "replies": status.get("replies_count"),
        "followers": account.get("followers_count"),
    }


def _full_acct(account: dict) -> Any:
    """`acct` is bare ("user") for accounts of the server that answered, "user@server" for
    the others: complete it from the profile URL so an account has one handle everywhere."""
    acct = account.get("acct")
    if not isinstance(acct, str) or "@" in acct:
        return acct
    server = urlsplit(str(account.get("url") or "")).hostname
    return f"{acct}@{server}" if server else acct


def _status_text(status: dict) -> Any:
    content = status.get("content")
    if not isinstance(content, str):
        return content  # canonical.py quarantines a wrong type
    text = html_to_text(content)
    warning = status.get("spoiler_text")
    # A content warning is written by the author too, and often names the topic.
    return f"{warning}\n{text}" if isinstance(warning, str) and warning.strip() else text


def _media_type(status: dict) -> str | None:
    media = dicts(status.get("media_attachments"))
    if media:
        kind = media[0].get("type")
        return _MEDIA_TYPES.get(kind, kind)
    return "link" if as_dict(status.get("card")) else None


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)  # entities arrive already unescaped
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "p":
            self.parts.append("\n")

    def handle_data(self, data):
        # Links keep their full URL: Mastodon splits it into visible and "invisible" spans.
        self.parts.append(data)


def html_to_text(content: str) -> str:
    """Mastodon's status HTML (p, br, a, span) as plain text: a line per paragraph or break."""
    parser = _TextExtractor()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()
