"""Coordination: the same content pushed by several accounts within a short time (`coordinated`).

Two signals, both between distinct accounts of the same platform:

- **near-duplicate text** (copy-paste campaigns): posts whose `text_norm` (at least `min_chars`
  characters; reposts excluded, their text is the original's) have an estimated Jaccard
  similarity of shingles of at least `jaccard_threshold`, posted within `window_seconds` of
  each other. Shingles are character n-grams of the case-folded text by default (robust to
  small edits, and to scripts written without spaces), or word n-grams. MinHash signatures
  and the LSH index are datasketch's. The index slides over the posts in time order and holds
  one window of them, so the work is linear in posts plus the near-duplicate pairs found (a
  pair further apart than the window is never a candidate). A post is coordinated when it and
  its near-duplicates span at least `min_accounts` accounts.
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

Memory: `update` keeps nothing of posts that cannot take part (short texts, no account, no
time). Per repost it keeps the item, account, time and a post reference (32 bytes) and the post
id string; per long-enough text the same without the item, plus its MinHash signature
(`num_perm` x 4 bytes: 512 bytes at the default). Items and accounts are interned once. Batches
may come in any time order; the pairing happens in `finish`, whose extra memory is the pairs
found plus one time window of the LSH index.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from datasketch import LeanMinHash, MinHash, MinHashLSH
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.config import with_defaults
from pipeline.errors import UserError

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
    """Feed every batch of posts (after normalize) to `update`, then call `finish` once."""

    def __init__(self, settings: dict | None = None):
        self.settings = settings_with_defaults(settings)
        self._accounts: dict[tuple[str, str], int] = {}  # (platform, account) -> code
        self._items: dict[tuple[str, str], int] = {}  # (platform, repost_of_id) -> code
        self._post_ids: list[str] = []  # by post reference
        self._post_accounts: list[np.ndarray] = []
        self._reposts: list[tuple[np.ndarray, ...]] = []  # (item, account, time, post) per batch
        self._texts: list[tuple[np.ndarray, ...]] = []  # (account, time, post, signature) per batch

    def update(self, posts: pd.DataFrame) -> None:
        missing = [name for name in REQUIRED if name not in posts.columns]
        if missing:
            raise RuntimeError(f"coordination needs the columns {missing} (run normalize first)")
        account = posts["account_handle"].fillna(posts["account_id"])
        micros = _micros(posts["created_at"])
        usable = account.notna().to_numpy() & (micros != _NO_TIME)
        posts, account, micros = posts[usable], account[usable], micros[usable]
        if posts.empty:
            return
        platform = posts["platform"].astype(str)
        accounts = _intern(self._accounts, zip(platform, account.astype(str)))

        repost_of = posts["repost_of_id"]
        has_item = (repost_of.notna() & (repost_of.astype(str) != "")).to_numpy()
        if has_item.any():
            items = _intern(self._items, zip(platform[has_item], repost_of[has_item].astype(str)))
            refs = self._add_posts(posts["post_id"][has_item], accounts[has_item])
            self._reposts.append((items, accounts[has_item], micros[has_item], refs))

        # A repost's text is someone else's: only the co-repost signal applies to it.
        is_repost = has_item | posts["is_repost"].fillna(False).astype(bool).to_numpy()
        text = posts["text_norm"].fillna("")
        long_text = (text.str.len() >= self.settings["min_chars"]).to_numpy() & ~is_repost
        if long_text.any():
            signatures = self._signatures(text[long_text])
            refs = self._add_posts(posts["post_id"][long_text], accounts[long_text])
            self._texts.append((accounts[long_text], micros[long_text], refs, signatures))

    def finish(self) -> CoordinationResult:
        keys = list(self._accounts)
        post_account = np.concatenate(self._post_accounts) if self._post_accounts else np.empty(0, np.int64)
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

        posts, accounts_of_posts = self._post_table(near, co, keys, post_account)
        flagged = pd.Series(accounts_of_posts[posts["coordinated"].to_numpy()]).value_counts()
        edges = pd.concat([near_edges, co_edges], ignore_index=True)
        return CoordinationResult(posts, _account_table(edges, flagged, keys), _edge_table(edges, keys))

    # -- update ----------------------------------------------------------------------------

    def _add_posts(self, post_ids: pd.Series, accounts: np.ndarray) -> np.ndarray:
        start = len(self._post_ids)
        self._post_ids.extend(post_ids.astype(str))
        self._post_accounts.append(accounts)
        return np.arange(start, len(self._post_ids), dtype=np.int64)

    def _signatures(self, texts: pd.Series) -> np.ndarray:
        kind, size = self.settings["shingle"], self.settings["shingle_size"]
        # crc32: fast and the same in every run; the affine32 scheme mixes weak hashes
        # (MurmurHash3 finaliser) before permuting, so crc32's distribution does not matter.
        minhashes = MinHash.generator((_shingles(text, kind, size) for text in texts),
                                      num_perm=self.settings["num_perm"], seed=_SEED, hashfunc=zlib.crc32,
                                      scheme=_SCHEME)
        signatures = np.empty((len(texts), self.settings["num_perm"]), dtype=np.uint32)
        for row, minhash in enumerate(minhashes):
            signatures[row] = minhash.hashvalues
        return signatures

    # -- finish ----------------------------------------------------------------------------

    def _near_duplicate_pairs(self, keys: list[tuple[str, str]]) -> pd.DataFrame:
        """Post pairs of two accounts of one platform, within the window, with an estimated
        Jaccard similarity of at least the threshold; LSH over a window sliding in time order."""
        account, micros, post, signatures = _concat(self._texts, 4, width=self.settings["num_perm"])
        platform = pd.factorize(pd.Series([keys[a][0] for a in account], dtype=object))[0]
        threshold = self.settings["jaccard_threshold"]
        window = round(self.settings["window_seconds"] * _MICROS)
        index = MinHashLSH(threshold=threshold, num_perm=self.settings["num_perm"], weights=_LSH_WEIGHTS)
        order = np.argsort(micros, kind="stable")
        firsts, seconds = [], []
        oldest = 0
        for row in order:
            while micros[order[oldest]] < micros[row] - window:
                index.remove(int(order[oldest]))
                oldest += 1
            sketch = LeanMinHash(seed=_SEED, hashvalues=signatures[row], scheme=_SCHEME)
            candidates = np.fromiter(index.query(sketch), dtype=np.int64)
            candidates = candidates[(account[candidates] != account[row]) & (platform[candidates] == platform[row])]
            if len(candidates):
                similarity = (signatures[candidates] == signatures[row]).mean(axis=1)
                matches = candidates[similarity >= threshold]
                firsts.append(matches)
                seconds.append(np.full(len(matches), row))
            index.insert(int(row), sketch, check_duplication=False)
        first = np.concatenate(firsts) if firsts else np.empty(0, dtype=np.int64)
        second = np.concatenate(seconds) if seconds else np.empty(0, dtype=np.int64)
        return _pair_frame(account, micros, post, first, second)

    def _co_repost_pairs(self) -> pd.DataFrame:
        """Post pairs of two accounts reposting the same item within the window."""
        item, account, micros, post = _concat(self._reposts, 4)
        order = np.lexsort((micros, item))
        window = round(self.settings["co_repost_window_seconds"] * _MICROS)
        first, second = _pairs_within_window(item[order], micros[order], window)
        first, second = order[first], order[second]
        different = account[first] != account[second]
        first, second = first[different], second[different]
        return _pair_frame(account, micros, post, first, second).assign(item=item[first])

    def _post_table(self, near: pd.DataFrame, co: pd.DataFrame, keys: list[tuple[str, str]],
                    post_account: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """The posts table, and the account code of each of its rows."""
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
        table = pd.DataFrame({
            "post_id": pd.Series([self._post_ids[i] for i in refs], dtype="str"),
            "platform": pd.Series([keys[a][0] for a in post_account[refs]], dtype="str"),
            "coordinated_score": score,
            "coordinated": score >= self.settings["score_threshold"],
            "coordinated_reason": pd.Series(near_reasons + co_reasons, dtype="str"),
        })
        # One row per post, its strongest evidence: a post that carries several items (CooRTweet-
        # style data, one row per object) would otherwise appear once per item.
        order = np.lexsort((-score, table["post_id"].to_numpy(), table["platform"].to_numpy()))
        table, accounts = table.iloc[order], post_account[refs][order]
        first = ~table.duplicated(["platform", "post_id"]).to_numpy()
        return table[first].reset_index(drop=True), accounts[first]


def flag_posts(posts: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """`coordinated_score`, `coordinated` and `coordinated_reason` for each row of `posts`
    (same index), from `CoordinationResult.posts`: score 0 and no reason where no evidence."""
    keys = pd.MultiIndex.from_arrays([posts["platform"].astype(str), posts["post_id"].astype(str)])
    found = results.set_index(["platform", "post_id"]).reindex(keys)
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


def _concat(parts: list[tuple[np.ndarray, ...]], fields: int, width: int = 0) -> list[np.ndarray]:
    if parts:
        return [np.concatenate([part[i] for part in parts]) for i in range(fields)]
    empty = [np.empty(0, dtype=np.int64) for _ in range(fields)]
    if width:
        empty[-1] = np.empty((0, width), dtype=np.uint32)
    return empty


def _shingles(text: str, kind: str, size: int) -> list[bytes]:
    text = text.casefold()
    if kind == "word":
        words = text.split()
        grams = {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}
    else:
        grams = {text[i:i + size] for i in range(len(text) - size + 1)}
    return [gram.encode("utf-8") for gram in grams or {text}]


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


def _pair_frame(account: np.ndarray, micros: np.ndarray, post: np.ndarray, first: np.ndarray,
                second: np.ndarray) -> pd.DataFrame:
    """Post pairs, the lower account code first so that an account pair has one spelling."""
    swap = account[first] > account[second]
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    return pd.DataFrame({"account_a": account[first], "account_b": account[second],
                         "micros_a": micros[first], "micros_b": micros[second],
                         "post_a": post[first], "post_b": post[second]})


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
