"""Draw the posts of the world-leaders archive that were annotated by hand (see DATASHEET.md).

Stratified by account: up to POSTS_PER_ACCOUNT posts each, every language an account uses in
at least MIN_LANGUAGE_POSTS posts kept with at least that many posts, the rest at random.
One post in five (by a hash of its id, so the split never changes) is in the dev split,
which no model is trained on.

Round 2 (`--round 2`) adds training posts only (its posts all fall on the train side of the
same hash, so the dev split is unchanged): for each label with few gold positives, up to
CANDIDATES_PER_LABEL posts that the run's topics model gives that label (candidates only:
the annotators see the text alone and label it by reading, as in round 1), the rest at random,
at most ROUND2_PER_ACCOUNT per account.

Rounds 3 and later (`--round 3`, `--round 4`) each add RANDOM_ROUND_SIZE more training posts
drawn at random (no model chooses them), at most RANDOM_ROUND_PER_ACCOUNT per account, so that
the common labels' boundaries are learnt from posts as they come.

    python corpora/annotations/world_leaders/make_sample.py POSTS_PARQUET [--round N]

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
ROUND1_ITEMS = 1685  # items 1-1685 are round 1, round 2 follows
ROUND2_ITEMS = 2785  # items 1686-2785 are round 2, the random rounds follow
ROUND2_SIZE = 1100
ROUND2_PER_ACCOUNT = 90
CANDIDATES_PER_LABEL = 50
RANDOM_ROUND_SIZE = 1320
RANDOM_ROUND_PER_ACCOUNT = 100
# Labels with under 70 positives among round 1's 1,685 posts.
ROUND2_LABELS = ("culture", "sports", "human_rights", "health", "religion", "education", "environment",
                 "humanitarian", "science_technology", "arts", "consular", "tourism", "cuisine", "fashion")


def is_dev(post_id: str) -> bool:
    return int(hashlib.sha256(post_id.encode()).hexdigest(), 16) % 5 == 0


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
    sample["split"] = ["dev" if is_dev(p) else "train" for p in sample["post_id"]]
    sample.insert(0, "item", range(1, len(sample) + 1))
    return sample[["item", "post_id", "account_handle", "lang", "split", "text"]]


def unlabelled_train_posts(posts: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Posts with a language and a text no earlier round holds, on the train side of the split."""
    posts = posts[(posts["lang"] != "und") & ~posts["text"].isin(items["text"])].drop_duplicates("text")
    return posts[~posts["post_id"].map(is_dev)]


def numbered_train_items(sample: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    sample = sample.sample(frac=1, random_state=SEED)
    sample["split"] = "train"
    first = int(items["item"].max()) + 1
    sample.insert(0, "item", range(first, first + len(sample)))
    return sample[["item", "post_id", "account_handle", "lang", "split", "text"]]


def at_most_per_account(posts: pd.DataFrame, room) -> pd.DataFrame:
    """`posts` shuffled, keeping at most `room` posts of each account (a number, or a Series by account)."""
    posts = posts.sample(frac=1, random_state=SEED)
    limit = posts["account_handle"].map(room) if isinstance(room, pd.Series) else room
    return posts[posts.groupby("account_handle").cumcount() < limit]


def draw_round2(posts: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    posts = unlabelled_train_posts(posts, items)
    taken = {}
    for label in ROUND2_LABELS:
        candidates = posts[posts["topics"].map(lambda topics: label in topics) & ~posts.index.isin(list(taken))]
        for index in candidates.sample(min(CANDIDATES_PER_LABEL, len(candidates)), random_state=SEED).index:
            taken[index] = True
    picked = posts.loc[list(taken)]
    room = (ROUND2_PER_ACCOUNT - picked["account_handle"].value_counts()).clip(lower=0)
    room = room.reindex(posts["account_handle"].unique(), fill_value=ROUND2_PER_ACCOUNT)
    rest = at_most_per_account(posts.drop(picked.index), room)
    return numbered_train_items(pd.concat([picked, rest.iloc[:max(0, ROUND2_SIZE - len(picked))]]), items)


def draw_random_round(posts: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    return numbered_train_items(at_most_per_account(unlabelled_train_posts(posts, items), RANDOM_ROUND_PER_ACCOUNT)
                                .iloc[:RANDOM_ROUND_SIZE], items)


def items_before(round_number: int) -> int:
    return {1: 0, 2: ROUND1_ITEMS}.get(round_number, ROUND2_ITEMS + (round_number - 3) * RANDOM_ROUND_SIZE)


def main(posts_path: str, round_number: int) -> None:
    items_path, chunks = HERE / "items.csv", HERE / "chunks"
    done = len(pd.read_csv(items_path, usecols=["item"])) if items_path.is_file() else 0
    if done != items_before(round_number):
        sys.exit(f"round {round_number} follows {items_before(round_number)} items, and {items_path} holds {done}: "
                 "draw the rounds in order, once each (labels refer to the items)")
    columns = ["post_id", "account_handle", "lang", "text"] + (["topics"] if round_number == 2 else [])
    posts = pd.read_parquet(posts_path, columns=columns)
    chunks.mkdir(exist_ok=True)
    if round_number == 1:
        sample, first_chunk = draw(posts), 1
        sample.to_csv(items_path, index=False)
    else:
        items = pd.read_csv(items_path, dtype={"post_id": str})
        draw_more = draw_round2 if round_number == 2 else draw_random_round
        sample, first_chunk = draw_more(posts, items), len(list(chunks.glob("chunk_*.csv"))) + 1
        pd.concat([items, sample]).to_csv(items_path, index=False)
    for number, start in enumerate(range(0, len(sample), CHUNK_SIZE), start=first_chunk):
        sample.iloc[start:start + CHUNK_SIZE][["item", "text"]].to_csv(chunks / f"chunk_{number:02d}.csv", index=False)
    print(f"{len(sample)} items, {sample['split'].eq('dev').sum()} dev, "
          f"{sample['account_handle'].nunique()} accounts, languages: {sample['lang'].value_counts().to_dict()}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("posts", help="posts.parquet of a run on the world-leaders archive")
    parser.add_argument("--round", type=int, default=1, dest="round_number", help="1, 2, or a random round (3 on)")
    arguments = parser.parse_args()
    main(arguments.posts, arguments.round_number)
