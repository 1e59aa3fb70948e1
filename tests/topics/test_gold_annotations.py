"""The shipped in-domain gold set (corpora/annotations/world_leaders): complete, consistent, and
a dev split that follows its hash rule, so no later round can move a post into or out of it."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from pipeline.topics.corpus import DEFAULT_ANNOTATIONS, load_taxonomy


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return pd.read_csv(DEFAULT_ANNOTATIONS / "items.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def labels() -> pd.DataFrame:
    return pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False)
                      for path in sorted((DEFAULT_ANNOTATIONS / "labels").glob("chunk_*.csv"))], ignore_index=True)


def make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", DEFAULT_ANNOTATIONS / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_item_is_labelled_once(items, labels):
    assert sorted(labels["item"], key=int) == list(items["item"])


def test_chunks_hold_the_items_texts(items):
    chunks = pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False)
                        for path in sorted((DEFAULT_ANNOTATIONS / "chunks").glob("chunk_*.csv"))])
    assert dict(zip(chunks["item"], chunks["text"])) == dict(zip(items["item"], items["text"]))


def test_labels_are_taxonomy_labels_in_its_order(labels):
    taxonomy = load_taxonomy()
    for cell in labels["labels"]:
        names = cell.split("|") if cell else []
        assert names == sorted(names, key=taxonomy.index)


def test_no_post_is_drawn_twice(items):
    assert not items["post_id"].duplicated().any()
    assert not items["text"].duplicated().any()


def test_dev_split_follows_the_hash_and_only_round_one(items):
    sampler = make_sample()
    assert (items["split"] == "dev").tolist() == [sampler.is_dev(post_id) for post_id in items["post_id"]]
    dev_items = items.loc[items["split"] == "dev", "item"].astype(int)
    assert len(dev_items) == 369 and dev_items.max() <= sampler.ROUND1_ITEMS
