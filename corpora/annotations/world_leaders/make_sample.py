"""Draw the posts of the world-leaders archive that were annotated by hand (see DATASHEET.md).

Stratified by account: up to POSTS_PER_ACCOUNT posts each, every language an account uses in
at least MIN_LANGUAGE_POSTS posts kept with at least that many posts, the rest at random.
One post in five (by a hash of its id, so the split never changes) is in the dev split,
which no model is trained on.

    python corpora/annotations/world_leaders/make_sample.py POSTS_PARQUET

POSTS_PARQUET is the posts.parquet of `diplolens run ../shared/data/world-leaders-tweets-2015-2019`.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd

SEED = 20261128
POSTS_PER_ACCOUNT = 110
MIN_LANGUAGE_POSTS = 8
CHUNK_SIZE = 220
HERE = Path(__file__).parent


def draw(posts: pd.DataFrame) -> pd.DataFrame:
    posts = posts[posts["lang"] != "und"].drop_duplicates("text")
    chosen = []
    for _, account in posts.groupby("account_handle"):
        minority = []
        for lang, group in account.groupby("lang"):
            if len(group) >= MIN_LANGUAGE_POSTS and len(group) < len(account) / 2:
                minority.append(group.sample(MIN_LANGUAGE_POSTS, random_state=SEED))
        picked = pd.concat(minority) if minority else account.iloc[:0]
        rest = account.drop(picked.index)
        need = max(0, min(POSTS_PER_ACCOUNT, len(account)) - len(picked))
        chosen.append(pd.concat([picked, rest.sample(min(need, len(rest)), random_state=SEED)]))
    sample = pd.concat(chosen).sample(frac=1, random_state=SEED)  # shuffled: chunks mix accounts
    sample["split"] = ["dev" if int(hashlib.sha256(p.encode()).hexdigest(), 16) % 5 == 0 else "train"
                       for p in sample["post_id"]]
    sample.insert(0, "item", range(1, len(sample) + 1))
    return sample[["item", "post_id", "account_handle", "lang", "split", "text"]]


def main(posts_path: str) -> None:
    sample = draw(pd.read_parquet(posts_path, columns=["post_id", "account_handle", "lang", "text"]))
    sample.to_csv(HERE / "items.csv", index=False)
    chunks = HERE / "chunks"
    chunks.mkdir(exist_ok=True)
    for start in range(0, len(sample), CHUNK_SIZE):
        part = sample.iloc[start:start + CHUNK_SIZE][["item", "text"]]
        part.to_csv(chunks / f"chunk_{start // CHUNK_SIZE + 1:02d}.csv", index=False)
    print(f"{len(sample)} items, {sample['split'].eq('dev').sum()} dev, "
          f"{sample['account_handle'].nunique()} accounts, languages: {sample['lang'].value_counts().to_dict()}")


if __name__ == "__main__":
    main(sys.argv[1])
