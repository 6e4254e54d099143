"""Labelled rows into training and validation sets: class names and order, the validation split, a sample of
the training rows, the data's hash, and enough rows to mean something. Reading the files: training.reading.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from golive.errors import UserError, listed
from training.reading import Row, SkipReport, is_integer, read_rows


@dataclass
class LabelledData:
    texts: list[str]
    labels: list[int]


@dataclass
class Datasets:
    train: LabelledData
    validation: LabelledData
    label_names: list[str]
    sha256: str
    skipped: SkipReport
    validation_source: str  # a path, or a note saying it was carved from train
    # what the rows hold that training uses anyway, counted (row_checks): duplicates, conflicting labels, overlap
    checks: dict[str, int] = field(default_factory=dict)
    # the rows the new model and the serving one are both scored on (training.feedback): None means the validation
    # rows; what they are made of, and what --feedback-data gave (read, trained on, held out, left out by reason)
    comparison: LabelledData | None = None
    comparison_sources: dict[str, int] = field(default_factory=dict)
    feedback: dict[str, Any] = field(default_factory=dict)


MANY_LABELS = 50  # more distinct labels than this, and more than half the rows: a column of texts, not classes


def label_names_from(rows: list[Row], explicit: list[str] | None) -> tuple[list[str], dict[str, int]]:
    """Class order: integer labels by value, string labels alphabetically.

    With `explicit` names and integer labels 0..n-1, label i is called explicit[i]; with explicit
    names and string labels, the names fix the class order and every label must be one of them.
    """
    raw = sorted({r.label for r in rows})
    all_ints = all(is_integer(v) for v in raw)
    if all_ints:
        raw = sorted(raw, key=int)
    if explicit:
        if all_ints:
            values = sorted({int(v) for v in raw})
            if values[0] < 0 or values[-1] >= len(explicit):
                raise UserError(
                    f"--label-names gives {len(explicit)} names but the data has integer labels "
                    f"{values}; labels must be 0..{len(explicit) - 1}"
                )
            return list(explicit), {str(i): i for i in range(len(explicit))}
        return list(explicit), {name: i for i, name in enumerate(explicit)}
    if len(raw) < 2:
        raise UserError(f"the training data has only one label ({raw[0]!r}); a classifier needs at least two")
    if looks_like_texts(raw, len(rows)):
        raise UserError(
            f"the training data has {len(raw)} distinct labels in {len(rows)} rows ({listed(list(map(repr, raw)), 3)}): "
            "is --label-column naming the text column? A label names a class that many rows share; name the "
            "label column with --label-column, or, if these are your classes, list them with --label-names"
        )
    return raw, {name: i for i, name in enumerate(raw)}


def looks_like_texts(labels: list[str], rows: int) -> bool:
    """Labels that are sentences: many, most on a row or two each, and most with a space in them. Many classes of
    few examples each (intents: `card_arrival`, ...) are a real task, and their names rarely hold spaces."""
    if len(labels) <= MANY_LABELS or len(labels) <= rows / 2:
        return False
    return sum(" " in label.strip() for label in labels) > 0.8 * len(labels)


def label_index(names: list[str]) -> dict[str, int]:
    """How labels in other data map to these classes: by name, or as integer class indices 0..n-1."""
    index = {name: i for i, name in enumerate(names)}
    index.update({str(i): i for i in range(len(names)) if str(i) not in index})
    return index


def to_labelled(rows: list[Row], index: dict[str, int], skipped: SkipReport, skip_invalid: bool) -> LabelledData:
    texts, labels = [], []
    known = listed(list(index))
    for row in rows:
        key = str(int(row.label)) if is_integer(row.label) and row.label not in index else row.label
        if key not in index:
            if not skip_invalid:
                raise UserError(
                    f"{row.where}: unknown label {row.label!r}; known labels are {known}. "
                    "Fix the row, or pass --skip-invalid-rows to skip and count such rows"
                )
            skipped.add("unknown label", row.where)
            continue
        texts.append(row.text)
        labels.append(index[key])
    return LabelledData(texts, labels)


def data_sha256(train: LabelledData, validation: LabelledData) -> str:
    digest = hashlib.sha256()
    for part in (train, validation):
        for text, label in zip(part.texts, part.labels):
            digest.update(f"{label}\t{text}\n".encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def load_datasets(
    train_path: str,
    validation_path: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    label_names: list[str] | None = None,
    skip_invalid: bool = False,
    validation_fraction: float = 0.1,
    max_train_samples: int | None = None,
    seed: int = 42,
) -> Datasets:
    skipped = SkipReport()
    train_rows = read_rows(train_path, text_column, label_column, skipped, skip_invalid)
    names, index = label_names_from(train_rows, label_names)
    train = to_labelled(train_rows, index, skipped, skip_invalid)
    all_train = train

    if validation_path:
        validation = to_labelled(
            read_rows(validation_path, text_column, label_column, skipped, skip_invalid), index, skipped, skip_invalid
        )
        validation_source = validation_path
    else:
        if not 0 < validation_fraction < 1:
            raise UserError(f"--validation-fraction must be between 0 and 1, got {validation_fraction}")
        order = list(range(len(train.texts)))
        random.Random(seed).shuffle(order)
        n_val = max(1, round(len(order) * validation_fraction))
        if len(order) - n_val < 1:
            raise UserError(
                f"{train_path} has too few rows ({len(order)}) to carve out a validation split; pass --validation"
            )
        val_idx, train_idx = order[:n_val], sorted(order[n_val:])
        validation = LabelledData([train.texts[i] for i in val_idx], [train.labels[i] for i in val_idx])
        train = LabelledData([train.texts[i] for i in train_idx], [train.labels[i] for i in train_idx])
        validation_source = f"{validation_fraction:.0%} of {train_path}, held out with seed {seed}"

    if max_train_samples is not None:
        if max_train_samples < 1:
            raise UserError(f"--max-train-samples must be at least 1, got {max_train_samples}")
        if max_train_samples < len(train.texts):  # a random sample, so a file sorted by label stays balanced
            keep = sorted(random.Random(seed + 1).sample(range(len(train.texts)), max_train_samples))
            train = LabelledData([train.texts[i] for i in keep], [train.labels[i] for i in keep])
    if not validation.texts:
        raise UserError("the validation data has no usable rows")

    return Datasets(
        train=train,
        validation=validation,
        label_names=names,
        sha256=data_sha256(train, validation),
        skipped=skipped,
        validation_source=validation_source,
        checks=row_checks(all_train, train, validation),
    )


CHECKS = {  # what row_checks counts, as the log says it; each is used anyway (a duplicate may be meant)
    "duplicate_rows": "rows of the training data repeat an earlier row (same text and label)",
    "conflicting_texts": "texts appear in the training data with more than one label",
    "validation_rows_in_training": "validation rows are also in the training data",
}


def row_checks(data: LabelledData, train: LabelledData, validation: LabelledData) -> dict[str, int]:
    """What is odd in rows that are still trained on, by CHECKS key (zeros left out): repeated rows and texts with
    conflicting labels in the training data as read (`data`), and validation rows whose text the model trains on."""
    seen: set[tuple[str, int]] = set()
    labels_of: dict[str, set[int]] = {}
    duplicates = 0
    for text, label in zip(data.texts, data.labels):
        duplicates += (text, label) in seen
        seen.add((text, label))
        labels_of.setdefault(text, set()).add(label)
    counts = {
        "duplicate_rows": duplicates,
        "conflicting_texts": sum(len(labels) > 1 for labels in labels_of.values()),
        "validation_rows_in_training": overlap(validation.texts, set(train.texts)),
    }
    return {key: n for key, n in counts.items() if n}


def overlap(texts: list[str], seen: set[str]) -> int:
    """How many of `texts` are in `seen`: held-out rows a model was trained on."""
    return sum(text in seen for text in texts)


def overlap_warning(texts: list[str], where: str, seen: set[str], seen_in: str, flattered: str) -> str | None:
    """The log's warning when held-out rows (`texts`, from `where`) are also rows a model was trained on."""
    n = overlap(texts, seen)
    if not n:
        return None
    return f"warning: {n} of the {len(texts)} {where} are also in {seen_in}; scores on them flatter {flattered}"


