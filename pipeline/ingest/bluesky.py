"""Bluesky posts, in the shapes the AT Protocol APIs return them.

A JSON array, JSON lines, or a response document with its list under "posts"
(getPosts), "feed" (getAuthorFeed, getTimeline) or "records" (listRecords). Each item is
one of: a postView (`uri`, `author`, `record`, counts), a feedViewPost (`{"post":
postView, "reason": ...}`), a repo record (`{"uri", "cid", "value": record}`) or a bare
`app.bsky.feed.post` record (`text`, `createdAt`, `langs`, `reply`, `embed`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from pipeline.ingest.native import JSON_CONTAINERS, as_dict, convert_items, json_items
from pipeline.ingest.records import RawRecord, ReadOptions, nested
from pipeline.ingest.sniff import Sample
from pipeline.registry import register_reader

POST_COLLECTION = "app.bsky.feed.post"
_REPOST_REASON = "app.bsky.feed.defs#reasonRepost"
_AT_URI_FIELD = re.compile(r'"uri"\s*:\s*"at://')
_MEDIA_TYPES = {
    "app.bsky.embed.images": "photo",
    "app.bsky.embed.video": "video",
    "app.bsky.embed.external": "link",
}


def _looks_bluesky(sample: Sample) -> bool:
    # Quoted as a whole JSON string, so a post merely mentioning them does not count.
    return sample.container in JSON_CONTAINERS and (
        f'"{POST_COLLECTION}"' in sample.text or _AT_URI_FIELD.search(sample.text) is not None)


@register_reader("bluesky", "Bluesky posts (postView, feedViewPost, repo records; JSON or JSON lines)",
                 _looks_bluesky, priority=20)
def read_bluesky(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    return convert_items(json_items(path, sample, ("posts", "feed", "records"), options.max_decompressed_bytes), _item_fields, "Bluesky")


def _item_fields(item: dict) -> dict:
    view = _post_view(item)
    record = as_dict(view.get("record"))
    author = as_dict(view.get("author"))
    uri = view.get("uri")
    embed = as_dict(record.get("embed"))
    langs = record.get("langs")
    fields = {
        "post_id": uri,  # none for a bare record: canonical.py derives one from the content
        "platform": "bluesky",
        "account_id": author.get("did") or _at_uri(uri)[0],
        "account_handle": author.get("handle"),
        "created_at": record.get("createdAt"),
        "text": record.get("text"),
        "lang_declared": langs[0] if isinstance(langs, list) and langs else None,
        "reply_to_id": nested(record, "reply.parent.uri"),
        "quote_of_id": _quoted_uri(embed),
        "media_type": _media_type(embed),
        "url": _web_url(uri, author.get("handle")),
        "likes": view.get("likeCount"),
        "reposts": view.get("repostCount"),
        "replies": view.get("replyCount"),
        "quotes": view.get("quoteCount"),
    }
    reason = as_dict(item.get("reason"))
    if reason.get("$type") == _REPOST_REASON:
        # In a feed, a repost shows the original post; the post of this feed entry is the
        # reposting: by `reason.by`, at `reason.indexedAt`, with no engagement of its own.
        by = as_dict(reason.get("by"))
        fields.update(
            post_id=reason.get("uri"), account_id=by.get("did"), account_handle=by.get("handle"),
            created_at=reason.get("indexedAt"), is_repost=True, repost_of_id=uri,
            reply_to_id=None, quote_of_id=None, likes=None, reposts=None, replies=None, quotes=None)
    return fields


def _post_view(item: dict) -> dict:
    """Any accepted item shape as a postView-like object (uri, author, record, counts)."""
    if isinstance(item.get("post"), dict):
        return item["post"]  # feedViewPost
    if isinstance(item.get("record"), dict):
        return item  # postView
    if isinstance(item.get("value"), dict):
        return {"uri": item.get("uri"), "record": item["value"]}  # repo record
    return {"record": item}  # bare post record


def _at_uri(uri: Any) -> tuple[str | None, str | None, str | None]:
    """at://<did>/<collection>/<record key> -> its three parts (None where absent)."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None, None, None
    parts = uri[len("at://"):].split("/")
    parts += [None] * (3 - len(parts))
    return parts[0] or None, parts[1], parts[2]


def _quoted_uri(embed: dict) -> Any:
    kind = embed.get("$type")
    if kind == "app.bsky.embed.record":
        target = nested(embed, "record.uri")
    elif kind == "app.bsky.embed.recordWithMedia":
        target = nested(embed, "record.record.uri")
    else:
        return None
    # An embedded list or feed generator is shared, not quoted: only posts count.
    return target if _at_uri(target)[1] == POST_COLLECTION else None


def _media_type(embed: dict) -> str | None:
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        embed = as_dict(embed.get("media"))
    return _MEDIA_TYPES.get(embed.get("$type"))


def _web_url(uri: Any, handle: Any) -> str | None:
    did, collection, key = _at_uri(uri)
    if collection != POST_COLLECTION or not key:
        return None
    return f"https://bsky.app/profile/{handle or did}/post/{key}"
