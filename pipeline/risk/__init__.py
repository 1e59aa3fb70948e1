"""Risk: post- and account-level flags (check_worthy, abusive, coordinated, burst, bot_like,
low_credibility_link), each with a score, a configured threshold and a readable reason.

Modules: `bots` (account profiles -> bot_like), `coordination` (near-duplicate texts and
co-reposts across accounts), `burst` (abnormal posting volume against an account's own
baseline).
"""

from __future__ import annotations


def score_accounts(profiles):
    """Account profiles (DESIGN.md's canonical profile columns) with `bot_like_score` (0..1)
    and `bot_like` (bool); see `pipeline.risk.bots`."""
    from pipeline.risk.bots import score_accounts as score

    return score(profiles)
