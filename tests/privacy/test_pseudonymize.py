"""`--pseudonymize`: no handle or id of a non-official account is left in any output file,
official accounts are unchanged, pseudonyms are consistent across tables, counts unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.privacy import load_salt
from pipeline.runner import SAMPLE_ACCOUNTS, SAMPLE_POSTS, run

FIXTURES = Path(__file__).resolve().parents[1] / "ingest" / "fixtures"
STAGES = ["normalize", "langid", "risk"]
SALT = "b5d0c3f1a9e2477c8e1f2a3b4c5d6e7f"


def _inputs(folder: Path) -> list[str]:
    """200 real posts of heads of state (replies and mentions of other users among them),
    and Mastodon and Bluesky exports whose accounts are not in the registry."""
    lines = SAMPLE_POSTS.read_text("utf-8").split("\n")
    sample = folder / "leaders.csv"
    sample.write_text("\n".join(lines[:201]) + "\n", encoding="utf-8")
    return [str(sample), str(FIXTURES / "mastodon_statuses.json"), str(FIXTURES / "bluesky_author_feed.json")]


def _run(inputs, out: Path, salt_file: Path, pseudonymize: bool) -> dict:
    config = load_config(overrides={"stages": STAGES, "privacy.pseudonymize": pseudonymize,
                                    "privacy.salt_file": str(salt_file)})
    return run(inputs, out, config, SAMPLE_ACCOUNTS, progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("privacy")
    salt_file = folder / "salt"
    salt_file.write_text(SALT + "\n", encoding="utf-8")
    inputs = _inputs(folder)
    plain = _run(inputs, folder / "plain", salt_file, False)
    hidden = _run(inputs, folder / "hidden", salt_file, True)
    return folder / "plain", plain, folder / "hidden", hidden


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {p.name: pd.read_parquet(p) for p in sorted(out.glob("*.parquet"))}


def _strings(value):
    """Every string inside a cell (lists, maps and arrays included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif hasattr(value, "__iter__") and not isinstance(value, (bytes, bytearray)):
        for item in value:
            yield from _strings(item)


def _non_official(plain_out: Path) -> set[str]:
    """Handles and ids of non-official accounts, as the run without pseudonyms wrote them."""
    official = {h.lower() for h in pd.read_csv(SAMPLE_ACCOUNTS)["handle"]}
    posts = pd.read_parquet(plain_out / "posts.parquet")
    others = posts[~posts["account_handle"].str.lower().isin(official)]
    values = set(others["account_handle"].dropna()) | set(others["account_id"].dropna())
    values |= {h for h in posts["reply_to_handle"].dropna() if h.lower() not in official}
    values |= {m for mentions in posts["mentions"] for m in mentions if m.lower() not in official}
    return values


# Free text may use a handle as an ordinary word ("conservatives" in conservatives.com):
# there only @mentions count as the handle.
FREE_TEXT = {"text", "text_norm", "urls", "hashtags", "emojis"}


def test_no_non_official_handle_or_id_is_left_in_any_output(runs):
    plain_out, _, hidden_out, _ = runs
    secrets = _non_official(plain_out)
    assert len(secrets) > 20  # repliers, mentioned users, Mastodon and Bluesky accounts
    exact = {s.lower() for s in secrets}
    # Long enough not to occur by chance inside other words or hashes.
    inside = re.compile("|".join(re.escape(s.lower()) for s in secrets if len(s) >= 6))
    mention = re.compile("|".join("@" + re.escape(s.lower()) + r"\b" for s in secrets))
    checked = 0
    for name, table in _tables(hidden_out).items():
        for column in table.columns:
            for cell in table[column]:
                for text in _strings(cell):
                    checked += 1
                    lowered = text.lower()
                    assert column in FREE_TEXT or lowered not in exact, (name, column, text)
                    found = (mention if column in FREE_TEXT else inside).search(lowered)
                    assert found is None, (name, column, found and found.group(), text[:200])
    assert checked > 3_000
    assert inside.search((hidden_out / "manifest.json").read_text("utf-8").lower()) is None


def test_official_accounts_and_counts_are_unchanged(runs):
    plain_out, plain, hidden_out, hidden = runs
    assert plain["counts"] == hidden["counts"]
    assert plain["outputs"] == hidden["outputs"]
    official = set(pd.read_csv(SAMPLE_ACCOUNTS)["handle"])
    plain_accounts = pd.read_parquet(plain_out / "accounts.parquet")
    hidden_accounts = pd.read_parquet(hidden_out / "accounts.parquet")
    kept = set(plain_accounts["account_handle"]) & official
    assert kept and kept <= set(hidden_accounts["account_handle"])
    pd.testing.assert_frame_equal(pd.read_parquet(plain_out / "actors.parquet"),
                                  pd.read_parquet(hidden_out / "actors.parquet"))


def test_a_pseudonym_is_the_same_account_in_every_table(runs):
    _, _, hidden_out, hidden = runs
    posts = pd.read_parquet(hidden_out / "posts.parquet")
    accounts = pd.read_parquet(hidden_out / "accounts.parquet")
    anonymous = set(posts.loc[posts["account_handle"].str.startswith("anon_"), "account_handle"])
    assert anonymous and anonymous <= set(accounts["account_handle"])
    # A reply to a pseudonymized account names it by the same pseudonym as its own posts.
    mentioned = {m for ms in posts["mentions"] for m in ms if m.startswith("anon_")}
    replied = {h for h in posts["reply_to_handle"].dropna() if h.startswith("anon_")}
    assert mentioned and replied
    assert hidden["pseudonymized"]["salt_fingerprint"]
    assert all(SALT not in p.read_bytes().decode("latin-1") for p in hidden_out.iterdir())


def test_quarantined_rows_keep_their_reason_but_withhold_raw_content(runs):
    plain_out, _, hidden_out, _ = runs
    plain = pd.read_parquet(plain_out / "quarantine.parquet")
    hidden = pd.read_parquet(hidden_out / "quarantine.parquet")
    assert len(hidden) == len(plain) > 0
    assert hidden["reason"].tolist() == plain["reason"].tolist()
    assert hidden["raw"].str.startswith("<withheld by --pseudonymize: ").all()


def test_generated_salt_is_created_once_outside_the_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("DIPLOLENS_HOME", str(tmp_path / "home"))
    first = load_salt("", tmp_path / "out")
    assert load_salt("", tmp_path / "out") == first and len(first) == 64
    assert oct((tmp_path / "home" / "pseudonymize.salt").stat().st_mode)[-3:] == "600"
    with pytest.raises(UserError, match="inside the output folder"):
        load_salt(str(tmp_path / "out" / "salt"), tmp_path / "out")


def test_missing_salt_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", "--pseudonymize", "--salt-file", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "salt file not found" in capsys.readouterr().err
