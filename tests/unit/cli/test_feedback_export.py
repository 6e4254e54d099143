"""`golive feedback export --local`: a SQLite store filled through the real Lambda (FastAPI via Mangum, real API
Gateway events, the hand-written bundle), capture off and then on, exported to JSONL that training's own reader
takes as is; what is left out is counted by reason."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from cli.main import main
from tests.conftest import cold_started_lambda, fresh_lambda_module
from tests.unit.functions.test_lambda_handler import call
from training.reading import SkipReport, read_rows

PERSONAL = "write to jane.doe@example.com about it"


def predict(module, *texts: str) -> list[str]:
    status, body = call(module, "http_v2", "POST", "/v1/predict", {"inputs": list(texts)})
    assert status == 200, body
    return [p["prediction_id"] for p in body["predictions"]]


def feedback(module, prediction_id: str, label: str) -> None:
    status, body = call(module, "http_v2", "POST", "/v1/feedback", {"prediction_id": prediction_id, "label": label})
    assert status == 200 and body["status"] == "recorded", body


def assert_counted(printed: str) -> None:
    """The summary of the day of traffic both stores get: 2 rows, 5 left out, by reason."""
    assert "exported 2 labelled texts" in printed and "left out 5 feedback rows:" in printed
    for count, reason in [
        (1, "no captured text"),
        (1, "captured text expired"),
        (2, "conflicting labels for the same text"),
        (1, "duplicate (same prediction id, or same text and label)"),
    ]:
        assert f"{count:>7}  {reason}" in printed, printed


@pytest.fixture()
def store(handmade_bundle, tmp_path, monkeypatch):
    """The database after a day of traffic: feedback from before capture was on, then with capture on."""
    lambdas = cold_started_lambda(handmade_bundle, tmp_path, monkeypatch)
    before = next(lambdas)  # capture off (the default)
    [uncaptured] = predict(before, "said before capture was on")
    feedback(before, uncaptured, "positive")
    monkeypatch.setenv("GOLIVE_CAPTURE_TEXTS", "true")
    monkeypatch.setenv("GOLIVE_CAPTURE_TTL_DAYS", "7")
    module = fresh_lambda_module()  # a new cold start: same database, same signing key
    ids = predict(module, "a wonderful film", PERSONAL, "dull and slow", "a wonderful film", "dull and slow", "gone")
    for prediction_id, label in zip(ids, ["positive", "negative", "negative", "positive", "positive", "negative"]):
        feedback(module, prediction_id, label)
    predict(module, "never labelled")  # a captured text without feedback is no training row
    db = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(db) as conn:  # as if "gone"'s 7 days had passed before the store's next write
        conn.execute("UPDATE captured_texts SET expires_at = ? WHERE prediction_id = ?", (int(time.time()) - 1, ids[5]))
    yield db, ids
    next(lambdas, None)


def test_export_writes_what_training_reads_and_counts_what_it_left_out(store, tmp_path, capsys):
    db, ids = store
    out = tmp_path / "export" / "feedback.jsonl"
    assert main(["feedback", "export", "--local", str(db), "--since", "2020-01-01", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # one row per text: the repeated "a wonderful film" once, "dull and slow" (negative and positive) not at all
    assert [(r["text"], r["label"], r["prediction_id"]) for r in rows] == [
        ("a wonderful film", "positive", ids[0]),
        ("write to [EMAIL] about it", "negative", ids[1]),  # redacted before it was stored
    ]
    assert all(r["model_version"] and r["received_at"].startswith("20") for r in rows)
    assert_counted(printed)
    skipped = SkipReport()
    training = read_rows(str(out), None, None, skipped)  # what `golive train --data` reads, its columns guessed
    assert [(r.text, r.label) for r in training] == [(r["text"], r["label"]) for r in rows] and skipped.total == 0


def test_since_leaves_out_older_feedback(store, tmp_path, capsys):
    db, _ = store
    out = tmp_path / "later.jsonl"
    assert main(["feedback", "export", "--local", str(db), "--since", "2999-01-01", "--out", str(out)]) == 0
    assert out.read_text() == "" and "exported 0 labelled texts" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--local", "{tmp}/none.sqlite3"], "no feedback database at {tmp}/none.sqlite3"),
        (["--local", "{tmp}/empty.sqlite3"], "{tmp}/empty.sqlite3 is not a golive feedback database"),
        (["--local", "{tmp}/text.sqlite3"], "{tmp}/text.sqlite3 is not a readable SQLite database"),
        (["--since", "last week"], "argument --since: 'last week' is not a date such as 2026-01-31"),
        (["--out", "s3://bucket/"], "--out s3://bucket/ names no object; give the file's key"),
        (["--out", "s3://"], "s3:// is not a valid S3 URI; use s3://bucket/key"),
    ],
)
def test_careless_exports_get_one_clear_message_and_exit_2(argv, message, tmp_path, capsys):
    sqlite3.connect(tmp_path / "empty.sqlite3").execute("CREATE TABLE other (x)").connection.close()
    (tmp_path / "text.sqlite3").write_text("not a database, but long enough to have a header " * 4)
    sqlite3.connect(tmp_path / "store.sqlite3").execute("CREATE TABLE feedback (prediction_id)").connection.close()
    given = dict(zip(argv[::2], argv[1::2]))
    options = {"--local": "{tmp}/store.sqlite3", "--since": "2020-01-01", "--out": "{tmp}/out.jsonl", **given}
    full = ["feedback", "export"] + [part.replace("{tmp}", str(tmp_path)) for kv in options.items() for part in kv]
    try:
        code = main(full)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and message.replace("{tmp}", str(tmp_path)) in err, err
    assert "Traceback" not in out + err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_summary_with_nothing_left_out_says_so():
    from collections import Counter

    from functions.common.feedback_export import ExportResult

    counted = Counter({"no_text": 0})  # what reading a Counter for a reason leaves behind
    assert ExportResult(rows=[], left_out=counted).summary("out.jsonl").splitlines() == [
        "exported 0 labelled texts to out.jsonl",
        "left out no feedback rows",
    ]


@pytest.mark.parametrize(
    "out, message",
    [
        ("{tmp}/store.sqlite3", "--out {tmp}/store.sqlite3 is the feedback database being exported"),
        ("{tmp}/link.sqlite3", "--out {tmp}/link.sqlite3 is the feedback database being exported"),  # a symlink
        ("{tmp}/hard.sqlite3", "--out {tmp}/hard.sqlite3 is the feedback database being exported"),  # a hard link
        ("{tmp}/new/../store.sqlite3", "--out {tmp}/new/../store.sqlite3 is the feedback database being exported"),
        ("{tmp}/other.sqlite3", "--out {tmp}/other.sqlite3 is a SQLite database"),
        ("{tmp}/notes.txt", "--out {tmp}/notes.txt exists and is not a previous feedback export"),
        ("{tmp}/deep.jsonl", "--out {tmp}/deep.jsonl exists and is not a previous feedback export"),  # RecursionError
        ("{tmp}", "--out {tmp} is a folder: pass a file name, such as {tmp}/feedback.jsonl"),
    ],
)
def test_an_export_never_overwrites_the_database_or_a_file_it_did_not_write(out, message, tmp_path, capsys):
    store = tmp_path / "store.sqlite3"
    columns = "prediction_id, label, model_version, received_at"
    sqlite3.connect(store).execute(f"CREATE TABLE feedback ({columns})").connection.close()
    sqlite3.connect(tmp_path / "other.sqlite3").execute("CREATE TABLE kept (x)").connection.close()
    (tmp_path / "link.sqlite3").symlink_to(store)
    (tmp_path / "hard.sqlite3").hardlink_to(store)
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "\n")  # JSON nested past what json.loads reads
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    out = out.replace("{tmp}", str(tmp_path))
    code = main(["feedback", "export", "--local", str(store), "--since", "2020-01-01", "--out", out])
    printed, err = capsys.readouterr()
    assert code == 2 and message.replace("{tmp}", str(tmp_path)) in err and "Traceback" not in printed + err, err
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == before  # nothing lost
    assert not (tmp_path / "new").exists()


def test_a_previous_export_is_replaced_and_the_summary_says_so(store, tmp_path, capsys):
    db, _ = store
    out = tmp_path / "feedback.jsonl"
    command = ["feedback", "export", "--local", str(db), "--since", "2020-01-01", "--out", str(out)]
    assert main(command) == 0 and "replaced" not in capsys.readouterr().out
    first = out.read_bytes()
    assert main(command) == 0
    assert f"exported 2 labelled texts to {out} (replaced the previous export)" in capsys.readouterr().out
    assert out.read_bytes() == first and not list(tmp_path.glob("*.partial"))
    out.write_text("")  # an export of no rows is a previous export too
    assert main(command) == 0 and "(replaced the previous export)" in capsys.readouterr().out