def check_warnings(data: Datasets) -> list[str]:
    """One warning line per row check that found something, for the log."""
    lines: list[str | None] = []
    for key, n in data.checks.items():
        if key == "validation_rows_in_training":
            where = f"validation rows ({data.validation_source})"
            lines.append(
                overlap_warning(data.validation.texts, where, set(data.train.texts), "the training data", "the model")
            )
        else:
            lines.append(f"warning: {n} {CHECKS[key]}; they are trained on as they are (clean the data if unmeant)")
    return [line for line in lines if line]


# Fewer rows than this make a run that looks fine and means nothing: an accuracy on 5 rows moves in steps of 20%,
# and the int8 parity gate (95% agreement) cannot tell one disagreement from none.
MIN_TRAIN_ROWS = 10
MIN_VALIDATION_ROWS = 10


def require_enough_rows(data: Datasets, carved_from: str | None = None, validation_fraction: float = 0.1) -> None:
    """Stop with what to do when there are too few rows to train on or to validate with."""
    n_train, n_val = len(data.train.texts), len(data.validation.texts)
    if n_train >= MIN_TRAIN_ROWS and n_val >= MIN_VALIDATION_ROWS:
        return
    minimum = f"golive needs at least {MIN_TRAIN_ROWS} training and {MIN_VALIDATION_ROWS} validation rows"
    if carved_from:
        raise UserError(
            f"{carved_from} has {n_train + n_val} usable rows; holding out {validation_fraction:.0%} leaves {n_train} to "
            f"train on and {n_val} to validate with, and {minimum}. Add rows, raise --validation-fraction, or pass "
            "--validation FILE"
        )
    which = "training" if n_train < MIN_TRAIN_ROWS else "validation"
    raise UserError(
        f"the {which} data has {n_train if which == 'training' else n_val} usable rows and {minimum}; add rows"
    )


def label_counts(data: LabelledData, names: list[str]) -> dict[str, int]:
    counts = Counter(data.labels)
    return {name: counts.get(i, 0) for i, name in enumerate(names)}
