"""`golive feedback export --local` on feedback databases Hypothesis fills: golive serve's tables (created by its own
store) holding rows it would write, and rows it never would (a NULL label, a number for a time, a BLOB for a text,
a time with no zone or no time at all), as a hand edit or another tool leaves them.

Each export exits 0 with training data `golive train --data` reads as it is, every feedback row of the window a row
or counted as left out; or exits 2 with one `error:` line; never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cli.main import main
from functions.api.feedback_store import SqliteFeedbackStore
from tests.unit.fuzzing import FUZZ
from training.reading import SkipReport, read_rows

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
sql_values = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=8), st.binary(max_size=4)
)
moments = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 2, 1))
stamps = st.one_of(
    moments.map(lambda m: m.replace(tzinfo=UTC).isoformat(timespec="seconds")),  # what golive serve writes
    moments.map(lambda m: m.replace(tzinfo=timezone(timedelta(hours=-5))).isoformat()),
    moments.map(lambda m: m.isoformat()),  # no zone
)
ids = st.sampled_from(["p1", "p2", "p3", "p4"])
feedback_rows = st.lists(
    st.tuples(
        st.one_of(ids, ids, sql_values),
        st.one_of(st.sampled_from(["pos", "neg"]), sql_values),
        st.one_of(st.just("v1"), sql_values),
        st.one_of(stamps, stamps, sql_values),
    ),
    max_size=5,
)
text_rows = st.lists(
    st.tuples(
        st.one_of(ids, sql_values),
        st.one_of(st.sampled_from(["a good film", "a bad film"]), sql_values),
        st.one_of(st.none(), st.integers(0, 2 * 10**9), st.integers(4 * 10**9, 5 * 10**9), sql_values),
    ),
    max_size=5,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feedback")


def fill(db: Path, feedback: list[tuple], texts: list[tuple]) -> None:
    db.unlink(missing_ok=True)
    SqliteFeedbackStore(str(db)).conn.close()  # golive serve's own tables
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT OR IGNORE INTO feedback (prediction_id, label, model_version, received_at) VALUES (?, ?, ?, ?)",
            feedback,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO captured_texts (prediction_id, text, expires_at) VALUES (?, ?, ?)", texts
        )


def export(db: Path, out: Path) -> tuple[int, str, str]:
    out.unlink(missing_ok=True)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["feedback", "export", "--local", str(db), "--since", SINCE.date().isoformat(), "--out", str(out)])
    return code, stdout.getvalue(), stderr.getvalue()


@settings(FUZZ, max_examples=100)  # a database and an export each: about 40 ms an example
@given(feedback=feedback_rows, texts=text_rows)
@example(  # what golive serve writes: exported
    feedback=[("p1", "pos", "v1", "2026-01-02T00:00:00+00:00")], texts=[("p1", "a good film", None)]
)
# found by Hypothesis (each a traceback): a time with no zone (TypeError comparing it with --since), a number for a
# time ('0': ValueError), a NULL time (TypeError)
@example(feedback=[("p1", "pos", "v1", "2026-01-02T00:00:00")], texts=[("p1", "a good film", None)])
@example(feedback=[("p1", "pos", "v1", 0)], texts=[])
@example(feedback=[("p1", "pos", "v1", None)], texts=[])
# written by hand: a NULL label was exported as "label": null (training then refused the export), a BLOB text
# stopped json.dumps (TypeError), an expires_at that is text stopped the expiry check (TypeError)
@example(feedback=[("p1", None, "v1", "2026-01-02T00:00:00+00:00")], texts=[("p1", "a good film", None)])
@example(feedback=[("p1", "pos", "v1", "2026-01-02T00:00:00+00:00")], texts=[("p1", b"\x00", None)])
@example(feedback=[("p1", "pos", "v1", "2026-01-02T00:00:00+00:00")], texts=[("p1", "a good film", "soon")])
def test_an_export_of_any_rows_is_training_data_or_one_clear_error(folder, feedback, texts):
    db, out = folder / "feedback.sqlite3", folder / "export.jsonl"
    fill(db, feedback, texts)
    code, stdout, stderr = export(db, out)
    assert "Traceback" not in stdout + stderr
    if code == 2:
        assert stderr.startswith(f"error: {db}") and stderr.count("\n") == 1, stderr
        return
    assert code == 0, stderr
    lines = out.read_text().splitlines()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        stored = conn.execute("SELECT received_at FROM feedback").fetchall()
    in_window = [at for (at,) in stored if aware(datetime.fromisoformat(at)) >= SINCE]
    counted = re.search(r"left out (\d+) feedback rows", stdout)
    left_out = int(counted.group(1)) if counted else 0
    assert len(lines) + left_out == len(in_window), stdout  # each feedback row of the window: a row or counted
    if lines:
        rows = read_rows(str(out), None, None, SkipReport())  # what `golive train --data` reads, no row refused
        assert [(r.text, r.label) for r in rows] == [(json.loads(x)["text"], json.loads(x)["label"]) for x in lines]


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_fill_keeps_what_it_is_given(folder):
    """The test's own database holds the odd values as given (SQLite's TEXT affinity turns a number into text)."""
    db = folder / "check.sqlite3"
    fill(db, [("p1", None, b"\x00", 5)], [("p1", 3.5, "soon")])
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT label, model_version, received_at FROM feedback").fetchone() == (None, b"\x00", "5")
        assert conn.execute("SELECT text, expires_at FROM captured_texts").fetchone() == ("3.5", "soon")
