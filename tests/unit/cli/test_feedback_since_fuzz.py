"""`golive feedback export --since` on strings Hypothesis writes: a time both readers can use (the local store compares
with it, the DynamoDB scan sends it as a UTC stamp), or argparse's error saying what a date looks like."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from cli.feedback import utc_date
from functions.common.feedback_sources import in_window, stamp
from tests.unit.fuzzing import FUZZ

zones = st.one_of(
    st.none(), st.timedeltas(-timedelta(hours=23, minutes=59), timedelta(hours=23, minutes=59)).map(timezone)
)
iso_times = st.builds(
    lambda moment, zone, date_only: moment.date().isoformat() if date_only else moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(),
    zones,
    st.booleans(),
)


@FUZZ
@given(value=st.one_of(st.text(max_size=40), iso_times))
# written by hand (Hypothesis's times did not reach the edges): before year 1 in UTC, after 9999 (OverflowError)
@example(value="0001-01-01T00:00:00+01:00")
@example(value="9999-12-31T23:00:00-01:00")
def test_since_is_a_time_both_readers_use_or_a_clear_argparse_error(value):
    try:
        since = utc_date(value)
    except argparse.ArgumentTypeError as exc:
        assert "is not a date such as 2026-01-31" in str(exc)
        return
    assert since.tzinfo is not None
    scanned = stamp(since)  # what the DynamoDB scan filters with: UTC, to the second (as times are stored)
    assert datetime.fromisoformat(scanned) == since.astimezone(UTC).replace(microsecond=0)
    assert in_window(since.isoformat(), since, None)  # what both readers then compare each stored time with
