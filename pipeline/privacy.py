"""Pseudonymization (`--pseudonymize`): the handles and ids of accounts that are not official
are replaced by salted hashes before any stage sees a post, so every output table carries the
same pseudonym for the same account and analyses (replies, coordination, metrics) still work.

Official accounts are those of the accounts registry (`--accounts`); without one, every
account is pseudonymized. A pseudonym is `anon_` + 12 hex digits of HMAC-SHA256(salt, the
lower-cased handle, or the id). The salt never goes into the outputs (it would let anyone
test a guessed handle): it is read from `privacy.salt_file`, by default
`$DIPLOLENS_HOME/pseudonymize.salt` (~/.cache/diplolens), created on first use with 32
random bytes. Keep it to get the same pseudonyms in a later run; delete it to unlink runs.

What is replaced, for posts by non-official accounts: `account_handle`, `account_id`, the
handle and id inside `url`; for every post: `reply_to_handle` and `@mentions` in `text` of
non-official accounts, Bluesky DIDs (`at://did:...`) inside post ids and references unless
an official account's. Quarantined rows cannot be parsed reliably, so their `raw` content is
withheld (its length and a salted hash stay, to tell rows apart).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import pandas as pd

from pipeline.errors import UserError
from pipeline.normalize import MENTION

PREFIX = "anon_"
_AT_DID = re.compile(r"(?<=at://)(did:[a-z]+:[A-Za-z0-9._:%-]+)")
_POST_REFERENCES = ("post_id", "reply_to_id", "repost_of_id", "quote_of_id", "url")


def default_salt_file() -> Path:
    from pipeline.models.encoder import default_encoder_dir

    return default_encoder_dir().parent / "pseudonymize.salt"


def load_salt(salt_file: str, out_dir: Path) -> bytes:
    """The salt from `salt_file` ("" = the default file, created when missing)."""
    path = Path(salt_file) if salt_file else default_salt_file()
    if path.resolve().is_relative_to(Path(out_dir).resolve()):
        raise UserError(f"privacy.salt_file {path} is inside the output folder: the salt would be shared "
                        f"with the outputs; keep it elsewhere")
    if not path.is_file():
        if salt_file:
            raise UserError(f"salt file not found: {path} (leave --salt-file out to use a generated one)")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    salt = path.read_bytes().strip()
    if len(salt) < 16:
        raise UserError(f"salt file {path} holds {len(salt)} bytes; use at least 16 random bytes")
    return salt


class Pseudonymizer:
    def __init__(self, salt: bytes, official_handles: set[str]):
        self.salt = salt
        self.official = {h.lower().lstrip("@") for h in official_handles}
        self.official_ids: set[str] = set()  # ids of official accounts, as posts show them
        self.fingerprint = hashlib.sha256(b"fingerprint:" + salt).hexdigest()[:12]

    def pseudonym(self, value: str) -> str:
        digest = hmac.new(self.salt, value.lower().encode("utf-8", "surrogatepass"), hashlib.sha256)
        return PREFIX + digest.hexdigest()[:12]

    def is_official(self, handle) -> bool:
        return isinstance(handle, str) and handle.lower().lstrip("@") in self.official

    def _pseudonym_of(self, value):
        return value if value is None or pd.isna(value) else self.pseudonym(str(value))

    def posts(self, posts: pd.DataFrame) -> pd.DataFrame:
        posts = posts.copy()
        official = posts["account_handle"].map(self.is_official)
        self.official_ids.update(posts.loc[official, "account_id"].dropna().astype(str))
        others = ~official
        originals = posts.loc[others, ["account_handle", "account_id"]]
        posts.loc[others, "url"] = [
            _replace_identifiers(url, handle, account_id, self) for url, handle, account_id in
            zip(posts.loc[others, "url"], originals["account_handle"], originals["account_id"])]
        posts.loc[others, "account_handle"] = originals["account_handle"].map(self._pseudonym_of)
        posts.loc[others, "account_id"] = originals["account_id"].map(self._pseudonym_of)
        posts["reply_to_handle"] = posts["reply_to_handle"].map(
            lambda h: h if h is None or pd.isna(h) or self.is_official(h) else self.pseudonym(h))
        posts["text"] = posts["text"].map(self._text)
        for name in _POST_REFERENCES:
            posts[name] = posts[name].map(self._dids)
        return posts

    def quarantine(self, quarantine: pd.DataFrame) -> pd.DataFrame:
        quarantine = quarantine.copy()
        quarantine["raw"] = quarantine["raw"].map(
            lambda raw: f"<withheld by --pseudonymize: {len(raw)} characters, {self.pseudonym('raw:' + raw)}>")
        return quarantine

    def _text(self, text):
        if not isinstance(text, str) or "@" not in text:
            return text
        return MENTION.sub(lambda m: m.group() if self.is_official(m.group(1)) else "@" + self.pseudonym(m.group(1)),
                           text)

    def _dids(self, value):
        if not isinstance(value, str) or "at://did:" not in value:
            return value
        return _AT_DID.sub(lambda m: m.group() if m.group() in self.official_ids else self.pseudonym(m.group()),
                           value)


def _replace_identifiers(url, handle, account_id, pseudonymizer: Pseudonymizer):
    """The author's handle (or a Mastodon handle's local part) or id as a segment of a post's
    URL (twitter.com/HANDLE/status/..., server/@USER/...)."""
    if not isinstance(url, str):
        return url
    for value in (handle, handle.split("@")[0] if isinstance(handle, str) else None, account_id):
        if isinstance(value, str) and value:
            url = re.sub(f"(?<=/)(@?){re.escape(value)}(?=[/?#]|$)",
                         lambda m: m.group(1) + pseudonymizer.pseudonym(value), url, flags=re.IGNORECASE)
    return url
