"""What `--feedback-data` and `--eval-data` add to a run: feedback rows to train on, and the held-out rows on which
the new model and the one serving now (`--champion`) are both scored (training/comparison.py).

Feedback rows (`golive feedback export`'s JSONL: text, label, prediction_id, model_version, received_at; other
fields are ignored) are put in the order they were received. A text given feedback more than once keeps its newest
label; a text already in the training, validation or evaluation data is left out (the original data's label wins,
and the evaluation set stays unseen). Of the rest, the newest `--feedback-holdout` share is held out for the
comparison, and the older rows are trained on. Every row left out is counted by reason, none silently.

The comparison rows are the evaluation set (or, without one, the validation rows) plus the held-out feedback.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from training.args import TrainArguments
from training.data import Datasets, LabelledData, data_sha256, label_index, overlap_warning, to_labelled
from training.reading import Row, read_rows

LEFT_OUT = {  # why a feedback row is not used, as the log and metrics.json say it
    "duplicate": "the same text again, with newer feedback (the newest label kept)",
    "in_training_data": "the text is already in the training or validation data",
    "in_eval_set": "the text is in the evaluation set",
}


def add_feedback_and_eval(data: Datasets, args: TrainArguments) -> tuple[Datasets, list[str]]:
    """`data` with the feedback rows added to its training rows and its comparison rows set; and what to say of
    them in the log (one line each)."""
    index, notes = label_index(data.label_names), []
    comparison, sources = data.validation, {"validation": len(data.validation.texts)}
    if args.eval_data:
        rows = read_rows(args.eval_data, args.text_column, args.label_column, data.skipped, args.skip_invalid_rows)
        comparison = to_labelled(rows, index, data.skipped, args.skip_invalid_rows)
        sources = {"eval_set": len(comparison.texts)}
        seen = set(data.train.texts) | set(data.validation.texts)
        where, seen_in = f"evaluation rows in {args.eval_data}", "the training or validation data"
        warning = overlap_warning(comparison.texts, where, seen, seen_in, "both models")
        notes += [warning] if warning else []
    train, feedback = data.train, {}
    if args.feedback_data:
        rows = read_rows(args.feedback_data, None, None, data.skipped, args.skip_invalid_rows, tree=True)
        kept, left_out = usable_feedback(
            rows, set(data.train.texts) | set(data.validation.texts), set(comparison.texts)
        )
        labelled = to_labelled(kept, index, data.skipped, args.skip_invalid_rows)
        trained, held_out = hold_out_newest(labelled, args.feedback_holdout)
        train, comparison = _joined(data.train, trained), _joined(comparison, held_out)
        sources["held_out_feedback"] = len(held_out.texts)
        feedback = {
            "source": args.feedback_data,
            "rows": len(rows),
            "trained_on": len(trained.texts),
            "held_out": len(held_out.texts),
            "holdout_share": args.feedback_holdout,
            "left_out": left_out,
        }
        notes.append(_feedback_line(feedback))
    if args.eval_data or args.feedback_data or args.champion:
        shown = ", ".join(f"{n} {source.replace('_', ' ')}" for source, n in sources.items())
        notes.append(f"comparison: {len(comparison.texts)} held-out rows ({shown})")
    updated = dataclasses.replace(
        data,
        train=train,
        sha256=data_sha256(train, data.validation),
        comparison=comparison,
        comparison_sources=sources,
        feedback=feedback,
    )
    return updated, notes


def usable_feedback(rows: list[Row], known: set[str], evaluation: set[str]) -> tuple[list[Row], dict[str, int]]:
    """The feedback rows to use, oldest first (those without received_at first, in file order), one per text with
    its newest label; and how many were left out, by LEFT_OUT reason."""
    newest: dict[str, Row] = {}
    left_out = dict.fromkeys(LEFT_OUT, 0)
    for row in sorted(rows, key=lambda r: r.received_at):  # stable: ties keep the files' order
        if row.text in evaluation:
            left_out["in_eval_set"] += 1
        elif row.text in known:
            left_out["in_training_data"] += 1
        else:
            if newest.pop(row.text, None) is not None:
                left_out["duplicate"] += 1
            newest[row.text] = row  # re-inserted: the order is that of each text's newest feedback
    return list(newest.values()), {reason: n for reason, n in left_out.items() if n}


def hold_out_newest(rows: LabelledData, share: float) -> tuple[LabelledData, LabelledData]:
    """(older rows, the newest `share` of them), for rows in the order they were received."""
    cut = len(rows.texts) - round(len(rows.texts) * share)
    return (
        LabelledData(rows.texts[:cut], rows.labels[:cut]),
        LabelledData(rows.texts[cut:], rows.labels[cut:]),
    )


def _joined(first: LabelledData, second: LabelledData) -> LabelledData:
    return LabelledData(first.texts + second.texts, first.labels + second.labels)


def _feedback_line(feedback: dict[str, Any]) -> str:
    left_out = feedback["left_out"]
    reasons = "; ".join(f"{n} {LEFT_OUT[reason]}" for reason, n in left_out.items())
    return (
        f"feedback: {feedback['rows']} rows from {feedback['source']}: {feedback['trained_on']} added to the "
        f"training rows, the newest {feedback['held_out']} held out for the comparison"
        + (f"; left out {sum(left_out.values())}: {reasons}" if left_out else "")
    )
