"""The accounts registry (platform, handle -> actor, actor_type, country) attached at ingest."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.ingest import AccountsRegistry

TWARC_CSV = Path(__file__).parent / "fixtures" / "twarc_csv.csv"


@pytest.fixture
def registry(tmp_path) -> AccountsRegistry:
    path = tmp_path / "accounts.csv"
    path.write_bytes(
        "\ufeffplatform,handle,actor,actor_type,country\r\n"
        "twitter,@MFA_Atlantis,Atlantis,mfa,AT\r\n"
        ",AtlantisEmbParis,Atlantis,embassy,AT\r\n"
        "twitter,AtlantisMFA_ar,Atlantis,mfa,\r\n"
        "facebook,mfa_atlantis,Atlantis (Facebook desk),mfa,AT\r\n"
        "twitter,amb_nour,Nour Haddad,diplomat,LB\r\n".encode("utf-8"))
    return AccountsRegistry.from_csv(path)


def actors(result) -> dict[str, tuple]:
    return {handle: (actor, actor_type, country) for handle, actor, actor_type, country in
            result.posts[["account_handle", "actor", "actor_type", "country"]].itertuples(index=False)}


def test_registry_matches_handles_case_insensitively_without_at_sign(run_ingest, registry):
    result = run_ingest([TWARC_CSV], accounts=registry)
    assert actors(result) == {
        "mfa_atlantis": ("Atlantis", "mfa", "AT"),  # registry "@MFA_Atlantis"; the facebook row does not apply
        "AtlantisEmbParis": ("Atlantis", "embassy", "AT"),  # no platform: matches on any platform
        "AtlantisMFA_ar": ("Atlantis", "mfa", None),  # empty country stays empty
    }


def test_registry_wins_over_file_columns_and_unknown_handles_keep_them(run_ingest, registry, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("id,text,username,country_iso2,platform,actor_type\n"
                    "1,a,amb_nour,FR,twitter,other\n"
                    "2,b,someone_else,FR,twitter,other\n", "utf-8")
    result = run_ingest([path], accounts=registry)
    assert actors(result) == {"amb_nour": ("Nour Haddad", "diplomat", "LB"),
                              "someone_else": ("FR", "other", "FR")}


def test_posts_of_unknown_platform_match_on_handle_alone(run_ingest, registry, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("id,text,username\n1,a,AMB_NOUR\n2,b,nobody\n", "utf-8")
    result = run_ingest([path], accounts=registry)
    assert actors(result) == {"AMB_NOUR": ("Nour Haddad", "diplomat", "LB"), "nobody": (None, None, None)}


def test_registry_on_a_batch_with_no_posts(run_ingest, registry, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("id,text,username\n1,,mfa_atlantis\n", "utf-8")
    result = run_ingest([path], accounts=registry)
    assert (len(result.posts), len(result.quarantine)) == (0, 1)


@pytest.mark.parametrize(
    "content, message",
    [
        ("platform,handle,actor\ntwitter,a,A\n", "lacks columns actor_type, country"),
        ("platform,handle,actor,actor_type,country\ntwitter,a,A,ministry,AT\n",
         "actor_type 'ministry' is not one of mfa, embassy, head_of_state"),
        ("platform,handle,actor,actor_type,country\ntwitter,,A,mfa,AT\n", "every row needs a handle"),
    ],
)
def test_bad_registry_is_a_user_error(tmp_path, content, message):
    path = tmp_path / "accounts.csv"
    path.write_text(content, "utf-8")
    with pytest.raises(UserError, match=message):
        AccountsRegistry.from_csv(path)


def test_missing_registry_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="accounts registry not found"):
        AccountsRegistry.from_csv(tmp_path / "accounts.csv")


def test_registry_that_is_not_utf8_is_a_user_error(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_bytes(b"platform,handle,actor,actor_type,country\ntwitter,a,C\xf4te d'Ivoire,mfa,CI\n")
    with pytest.raises(UserError, match="not a readable UTF-8 CSV"):
        AccountsRegistry.from_csv(path)
