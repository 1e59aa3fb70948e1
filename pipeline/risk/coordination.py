"""Coordination: the same content pushed by several accounts within a short time (`coordinated`).

Two signals, both between distinct accounts of the same platform:

- **near-duplicate text** (copy-paste campaigns): posts whose `text_norm` (at least `min_chars`
  characters; reposts excluded, their text is the original's) have an estimated Jaccard
  similarity of shingles of at least `jaccard_threshold`, posted within `window_seconds` of
  each other. Shingles are character n-grams of the case-folded text by default (robust to
  small edits, and to scripts written without spaces), or word n-grams. MinHash signatures
  and the LSH index are datasketch's. The index slides over the posts in time order and holds
  one window of them, so the work is linear in posts plus the near-duplicate pairs found (a
  pair further apart than the window is never a candidate); a post none of whose LSH bands
  occurs at another post within the window can be no one's candidate and skips the index (the
  same pairs, found without most of the index's per-post work). A post is coordinated when it
  and its near-duplicates span at least `min_accounts` accounts.
- **co-repost** (co-retweet, Keller et al. 2020; CooRTweet's coordinated co-sharing): two
  accounts repost the same item (`repost_of_id`: a reposted post, or any shared object id)
  within `co_repost_window_seconds`. Chance explains one such coincidence, not repeated ones:
  an account pair is an edge when it co-reposted at least `min_repetition` distinct items (the
  edge weight). A repost is coordinated when a partner on such an edge reposted the same item
  within the window.

Score of a post: 1 - 2^-k, k = the distinct partner accounts behind that evidence (1: 0.5,
2: 0.75, 9: 0.998); `coordinated` = score >= `score_threshold`. Posts missing from the result
have score 0. Clusters are the connected components of the account graph (both edge kinds).
An account is its `account_handle`, else its `account_id` (as in `pipeline.metrics`); posts
with neither, or without `created_at`, cannot be placed and are skipped.

Signatures: the `risk` stage adds each batch's signatures as the `minhash` column (kept in the
batch, not written to posts.parquet), so that they are computed where the stages run (worker
processes, Dask workers); `update` computes them itself for batches without it (a resumed
run's replayed parts, direct callers). `signatures` computes them for a whole batch at once
with NumPy: the same values as datasketch's `MinHash.update_batch`, hash for hash.

Memory is flat in archive size: `update` keeps nothing of posts that cannot take part (short
texts, no account, no time) and spills the rest to a private work folder (`pipeline.spill`):
per repost the item (a 64-bit hash of platform and id: ~n^2 / 2^65 odds that two of n items
collide, about one in 370,000 at 10 M items, and a collision can only pair reposts of two items),
account, time and a post reference (32 bytes), in buckets by item; per long-enough text the
account, time, reference and signature (`num_perm` x 4 bytes: 512 bytes at the default), in
runs sorted by time; and each post id, read back only for the posts in the result. In memory:
one code per account, bounded buffers, and in `finish` one bucket of reposts or one time
window of texts at a time, plus the pairs found. Batches may come in any time order.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from datasketch import LeanMinHash, MinHash, MinHashLSH
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.config import with_defaults
from pipeline.errors import UserError
from pipeline.spill import RecordBuckets, SortedRuns, SpilledStrings, WorkFolder

DEFAULTS = {
    "min_chars": 40,                # shorter texts (in text_norm) are never near-duplicates
    "shingle": "char",              # char | word
    "shingle_size": 5,              # characters (char) or words (word) per shingle
    "num_perm": 128,                # MinHash permutations: estimate error ~0.04 at Jaccard 0.7
    "jaccard_threshold": 0.7,       # a 150-character post with two words changed is ~0.85
    "window_seconds": 300,          # near-duplicates further apart in time are no campaign
    "min_accounts": 3,              # a post and its near-duplicates span this many accounts
    "co_repost_window_seconds": 60,
    "min_repetition": 2,            # distinct items an account pair must have co-reposted
    "score_threshold": 0.5,         # 0.5: one partner account is enough
}

NEAR_DUPLICATE = "near_duplicate"
CO_REPOST = "co_repost"
REQUIRED = ("post_id", "platform", "account_handle", "account_id", "created_at", "text_norm",
            "is_repost", "repost_of_id")
POST_COLUMNS = ["post_id", "platform", "coordinated_score", "coordinated", "coordinated_reason"]
ACCOUNT_COLUMNS = ["platform", "account_handle", "coordinated_posts", "near_duplicate_partners",
                   "co_repost_partners", "cluster_id", "cluster_size"]
EDGE_COLUMNS = ["account_a", "account_b", "platform", "kind", "weight", "first_at", "last_at"]
MINHASH = "minhash"  # the batch column of signatures the risk stage adds (not written to posts.parquet)

# datasketch's default permutation scheme (32-bit values: signatures fit uint32).
_SCHEME = "affine32"
_SEED = 1
# LSH band sizes chosen by datasketch for these false-positive / false-negative weights: a
# candidate costs one signature comparison, a missed pair is a missed campaign. At a 0.7
# threshold (20 bands of 6) a pair at Jaccard 0.7 is a candidate 92% of the time, at 0.8
# 99.8%, at 0.5 27%; equal weights would give 44% at 0.7 and 87% at 0.8.
_LSH_WEIGHTS = (0.1, 0.9)
_MICROS = 1_000_000
_NO_TIME = np.iinfo(np.int64).min  # NaT as int64
_SIGNATURE = np.dtype("<u4")
_CHUNK_SHINGLES = 1 << 15  # shingles permuted at once by `signatures` (16 MiB at 128 permutations)
_CHUNK = 4096  # texts the sliding window processes at once
_REPOST_BUCKETS = 64  # reposts are paired one bucket of items at a time
_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_REPOST = np.dtype([("item", "<u8"), ("account", "<i8"), ("micros", "<i8"), ("ref", "<i8")])


@dataclass
class CoordinationResult:
    """`posts`: a row per post with evidence (POST_COLUMNS); `accounts`: a row per account on
    an edge (ACCOUNT_COLUMNS); `edges`: a row per account pair and kind (EDGE_COLUMNS, with
    account_a < account_b), the content of `coordination_edges.parquet`."""

    posts: pd.DataFrame
    accounts: pd.DataFrame
    edges: pd.DataFrame


def settings_with_defaults(settings: dict | None) -> dict:
    merged = with_defaults(settings, DEFAULTS, "coordination")
    if merged["shingle"] not in ("char", "word"):
        raise UserError(f"coordination shingle must be char or word, not {merged['shingle']!r}")
    return merged


class CoordinationDetector:
    """Feed every batch of posts (after normalize) to `update`, then call `finish` once.

    `work_dir`: where the spilled records go (a private folder is made inside it and removed by
    `finish` or `close`); None: the system's temporary folder."""

    def __init__(self, settings: dict | None = None, work_dir: str | Path | None = None):
        self.settings = settings_with_defaults(settings)
        self._accounts: dict[tuple[str, str], int] = {}  # (platform, account) -> code
        self._folder = WorkFolder(work_dir, prefix="coordination-")
        self._post_ids = SpilledStrings(self._folder.path, "post_ids")  # by post reference
        self._reposts = RecordBuckets(self._folder.path, "reposts", _REPOST, buckets=_REPOST_BUCKETS)
        self._texts = SortedRuns(self._folder.path, "texts", _text_dtype(self.settings["num_perm"]),
                                 order=("micros", "ref"))

    def update(self, posts: pd.DataFrame) -> None:
        missing = [name for name in REQUIRED if name not in posts.columns]
        if missing:
            raise RuntimeError(f"coordination needs the columns {missing} (run normalize first)")
        micros, usable, has_item, long_text = _rows(posts, self.settings)
        if not usable.any():
            return
        account = posts["account_handle"].fillna(posts["account_id"])[usable].astype(str)
        platform = posts["platform"].astype(str)
        accounts = np.full(len(posts), -1, dtype=np.int64)
        accounts[usable] = _intern(self._accounts, zip(platform[usable], account))

        if has_item.any():
            items = _item_codes(platform[has_item], posts["repost_of_id"][has_item].astype(str))
            records = np.empty(len(items), dtype=_REPOST)
            records["item"], records["account"], records["micros"] = items, accounts[has_item], micros[has_item]
            records["ref"] = self._add_posts(posts["post_id"][has_item])
            self._reposts.append(records, (items % np.uint64(_REPOST_BUCKETS)).astype(np.int64))

        if long_text.any():
            records = np.empty(int(long_text.sum()), dtype=self._texts.dtype)
            records["signature"] = self._batch_signatures(posts, long_text)
            records["account"], records["micros"] = accounts[long_text], micros[long_text]
            records["ref"] = self._add_posts(posts["post_id"][long_text])
            self._texts.append(records)

    def finish(self) -> CoordinationResult:
        try:
            return self._result()
        finally:
            self.close()

    def close(self) -> None:
        """Remove the spilled records (`finish` does)."""
        self._folder.close()

    def _result(self) -> CoordinationResult:
        keys = list(self._accounts)
        min_accounts = self.settings["min_accounts"]

        near_pairs = self._near_duplicate_pairs(keys)
        near = _partners(near_pairs)
        near = near[near["accounts"] + 1 >= min_accounts]
        in_campaign = near_pairs["post_a"].isin(near.index) | near_pairs["post_b"].isin(near.index)
        near_edges = _edges(near_pairs[in_campaign], NEAR_DUPLICATE)

        co_pairs = self._co_repost_pairs()
        co_edges = _edges(co_pairs, CO_REPOST)
        co_edges = co_edges[co_edges["weight"] >= self.settings["min_repetition"]]
        # Only co-reposts with a partner this account repeatedly co-reposts with count.
        repeated = co_pairs.merge(co_edges[["account_a", "account_b", "weight"]], on=["account_a", "account_b"])
        co = _partners(repeated)

        posts, accounts_of_posts = self._post_table(near, co, keys, _post_accounts(near_pairs, repeated))
        flagged = pd.Series(accounts_of_posts[posts["coordinated"].to_numpy()]).value_counts()
        edges = pd.concat([near_edges, co_edges], ignore_index=True)
        return CoordinationResult(posts, _account_table(edges, flagged, keys), _edge_table(edges, keys))

    # -- update ----------------------------------------------------------------------------

    def _add_posts(self, post_ids: pd.Series) -> np.ndarray:
        """Post references (0, 1, ...) for these posts; their ids are spilled."""
        start = self._post_ids.count
        self._post_ids.extend(post_ids.astype(str))
        return np.arange(start, self._post_ids.count, dtype=np.int64)

    def _batch_signatures(self, posts: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """The signatures of `rows`: from the `minhash` column the risk stage added, else computed."""
        width = self.settings["num_perm"] * 4
        if MINHASH in posts.columns:
            given = posts[MINHASH].to_numpy(dtype=object)[rows]
            if all(isinstance(value, bytes) and len(value) == width for value in given):
                return np.frombuffer(b"".join(given), dtype=_SIGNATURE).reshape(len(given), -1)
        return signatures(posts["text_norm"][rows].fillna(""), self.settings)

    # -- finish ----------------------------------------------------------------------------

    def _near_duplicate_pairs(self, keys: list[tuple[str, str]]) -> pd.DataFrame:
        """Post pairs of two accounts of one platform, within the window, with an estimated
        Jaccard similarity of at least the threshold; LSH over a window sliding in time order.

        The texts stream back from disk in time order into `held`, which keeps one window
        before the rows being processed and one after them. Rows none of whose LSH bands occurs
        at another row within the window have no candidate in either direction and skip the
        index."""
        threshold = self.settings["jaccard_threshold"]
        window = round(self.settings["window_seconds"] * _MICROS)
        index = MinHashLSH(threshold=threshold, num_perm=self.settings["num_perm"], weights=_LSH_WEIGHTS)
        account_platform = pd.factorize(pd.Series([key[0] for key in keys], dtype=object))[0]
        stream = self._texts.merged()
        held = np.empty(0, dtype=self._texts.dtype)
        base = 0  # number, in time order, of held[0]
        done = 0  # held rows already processed
        indexed: deque[tuple[int, int]] = deque()  # (number, micros) of the rows in the index, oldest first
        pairs = [_pair_frame(*([np.empty(0, dtype=np.int64)] * 6))]
        more = True
        while True:
            # Enough rows for a chunk, and every row within the window after its last one.
            while more and (len(held) - done < _CHUNK or held["micros"][-1] <= held["micros"][
                    min(done + _CHUNK, len(held)) - 1] + window):
                block = next(stream, None)
                more = block is not None
                if more:
                    held = np.concatenate([held, block])
            if done == len(held):
                break
            end = min(done + _CHUNK, len(held))
            micros, signature, account = held["micros"], held["signature"], held["account"]
            low = np.searchsorted(micros, micros[done] - window, "left")
            high = np.searchsorted(micros, micros[end - 1] + window, "right")
            busy = _shares_a_band(signature[low:high], micros[low:high], window, index.hashranges)
            busy = busy[done - low:end - low]
            firsts, seconds = [], []
            for row in (done + np.flatnonzero(busy)).tolist():
                while indexed and indexed[0][1] < micros[row] - window:
                    index.remove(indexed.popleft()[0])
                sketch = LeanMinHash(seed=_SEED, hashvalues=signature[row], scheme=_SCHEME)
                candidates = np.fromiter(index.query(sketch), dtype=np.int64) - base
                if len(candidates):
                    other = account[candidates]
                    candidates = candidates[(other != account[row])
                                            & (account_platform[other] == account_platform[account[row]])]
                if len(candidates):
                    similarity = (signature[candidates] == signature[row]).mean(axis=1)
                    matches = candidates[similarity >= threshold]
                    firsts.append(matches)
                    seconds.append(np.full(len(matches), row))
                index.insert(base + row, sketch, check_duplication=False)
                indexed.append((base + row, int(micros[row])))
            if firsts:
                first, second = np.concatenate(firsts), np.concatenate(seconds)
                pairs.append(_pair_frame(account[first], micros[first], held["ref"][first],
                                         account[second], micros[second], held["ref"][second]))
            done = end
            # Rows before the next row's window are no later row's candidates: out of the index
            # (as the next busy row would do) and out of `held`.
            drop = int(np.searchsorted(micros, micros[done] - window, "left")) if done < len(held) else done
            while indexed and indexed[0][0] - base < drop:
                index.remove(indexed.popleft()[0])
            held, base, done = held[drop:], base + drop, done - drop
        return pd.concat(pairs, ignore_index=True)

    def _co_repost_pairs(self) -> pd.DataFrame:
        """Post pairs of two accounts reposting the same item within the window, one bucket of
        items at a time."""
        window = round(self.settings["co_repost_window_seconds"] * _MICROS)
        empty = np.empty(0, dtype=np.int64)
        pairs = [_pair_frame(*([empty] * 6)).assign(item=np.empty(0, dtype=np.uint64))]
        for records in self._reposts:
            item, account, micros, post = (records[name] for name in ("item", "account", "micros", "ref"))
            order = np.lexsort((micros, item))
            first, second = _pairs_within_window(item[order], micros[order], window)
            first, second = order[first], order[second]
            different = account[first] != account[second]
            first, second = first[different], second[different]
            pairs.append(_pair_frame(account[first], micros[first], post[first],
                                     account[second], micros[second], post[second]).assign(item=item[first]))
        return pd.concat(pairs, ignore_index=True)

    def _post_table(self, near: pd.DataFrame, co: pd.DataFrame, keys: list[tuple[str, str]],
                    post_account: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
        """The posts table, and the account code of each of its rows (`post_account`: by post
        reference)."""
        window = f"{self.settings['window_seconds']:g} s"
        near_reasons = [f"near-duplicate of {n} {_plural(n, 'post')} by {k} other {_plural(k, 'account')} "
                        f"within {window}" for n, k in zip(near["posts"], near["accounts"])]
        window = f"{self.settings['co_repost_window_seconds']:g} s"
        co_reasons = [f"same item reposted within {window} by {k} {_plural(k, 'account')}, each a repeated "
                      f"co-reposter with this one (up to {w} shared items)"
                      for k, w in zip(co["accounts"], co["weight"])]
        # A post is a repost or a text post, never both: one line of evidence at most.
        refs = np.concatenate([near.index.to_numpy(dtype=np.int64), co.index.to_numpy(dtype=np.int64)])
        partners = np.concatenate([near["accounts"].to_numpy(), co["accounts"].to_numpy()]).astype(float)
        score = 1.0 - 0.5**partners
        accounts = post_account.reindex(refs).to_numpy(dtype=np.int64)
        table = pd.DataFrame({
            "post_id": pd.Series(self._post_ids.take(refs), dtype="str"),
            "platform": pd.Series([keys[a][0] for a in accounts], dtype="str"),
            "coordinated_score": score,
            "coordinated": score >= self.settings["score_threshold"],
            "coordinated_reason": pd.Series(near_reasons + co_reasons, dtype="str"),
        })
        # One row per post, its strongest evidence: a post that carries several items (CooRTweet-
        # style data, one row per object) would otherwise appear once per item.
        order = np.lexsort((-score, table["post_id"].to_numpy(), table["platform"].to_numpy()))
        table, accounts = table.iloc[order], accounts[order]
        first = ~table.duplicated(["platform", "post_id"]).to_numpy()
        return table[first].reset_index(drop=True), accounts[first]


def signatures(texts, settings: dict | None = None) -> np.ndarray:
    """MinHash signatures of the texts' shingles (one row of `num_perm` uint32 per text): the
    values datasketch's `MinHash(num_perm, seed=1, hashfunc=zlib.crc32, scheme="affine32")` holds
    after `update_batch(shingles)`, computed for many texts at once. crc32: fast and the same in
    every run; the affine32 scheme mixes the input hash (MurmurHash3's finaliser) before
    permuting, so crc32's distribution does not matter."""
    settings = settings_with_defaults(settings)
    kind, size, num_perm = settings["shingle"], settings["shingle_size"], settings["num_perm"]
    a, b = _permutations(num_perm)
    texts = [str(text) for text in texts]
    result = np.empty((len(texts), num_perm), dtype=_SIGNATURE)
    first, shingles = 0, 0
    for row, text in enumerate(texts):
        shingles += max(len(text) - size + 1, 1)  # about: case folding may change the length
        if shingles >= _CHUNK_SHINGLES or row == len(texts) - 1:
            hashes, starts = _shingle_hashes(texts[first:row + 1], kind, size)
            # One row per permutation: reduceat along rows is many times faster than down columns.
            # Every text has a shingle at least, so no segment is empty.
            permuted = a[:, None] * _fmix32(hashes) + b[:, None]
            result[first:row + 1] = np.minimum.reduceat(permuted, starts, axis=1).T
            first, shingles = row + 1, 0
    return result


def minhash_column(posts: pd.DataFrame, settings: dict | None = None) -> pd.Series:
    """The `minhash` column of a batch (same index): each signature's bytes where the
    near-duplicate signal reads the post (see `signatures`), None elsewhere."""
    settings = settings_with_defaults(settings)
    missing = [name for name in REQUIRED if name not in posts.columns]
    if missing:
        raise RuntimeError(f"coordination needs the columns {missing} (run normalize first)")
    rows = _rows(posts, settings)[3]
    values = np.full(len(posts), None, dtype=object)
    if rows.any():
        found = signatures(posts["text_norm"][rows].fillna(""), settings)
        values[rows] = [signature.tobytes() for signature in found]
    return pd.Series(values, index=posts.index, dtype=object)


def evidence_by_post(results: pd.DataFrame) -> pd.DataFrame:
    """`CoordinationResult.posts` indexed by (platform, post_id), as `flag_posts` reads it:
    built once for a whole archive, its lookup table serves every batch (rebuilding it for
    each batch made the archive pass grow with batches x evidence)."""
    return results.set_index(["platform", "post_id"])


def flag_posts(posts: pd.DataFrame, evidence: pd.DataFrame) -> pd.DataFrame:
    """`coordinated_score`, `coordinated` and `coordinated_reason` for each row of `posts`
    (same index), from `evidence_by_post(CoordinationResult.posts)`: score 0 and no reason
    where no evidence."""
    keys = pd.MultiIndex.from_arrays([posts["platform"].astype(str), posts["post_id"].astype(str)])
    found = evidence.reindex(keys)
    return pd.DataFrame({
        "coordinated_score": found["coordinated_score"].fillna(0.0).to_numpy(dtype=float),
        "coordinated": found["coordinated"].fillna(False).to_numpy(dtype=bool),
        "coordinated_reason": found["coordinated_reason"].fillna("").to_numpy(dtype=object),
    }, index=posts.index).astype({"coordinated_reason": "str"})


# -- helpers --------------------------------------------------------------------------------

def _micros(created_at: pd.Series) -> np.ndarray:
    """Microseconds since the epoch (UTC); NaT becomes _NO_TIME."""
    times = pd.to_datetime(created_at, utc=True).dt.tz_convert(None)
    return times.to_numpy(dtype="datetime64[us]").astype(np.int64)


def _intern(codes: dict, keys) -> np.ndarray:
    return np.fromiter((codes.setdefault(key, len(codes)) for key in keys), dtype=np.int64)


def _shingles(text: str, kind: str, size: int) -> list[bytes]:
    text = text.casefold()
    if kind == "word":
        words = text.split()
        grams = {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}
    else:
        grams = {text[i:i + size] for i in range(len(text) - size + 1)}
    return [gram.encode("utf-8") for gram in grams or {text}]


def _shingle_hashes(texts: list[str], kind: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """crc32 of every shingle of each text (`_shingles`; repeats may stay, the minimum is the
    same), one after the other, and where each text's hashes start."""
    if kind != "char":
        hashes = [[zlib.crc32(gram) for gram in _shingles(text, kind, size)] for text in texts]
        counts = np.array([len(found) for found in hashes], dtype=np.int64)
        return (np.fromiter((h for found in hashes for h in found), dtype=np.uint32, count=int(counts.sum())),
                np.cumsum(counts) - counts)
    # Character n-grams of the case-folded texts, as byte ranges of their UTF-8 encoding.
    folded = [text.casefold() for text in texts]
    joined = "".join(folded)
    data = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    widths = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)  # UTF-8 bytes a character
    offsets = np.concatenate([[0], np.cumsum(widths)])  # byte offset of each character
    chars = np.array([len(text) for text in folded], dtype=np.int64)
    text_start = np.cumsum(chars) - chars
    grams = np.maximum(chars - size + 1, 1)  # a text shorter than one n-gram is its one shingle
    starts = np.cumsum(grams) - grams
    first_char = np.repeat(text_start, grams) + np.arange(int(grams.sum())) - np.repeat(starts, grams)
    last_char = np.minimum(first_char + size, np.repeat(text_start + chars, grams))
    return _crc32(data, offsets[first_char], offsets[last_char]), starts


def _crc32(data: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """zlib.crc32 of each byte range data[begin:end], all ranges at once (table-driven CRC-32)."""
    crc = np.full(len(begin), 0xFFFFFFFF, dtype=np.uint32)
    length = end - begin
    for k in range(int(length.max(initial=0))):
        rows = slice(None) if k < length.min() else np.flatnonzero(length > k)
        crc[rows] = _CRC_TABLE[(crc[rows] ^ data[begin[rows] + k]) & 0xFF] ^ (crc[rows] >> np.uint32(8))
    return crc ^ np.uint32(0xFFFFFFFF)


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> np.uint32(1)) ^ np.uint32(0xEDB88320), table >> np.uint32(1))
    return table.astype(np.uint32)


_CRC_TABLE = _crc_table()


def _fmix32(hashes: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, as datasketch's affine32 scheme applies it to the input hash."""
    hashes = hashes ^ (hashes >> np.uint32(16))
    hashes = hashes * np.uint32(0x85EBCA6B)
    hashes = hashes ^ (hashes >> np.uint32(13))
    hashes = hashes * np.uint32(0xC2B2AE35)
    return hashes ^ (hashes >> np.uint32(16))


@lru_cache(maxsize=4)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutation parameters (a, b) for this seed and scheme."""
    a, b = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME).permutations
    return a.astype(_SIGNATURE), b.astype(_SIGNATURE)


def _rows(posts: pd.DataFrame, settings: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each post's time (microseconds), and which posts the detector reads: those with an
    account and a time; of them, reposts of an item (co-repost) and long original texts
    (near-duplicate)."""
    account = posts["account_handle"].fillna(posts["account_id"])
    micros = _micros(posts["created_at"])
    usable = account.notna().to_numpy() & (micros != _NO_TIME)
    repost_of = posts["repost_of_id"]
    has_item = usable & (repost_of.notna() & (repost_of.astype(str) != "")).to_numpy()
    # A repost's text is someone else's: only the co-repost signal applies to it.
    is_repost = has_item | posts["is_repost"].fillna(False).astype(bool).to_numpy()
    long_text = usable & (posts["text_norm"].fillna("").str.len() >= settings["min_chars"]).to_numpy() & ~is_repost
    return micros, usable, has_item, long_text


def _item_codes(platform: pd.Series, items: pd.Series) -> np.ndarray:
    """A 64-bit hash of each (platform, item)."""
    frame = pd.DataFrame({"platform": platform.to_numpy(dtype=object), "item": items.to_numpy(dtype=object)})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def _shares_a_band(signatures: np.ndarray, micros: np.ndarray, window: int, bands: list[tuple[int, int]]) -> np.ndarray:
    """Whether each row (sorted by time) has an LSH band (a slice of its signature) equal to the
    same band of another row at most `window` apart: only such rows can be LSH candidates.
    Sorted by band and time, a row's nearest same-band rows in time are its neighbours. Bands
    are compared by a 64-bit digest (FNV-1a over the values); a collision only lets a row
    through needlessly."""
    digests = np.empty((len(signatures), len(bands)), dtype=np.uint64)
    for number, (start, end) in enumerate(bands):
        digest = np.full(len(signatures), _FNV_OFFSET + number, dtype=np.uint64)
        for column in range(start, end):
            digest = (digest ^ signatures[:, column]) * _FNV_PRIME
        digests[:, number] = digest
    digests, times = digests.ravel(), np.repeat(micros, len(bands))
    order = np.lexsort((times, digests))
    digests, times = digests[order], times[order]
    close = (digests[1:] == digests[:-1]) & (times[1:] - times[:-1] <= window)
    shared = np.zeros(len(order), dtype=bool)
    shared[order[1:][close]] = True
    shared[order[:-1][close]] = True
    return shared.reshape(len(signatures), len(bands)).any(axis=1)


def _text_dtype(num_perm: int) -> np.dtype:
    return np.dtype([("micros", "<i8"), ("ref", "<i8"), ("account", "<i8"), ("signature", _SIGNATURE, (num_perm,))])


def _pairs_within_window(groups: np.ndarray, micros: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of rows sorted by (group, time), in the same group and at most `window`
    apart. Lag by lag: a row with no partner at lag d has none at d + 1 (its group ended or the
    window is passed), so only rows still paired are carried on; work = rows + pairs."""
    firsts, seconds = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    active = np.arange(len(groups))
    lag = 1
    while len(active):
        active = active[active + lag < len(groups)]
        partner = active + lag
        keep = (groups[partner] == groups[active]) & (micros[partner] - micros[active] <= window)
        active = active[keep]
        firsts.append(active)
        seconds.append(partner[keep])
        lag += 1
    return np.concatenate(firsts), np.concatenate(seconds)


def _pair_frame(account_a: np.ndarray, micros_a: np.ndarray, post_a: np.ndarray, account_b: np.ndarray,
                micros_b: np.ndarray, post_b: np.ndarray) -> pd.DataFrame:
    """Post pairs, the lower account code first so that an account pair has one spelling."""
    swap = account_a > account_b
    return pd.DataFrame({"account_a": np.where(swap, account_b, account_a),
                         "account_b": np.where(swap, account_a, account_b),
                         "micros_a": np.where(swap, micros_b, micros_a), "micros_b": np.where(swap, micros_a, micros_b),
                         "post_a": np.where(swap, post_b, post_a), "post_b": np.where(swap, post_a, post_b)})


def _post_accounts(*pairs: pd.DataFrame) -> pd.Series:
    """The account code of each post reference in these pair frames."""
    refs = np.concatenate([frame[f"post_{side}"].to_numpy(dtype=np.int64) for frame in pairs for side in "ab"])
    accounts = np.concatenate([frame[f"account_{side}"].to_numpy(dtype=np.int64) for frame in pairs for side in "ab"])
    refs, first = np.unique(refs, return_index=True)
    return pd.Series(accounts[first], index=refs)


def _partners(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per post reference: partner posts, distinct partner accounts and (when the pairs carry
    an edge weight) the highest weight among them."""
    columns = ["weight"] if "weight" in pairs else []
    sides = pd.concat([
        pairs[["post_a", "post_b", "account_b"] + columns].set_axis(["post", "partner_post", "partner"] + columns,
                                                                    axis=1),
        pairs[["post_b", "post_a", "account_a"] + columns].set_axis(["post", "partner_post", "partner"] + columns,
                                                                    axis=1),
    ])
    aggregations = {"posts": ("partner_post", "nunique"), "accounts": ("partner", "nunique")}
    if columns:
        aggregations["weight"] = ("weight", "max")
    return sides.groupby("post").agg(**aggregations)


def _edges(pairs: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Account pairs from post pairs: weight = distinct items (co-reposts) or post pairs."""
    frame = pairs.assign(first=np.minimum(pairs["micros_a"], pairs["micros_b"]),
                         last=np.maximum(pairs["micros_a"], pairs["micros_b"]))
    grouped = frame.groupby(["account_a", "account_b"])
    edges = grouped.agg(first=("first", "min"), last=("last", "max"))
    edges["weight"] = grouped["item"].nunique() if "item" in frame else grouped.size()
    return edges.reset_index().assign(kind=kind)


def _account_table(edges: pd.DataFrame, flagged_posts: pd.Series, keys: list[tuple[str, str]]) -> pd.DataFrame:
    """Accounts on an edge; `flagged_posts` counts coordinated posts by account code."""
    graph = coo_matrix((np.ones(len(edges)), (edges["account_a"], edges["account_b"])), shape=(len(keys), len(keys)))
    labels = connected_components(graph, directed=False)[1]
    involved = np.unique(np.concatenate([edges["account_a"].to_numpy(), edges["account_b"].to_numpy()]))
    table = pd.DataFrame({"account": involved, "label": labels[involved],
                          "platform": pd.Series([keys[a][0] for a in involved], dtype="str"),
                          "account_handle": pd.Series([keys[a][1] for a in involved], dtype="str")})
    # Clusters numbered 1, 2, ... by size, then by their first account: the same in every run.
    clusters = table.groupby("label").agg(size=("account", "size"), platform=("platform", "min"),
                                          handle=("account_handle", "min"))
    clusters = clusters.sort_values(["size", "platform", "handle"], ascending=[False, True, True])
    clusters["cluster_id"] = np.arange(1, len(clusters) + 1)
    table["cluster_id"] = clusters["cluster_id"].reindex(table["label"]).to_numpy()
    table["cluster_size"] = clusters["size"].reindex(table["label"]).to_numpy()
    for kind, column in ((NEAR_DUPLICATE, "near_duplicate_partners"), (CO_REPOST, "co_repost_partners")):
        of_kind = edges[edges["kind"] == kind]
        degree = pd.concat([of_kind["account_a"], of_kind["account_b"]]).value_counts()
        table[column] = degree.reindex(table["account"], fill_value=0).to_numpy()
    table["coordinated_posts"] = flagged_posts.reindex(table["account"], fill_value=0).to_numpy()
    table = table[ACCOUNT_COLUMNS].astype({name: "int64" for name in ACCOUNT_COLUMNS[2:]})
    return table.sort_values(["cluster_id", "platform", "account_handle"], ignore_index=True)


def _edge_table(edges: pd.DataFrame, keys: list[tuple[str, str]]) -> pd.DataFrame:
    handles = pd.DataFrame({"a": [keys[a][1] for a in edges["account_a"]],
                            "b": [keys[b][1] for b in edges["account_b"]]}, dtype="str")
    # Codes follow first appearance; the table orders each pair by handle instead.
    low, high = handles.min(axis=1), handles.max(axis=1)
    table = pd.DataFrame({
        "account_a": low.astype("str"), "account_b": high.astype("str"),
        "platform": pd.Series([keys[a][0] for a in edges["account_a"]], dtype="str"),
        "kind": pd.Series(edges["kind"].to_numpy(), dtype="str"),
        "weight": edges["weight"].to_numpy(dtype=np.int64),
        "first_at": pd.to_datetime(edges["first"].to_numpy(dtype=np.int64), unit="us", utc=True),
        "last_at": pd.to_datetime(edges["last"].to_numpy(dtype=np.int64), unit="us", utc=True),
    })
    return table.sort_values(["platform", "kind", "account_a", "account_b"], ignore_index=True)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"
