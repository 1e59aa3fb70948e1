"""The accounts registry: which actor (country or organisation) speaks through which account.

A CSV with columns `platform, handle, actor, actor_type, country` (`platform` may be empty
to match the handle on any platform). Handles match case-insensitively, without "@".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.errors import UserError
from pipeline.schema import ACTOR_TYPES

REQUIRED = ("platform", "handle", "actor", "actor_type", "country")


class AccountsRegistry:
    def __init__(self, table: pd.DataFrame):
        self.table = table
        keyed = table.assign(_handle=table["handle"].str.lower().str.lstrip("@"),
                             _platform=table["platform"].fillna("").str.lower())
        self._exact = {(p, h): row for p, h, row in zip(
            keyed["_platform"], keyed["_handle"], keyed[["actor", "actor_type", "country"]].itertuples(index=False))}
        # A handle alone matches when the registry row has no platform, or the post's platform is unknown.
        self._by_handle = {}
        for platform, handle, row in zip(keyed["_platform"], keyed["_handle"],
                                         keyed[["actor", "actor_type", "country"]].itertuples(index=False)):
            self._by_handle.setdefault(handle, row)

    @classmethod
    def from_csv(cls, path: str | Path) -> "AccountsRegistry":
        path = Path(path)
        if not path.is_file():
            raise UserError(f"accounts registry not found: {path}")
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise UserError(f"accounts registry {path} is not a readable UTF-8 CSV: {exc}")
        missing = [c for c in REQUIRED if c not in table.columns]
        if missing:
            raise UserError(f"accounts registry {path} lacks columns {', '.join(missing)} "
                            f"(needs {', '.join(REQUIRED)})")
        table = table.replace("", None)
        bad = table["actor_type"].dropna()
        bad = bad[~bad.isin(ACTOR_TYPES)]
        if len(bad):
            raise UserError(f"accounts registry {path}: actor_type {bad.iloc[0]!r} is not one of "
                            f"{', '.join(ACTOR_TYPES)}")
        if table["handle"].isna().any():
            raise UserError(f"accounts registry {path}: every row needs a handle")
        return cls(table)

    def attach(self, posts: pd.DataFrame) -> pd.DataFrame:
        """Fill actor, actor_type and country from the registry (it wins over file columns)."""
        handles = posts["account_handle"].fillna("").str.lower()
        platforms = posts["platform"].fillna("")
        found = [self._lookup(p, h) for p, h in zip(platforms, handles)]
        for position, name in enumerate(("actor", "actor_type", "country")):
            values = pd.Series([row[position] if row is not None else None for row in found],
                               index=posts.index, dtype=object)
            posts[name] = values.where(values.notna(), posts[name])
        return posts

    def _lookup(self, platform: str, handle: str):
        row = self._exact.get((platform, handle))
        if row is None:
            row = self._exact.get(("", handle))
        if row is None and platform == "unknown":
            row = self._by_handle.get(handle)
        return row
