"""The composite index, its normalisations and the rank sensitivity, computed by hand."""

import pandas as pd
import pytest

from pipeline.metrics import composite_index, normalize, rank_sensitivity

WEIGHTS = {"presence": 0.25, "interaction": 0.25, "follow_up": 0.25, "specialization": 0.25}
MEASURES = {"presence": ["posts"], "interaction": ["interactions_per_post"], "follow_up": ["reply_share"],
            "specialization": ["topic_evenness"]}
ACTORS = pd.DataFrame({"actor": ["A", "B", "C"], "posts": [10, 20, 30], "interactions_per_post": [100, 50, 0],
                       "reply_share": [0.1, 0.3, 0.2], "topic_evenness": [0.5, 0.2, 0.8]})


def test_minmax_index_and_rank():
    scored = composite_index(ACTORS, {"normalization": "minmax", "weights": WEIGHTS, "measures": MEASURES})
    # Min-max scores: A (0, 1, 0, 0.5), B (0.5, 0.5, 1, 0), C (1, 0, 0.5, 1); equal weights.
    assert scored["index"].tolist() == pytest.approx([1.5 / 4, 2 / 4, 2.5 / 4])
    assert scored["rank"].tolist() == [3, 2, 1]


def test_zscore_uses_the_population_deviation_and_skips_constant_measures():
    assert normalize(pd.Series([10, 20, 30]), "zscore").tolist() == pytest.approx([-1.224745, 0, 1.224745])
    assert normalize(pd.Series([4, 4]), "minmax").isna().all()


def test_rank_sensitivity_moves_each_weight_by_twenty_percent():
    # A leads on presence, B on interaction; no other measure: a tie at equal weights.
    actors = pd.DataFrame({"actor": ["A", "B"], "posts": [30, 10], "interactions_per_post": [1.0, 9.0]})
    settings = {"normalization": "minmax", "weights": WEIGHTS,
                "measures": {"presence": ["posts"], "interaction": ["interactions_per_post"],
                             "follow_up": [], "specialization": []}}
    table = rank_sensitivity(actors, settings)
    assert len(table) == 2 * 4 * 2
    presence = table[table["criterion"] == "presence"].set_index(["weight_change", "actor"])
    assert presence["base_rank"].tolist() == [1, 1, 1, 1]
    # Presence at 0.2: A scores 0.2 / 0.45, B 0.25 / 0.45, so A drops to 2nd; at 0.3, B does.
    assert presence.loc[(-0.2, "A"), "rank_change"] == 1 and presence.loc[(-0.2, "B"), "rank_change"] == 0
    assert presence.loc[(0.2, "B"), "rank_change"] == 1 and presence.loc[(0.2, "A"), "rank_change"] == 0
    unmeasured = table[table["criterion"] == "follow_up"]
    assert (unmeasured["rank_change"] == 0).all()  # no actor has a follow-up score
