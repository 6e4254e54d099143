"""Which feedback rows a run trains on, which it holds out for the comparison, and which it leaves out (why)."""

from __future__ import annotations

import json

import pytest

from golive.errors import UserError
from training.data import LabelledData
from training.feedback import hold_out_newest, usable_feedback
from training.reading import Row, SkipReport, read_rows


def row(text: str, label: str, received_at: str = "") -> Row:
    return Row(text=text, label=label, where=f"feedback.jsonl:{text}", received_at=received_at)


def test_rows_are_ordered_by_when_they_were_received_and_a_text_keeps_its_newest_label():
    rows = [
        row("b", "pos", "2026-11-24T10:00:00Z"),
        row("a", "neg", "2026-11-23T10:00:00Z"),
        row("no time", "pos"),  # an export without received_at: the oldest
        row("a", "pos", "2026-11-25T10:00:00Z"),  # newer feedback on "a": its label wins, and "a" is now the newest
        row("known", "neg", "2026-11-25T11:00:00Z"),
        row("evaluated", "neg", "2026-11-25T12:00:00Z"),
    ]
    kept, left_out = usable_feedback(rows, known={"known"}, evaluation={"evaluated"})
    assert [(r.text, r.label) for r in kept] == [("no time", "pos"), ("b", "pos"), ("a", "pos")]
    assert left_out == {"duplicate": 1, "in_training_data": 1, "in_eval_set": 1}


@pytest.mark.parametrize("share,held", [(0.2, ["i", "j"]), (0.0, []), (0.5, ["f", "g", "h", "i", "j"])])
def test_the_newest_share_is_held_out(share, held):
    texts = list("abcdefghij")
    trained, held_out = hold_out_newest(LabelledData(texts, [0] * 10), share)
    assert held_out.texts == held and trained.texts + held_out.texts == texts


def test_an_export_folder_is_read_however_deep_its_summaries_and_empty_days_aside(tmp_path):
    for day, rows in (
        ("2026-11-23", [{"text": "x", "label": "pos", "received_at": "t1", "extra": 1}]),
        ("2026-11-24", []),
    ):
        (tmp_path / day).mkdir()
        (tmp_path / day / "feedback.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (tmp_path / day / "summary.json").write_text(json.dumps({"rows": len(rows)}))
    [only] = read_rows(str(tmp_path), None, None, SkipReport(), tree=True)
    assert (only.text, only.label, only.received_at) == ("x", "pos", "t1")
    (tmp_path / "2026-11-23" / "feedback.jsonl").write_text("")
    with pytest.raises(UserError, match="no usable rows"):
        read_rows(str(tmp_path), None, None, SkipReport(), tree=True)
