"""Timestamps as platforms, scrapers and spreadsheets write them, to UTC."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline.ingest.dates import parse_datetimes


def parse_one(value, dayfirst: bool = False):
    parsed, failed = parse_datetimes(pd.Series([value], dtype=object), dayfirst=dayfirst)
    return parsed.iloc[0], bool(failed.iloc[0])


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2018-10-10T20:19:24.000Z", "2018-10-10 20:19:24"),  # twarc2 / API v2
        ("2019-12-23T12:33:39+02:00", "2019-12-23 10:33:39"),  # ISO with an offset
        ("2019-12-23 10:33:39", "2019-12-23 10:33:39"),  # no zone: UTC (GetOldTweets)
        ("2019-12-23", "2019-12-23 00:00:00"),
        ("20191223", "2019-12-23 00:00:00"),  # compact date, not epoch seconds
        ("Wed Oct 10 20:19:24 +0000 2018", "2018-10-10 20:19:24"),  # X archive / API v1.1
        ("11/18/19 20:37", "2019-11-18 20:37:00"),  # spreadsheet, month first
        ("11/18/19", "2019-11-18 00:00:00"),
        ("11/18/2019 20:37:05", "2019-11-18 20:37:05"),
        ("18/11/2019 20:37", "2019-11-18 20:37:00"),  # day first when month first cannot be
        ("2021-01-06 17:03:43 EST", "2021-01-06 22:03:43"),  # CrowdTangle
        ("2021-07-14 09:30:00 EDT", "2021-07-14 13:30:00"),
        ("2021-01-06 17:03:43 CET", "2021-01-06 16:03:43"),
        ("Mon, 23 Dec 2019 10:33:39 GMT", "2019-12-23 10:33:39"),  # RSS / e-mail style
        (1545730073, "2018-12-25 09:27:53"),  # epoch seconds
        (1545730073000, "2018-12-25 09:27:53"),  # epoch milliseconds
        (1577095019.25, "2019-12-23 09:56:59.250"),
        ("1545730073", "2018-12-25 09:27:53"),  # epoch as text (CSV cells, Telegram date_unixtime)
        (" 1577095019123 ", "2019-12-23 09:56:59.123"),
        (dt.datetime(2019, 11, 18, 20, 37), "2019-11-18 20:37:00"),  # Parquet timestamps
        (dt.datetime(2019, 11, 18, 20, 37, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2019-11-18 18:37:00"),
    ],
)
def test_known_layouts_parse_to_utc(raw, expected):
    assert parse_one(raw) == (pd.Timestamp(expected, tz="UTC"), False)


def test_epoch_milliseconds_keep_exact_microseconds():
    parsed, failed = parse_datetimes(pd.Series([1577095019123, 1577095019001], dtype=object))
    assert parsed.tolist() == [pd.Timestamp("2019-12-23 09:56:59.123", tz="UTC"),
                               pd.Timestamp("2019-12-23 09:56:59.001", tz="UTC")]
    assert str(parsed.dtype) == "datetime64[us, UTC]"
    assert not failed.any()


def test_ambiguous_spreadsheet_date_follows_dayfirst():
    assert parse_one("03/04/19 10:00")[0] == pd.Timestamp("2019-03-04 10:00", tz="UTC")
    assert parse_one("03/04/19 10:00", dayfirst=True)[0] == pd.Timestamp("2019-04-03 10:00", tz="UTC")
    assert parse_one("03.04.2019 10:00", dayfirst=True)[0] == pd.Timestamp("2019-04-03 10:00", tz="UTC")


@pytest.mark.parametrize("raw", ["garbage", "next tuesday", "1e9", "2019-13-45", True, ["2019-01-01"],
                                 "1970-01-01T00:00:00Z", "31/12/1899 10:00", "2101-01-01", 1e30])
def test_unparseable_or_out_of_range_values_fail(raw):
    parsed, failed = parse_one(raw)
    assert pd.isna(parsed) and failed


@pytest.mark.parametrize("raw", [None, "", "   ", float("nan")])
def test_missing_values_are_empty_not_failed(raw):
    parsed, failed = parse_one(raw)
    assert pd.isna(parsed) and not failed


def test_a_mixed_column_keeps_its_index_and_order():
    values = pd.Series(["11/18/19 20:37", None, 1545730073, "bad", "2021-01-06 17:03:43 EST"],
                       index=[10, 11, 12, 13, 14], dtype=object)
    parsed, failed = parse_datetimes(values)
    assert parsed.index.tolist() == [10, 11, 12, 13, 14]
    assert parsed.tolist()[0] == pd.Timestamp("2019-11-18 20:37", tz="UTC")
    assert parsed.tolist()[2] == pd.Timestamp("2018-12-25 09:27:53", tz="UTC")
    assert parsed.tolist()[4] == pd.Timestamp("2021-01-06 22:03:43", tz="UTC")
    assert failed.tolist() == [False, False, False, True, False]


def test_datetime_cells_are_converted_as_they_are():
    # Parquet and Excel cells arrive as datetime objects: naive ones are UTC, aware ones
    # converted, and the range check still applies.
    values = pd.Series([dt.datetime(2019, 1, 2, 3, 4, 5),
                        dt.datetime(2019, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                        pd.Timestamp("2018-05-05 10:00", tz="US/Eastern"), pd.NaT, dt.datetime(1980, 1, 1)],
                       dtype=object)
    parsed, failed = parse_datetimes(values)
    assert parsed.tolist()[:3] == [pd.Timestamp("2019-01-02 03:04:05", tz="UTC"),
                                   pd.Timestamp("2019-01-02 01:04:05", tz="UTC"),
                                   pd.Timestamp("2018-05-05 14:00", tz="UTC")]
    assert failed.tolist() == [False, False, False, False, True]


@pytest.mark.parametrize("zone", ["UTC", None, "Asia/Tokyo"], ids=["utc", "naive", "tokyo"])
def test_a_datetime_typed_column_parses_like_its_cells(zone):
    # Typed columns (posts read back from Parquet) take a short cut that must agree with the
    # cell-by-cell path, the range check included.
    stamps = pd.Series(pd.to_datetime(["2019-01-02 03:04:05", None, "1980-01-01 00:00:00"]))
    stamps = stamps.dt.tz_localize(zone) if zone else stamps
    parsed, failed = parse_datetimes(stamps)
    from_cells, failed_cells = parse_datetimes(stamps.astype(object))
    pd.testing.assert_series_equal(parsed, from_cells)
    assert failed.tolist() == failed_cells.tolist() == [False, False, True]
