"""X/Twitter account archive ("Download an archive of your data").

The archive's `data/` folder holds one JavaScript file per kind of data, each assigning a
JSON array: `tweets.js` is `window.YTD.tweets.part0 = [{"tweet": {...}}, ...]` (older
archives: `tweet.js`, `window.YTD.tweet.part0`; large ones add `tweets-part1.js`...). The
author is not in the tweets: it comes from `account.js` beside them. Only tweets files are
posts; account.js, like.js, follower.js... are detected as nothing, so a whole extracted
archive folder can be given as input.
"""

from __future__ import annotations

import html
import json
import re
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

from pipeline.ingest.native import as_dict, convert_items, dicts
from pipeline.ingest.records import (
    InputTooLarge, RawRecord, ReadOptions, iter_json_array_items, open_text,
)
from pipeline.ingest.sniff import Sample
from pipeline.ingest.tabular import twitter_post_process
from pipeline.registry import register_reader

_TWEETS_VARIABLE = re.compile(r"window\.YTD\.tweets?\.part\d+\s*=")
# Inside the zip: data/tweets.js, data/tweets-part1.js... (also below a top folder, when the
# extracted archive was zipped again). Names are only matched, never used as disk paths.
_TWEETS_MEMBER = re.compile(r"(?:^|/)data/tweets?(?:-part(\d+))?\.js$")
# A quote tweet shows in the archive as a link to the quoted tweet (no quoted_status field).
_STATUS_URL = re.compile(r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/\w+/status/(\d+)")
_MEDIA_TYPES = {"photo": "photo", "video": "video", "animated_gif": "gif"}
# A damaged or encrypted member costs that member, not the rest of the archive.
_UNREADABLE_MEMBER = (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, zlib.error, InputTooLarge)


def _looks_tweets_js(sample: Sample) -> bool:
    return sample.container == "x-archive-js" and _TWEETS_VARIABLE.match(sample.text.lstrip()) is not None


def _looks_archive_zip(sample: Sample) -> bool:
    return sample.container == "zip" and any(_TWEETS_MEMBER.search(name) for name in sample.zip_names)


@register_reader("x-archive", "X/Twitter archive tweets.js (author from account.js beside it)",
                 _looks_tweets_js, priority=20)
def read_tweets_js(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    account_file = path.parent / "account.js"
    author = _account(_read_text(account_file, options)) if account_file.is_file() else {}
    return _tweets(_read_text(path, options), author)


@register_reader("x-archive-zip", "X/Twitter archive .zip as downloaded (read in place, not extracted)",
                 _looks_archive_zip, priority=20)
def read_archive_zip(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        offset = 0  # rows are numbered across all parts: the zip is one source file
        for member in sorted((name for name in names if _TWEETS_MEMBER.search(name)), key=_part_order):
            account_member = member.rsplit("/", 1)[0] + "/account.js"
            author = _zip_account(archive, account_member, options) if account_member in names else {}
            try:
                text = _member_text(archive, member, options)
            except _UNREADABLE_MEMBER as exc:
                offset += 1
                yield RawRecord(offset, member, error=f"cannot read {member} in the zip: {exc}")
                continue
            last = offset
            for record in _tweets(text, author):
                record.source_row += offset
                last = record.source_row
                yield record
            offset = last


def _part_order(name: str) -> tuple[str, int]:
    match = _TWEETS_MEMBER.search(name)
    return name[: match.start()], int(match.group(1) or 0)


def _read_text(path: Path, options: ReadOptions) -> str:
    with open_text(path, options.max_decompressed_bytes) as handle:
        return handle.read()


def _zip_account(archive: zipfile.ZipFile, name: str, options: ReadOptions) -> dict:
    try:
        return _account(_member_text(archive, name, options))
    except _UNREADABLE_MEMBER:
        return {}  # tweets without an author are still worth reading


def _member_text(archive: zipfile.ZipFile, name: str, options: ReadOptions) -> str:
    """A member read in memory (never extracted: its name may hold ../), at most
    `ingest.max_decompressed_bytes` of it (the size the zip declares can lie)."""
    limit = options.max_decompressed_bytes
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"{name} inflates to more than {limit:,} bytes (ingest.max_decompressed_bytes)")
    # The same decoding as open_text: a BOM skipped, bad bytes kept for the quarantine.
    return data.decode("utf-8-sig", errors="surrogateescape")


def _array_start(text: str) -> int:
    """Where the JSON array assigned by `window.YTD.<kind>.partN = [...]` opens (-1: nowhere)."""
    equals = text.find("=")
    return -1 if equals < 0 else text.find("[", equals)


def _account(text: str) -> dict:
    """The `account` object of account.js; {} when it cannot be read (tweets stay readable)."""
    start = _array_start(text)
    try:
        entries = json.loads(text[start:]) if start >= 0 else []
    except (json.JSONDecodeError, RecursionError):
        return {}
    accounts = dicts(entries)
    return as_dict(accounts[0].get("account")) if accounts else {}


def _tweets(text: str, author: dict) -> Iterator[RawRecord]:
    start = _array_start(text)
    if start < 0:
        if text.strip():  # an empty part (a cut download) has no rows to report
            yield RawRecord(1, text, error="no JSON array after the window.YTD assignment")
        return
    yield from convert_items(iter_json_array_items(text, start), lambda item: _tweet_fields(item, author), "X archive")


def _tweet_fields(item: dict, author: dict) -> dict:
    # Archives wrap each tweet in {"tweet": {...}}; an item may also be the bare tweet (early archives).
    tweet = item["tweet"] if isinstance(item.get("tweet"), dict) else item
    urls = dicts(as_dict(tweet.get("entities")).get("urls"))
    media = dicts(as_dict(tweet.get("extended_entities")).get("media"))
    quoted = [m.group(1) for m in (_STATUS_URL.match(str(u.get("expanded_url") or "")) for u in urls) if m]
    fields = {
        "post_id": tweet.get("id_str") or tweet.get("id"),
        "account_id": author.get("accountId"),
        "account_handle": author.get("username"),
        "created_at": tweet.get("created_at"),
        "text": _display_text(tweet.get("full_text"), urls),
        "lang_declared": tweet.get("lang"),
        "likes": tweet.get("favorite_count"),
        "reposts": tweet.get("retweet_count"),
        "reply_to_id": tweet.get("in_reply_to_status_id_str"),
        "reply_to_handle": tweet.get("in_reply_to_screen_name"),
        "quote_of_id": quoted[0] if quoted else None,
        "media_type": _media_type(media, has_link=len(urls) > len(quoted)),
    }
    twitter_post_process(fields)  # platform "twitter" and the tweet's URL
    return fields


def _display_text(full_text, urls: list[dict]):
    """The text as X shows it: HTML entities decoded, t.co links replaced by their targets
    (the target's domain is what link analysis needs)."""
    if not isinstance(full_text, str):
        return full_text  # canonical.py quarantines it with the right reason
    text = html.unescape(full_text)  # the archive escapes &, < and > as in the v1.1 API
    for url in urls:
        if isinstance(url.get("url"), str) and isinstance(url.get("expanded_url"), str):
            text = text.replace(url["url"], url["expanded_url"])
    return text


def _media_type(media: list[dict], has_link: bool) -> str | None:
    if media:
        kind = media[0].get("type")
        return _MEDIA_TYPES.get(kind, kind)
    return "link" if has_link else None
