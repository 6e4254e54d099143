"""Read labelled text from TSV, CSV or JSONL, locally or from S3, and refuse bad rows loudly.

Every problem names the file and line. With `skip_invalid=True` bad rows are skipped instead, and
each skip is counted and reported: nothing is ever dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from golive.aws_errors import aws_errors
from golive.errors import UserError

SUPPORTED_SUFFIXES = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
TEXT_COLUMN_GUESSES = ("text", "sentence", "review", "content")
LABEL_COLUMN_GUESSES = ("label", "labels", "class", "sentiment")

csv.field_size_limit(10 * 1024 * 1024)


@dataclass
class Row:
    text: str
    label: str
    where: str  # "file:line", for error messages


@dataclass
class SkipReport:
    """Rows skipped under --skip-invalid-rows, by reason, with where they were."""

    by_reason: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, where: str) -> None:
        self.by_reason.setdefault(reason, []).append(where)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.by_reason.values())

    def summary(self) -> str:
        if not self.total:
            return "no rows skipped"
        parts = []
        for reason, places in self.by_reason.items():
            shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
            parts.append(f"{len(places)} {reason} ({shown})")
        return f"skipped {self.total} invalid rows: " + "; ".join(parts)

    def as_dict(self) -> dict[str, int]:
        return {reason: len(places) for reason, places in self.by_reason.items()}


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


# ---------------------------------------------------------------- reading files


def _list_sources(path: str) -> list[str]:
    """A file, a folder (all data files in it, e.g. a SageMaker channel) or an s3:// URI or prefix."""
    if path.startswith("s3://"):
        return _list_s3(path)
    p = Path(path)
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise UserError(f"{path} is a folder with no .tsv, .csv or .jsonl files in it")
        return files
    if not p.exists():
        raise UserError(f"data file {path} does not exist")
    return [path]


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise UserError(f"{uri} is not a valid S3 URI; use s3://bucket/key")
    return bucket, key


def _s3_client():
    import boto3  # imported here: local runs need no AWS setup

    return boto3.client("s3")


def _list_s3(uri: str) -> list[str]:
    bucket, key = _split_s3(uri)
    if key and not key.endswith("/") and Path(key).suffix.lower() in SUPPORTED_SUFFIXES:
        return [uri]
    with aws_errors(f"cannot list {uri}", "s3:ListBucket"):
        pages = _s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
    files = [f"s3://{bucket}/{k}" for k in keys if Path(k).suffix.lower() in SUPPORTED_SUFFIXES]
    if not files:
        raise UserError(f"no .tsv, .csv or .jsonl objects under {uri}")
    return files


def _read_bytes(source: str) -> bytes:
    if source.startswith("s3://"):
        bucket, key = _split_s3(source)
        with aws_errors(f"cannot read {source}", "s3:GetObject"):
            return _s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read data file {source}: {exc.strerror}") from exc


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(f"{source}:{line}: not UTF-8 text ({exc.reason}); save the file as UTF-8") from exc


def _format_of(source: str) -> str:
    suffix = Path(source.split("?")[0]).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UserError(f"{source}: unsupported file type {suffix or '(none)'}; use .tsv, .csv or .jsonl")
    return SUPPORTED_SUFFIXES[suffix]


def _pick_column(requested: str | None, guesses: tuple[str, ...], columns: list[str], what: str, source: str) -> str:
    if requested:
        if requested not in columns:
            raise UserError(
                f"{source}: no {what} column {requested!r}; the columns are {', '.join(map(repr, columns))}. "
                f"Pass the right name with --{what}-column"
            )
        return requested
    for guess in guesses:
        if guess in columns:
            return guess
    raise UserError(
        f"{source}: cannot tell which column holds the {what}; the columns are {', '.join(map(repr, columns))}. "
        f"Name it with --{what}-column"
    )


def _records(text: str, fmt: str, source: str) -> Iterator[tuple[int, dict]]:
    """(line number, record) pairs; structural problems raise UserError naming the line."""
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{source}:{number}: invalid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise UserError(f"{source}:{number}: each line must be a JSON object like {{\"text\": ..., \"label\": ...}}")
            yield number, record
        return

    delimiter = "\t" if fmt == "tsv" else ","
    quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    header: list[str] | None = None
    for fields in reader:
        if not fields or all(not f.strip() for f in fields):
            continue
        if header is None:
            header = [f.strip() for f in fields]
            continue
        if len(fields) != len(header):
            raise UserError(
                f"{source}:{reader.line_num}: expected {len(header)} {fmt.upper()} fields "
                f"({', '.join(header)}), found {len(fields)}"
                + ("; is a tab missing, or is there a stray tab in the text?" if fmt == "tsv" else "")
            )
        yield reader.line_num, dict(zip(header, fields))
    if header is None:
        raise UserError(f"{source} is empty; the first line must be a header naming the columns")


def read_rows(
    path: str,
    text_column: str | None,
    label_column: str | None,
    skipped: SkipReport,
    skip_invalid: bool = False,
) -> list[Row]:
    rows: list[Row] = []
    for source in _list_sources(path):
        fmt = _format_of(source)
        content = _decode(_read_bytes(source), source)
        text_col = label_col = None
        for number, record in _records(content, fmt, source):
            where = f"{source}:{number}"
            if text_col is None:
                columns = list(record)
                text_col = _pick_column(text_column, TEXT_COLUMN_GUESSES, columns, "text", source)
                label_col = _pick_column(label_column, LABEL_COLUMN_GUESSES, columns, "label", source)
            problem = None
            if text_col not in record:
                problem = f"no {text_col!r} field"
            elif label_col not in record:
                problem = f"no {label_col!r} field"
            text, label = record.get(text_col), record.get(label_col)
            if problem is None and not isinstance(text, str):
                problem = f"text is not a string ({type(text).__name__})"
            elif problem is None and not text.strip():
                problem = "empty text"
            elif problem is None and (isinstance(label, bool) or not isinstance(label, (str, int))):
                problem = f"label must be a string or an integer, not {json.dumps(label)}"
            elif problem is None and not str(label).strip():
                problem = "empty label"
            if problem:
                if not skip_invalid:
                    raise UserError(f"{where}: {problem}. Fix the row, or pass --skip-invalid-rows to skip and count such rows")
                skipped.add(problem if not problem.startswith("label must") else "invalid label", where)
                continue
            rows.append(Row(text=text.strip(), label=str(label).strip(), where=where))
        if text_col is None:
            raise UserError(f"{source} has a header but no rows")
    if not rows:
        raise UserError(f"{path}: no usable rows")
    return rows


# ---------------------------------------------------------------- labels and splits


def label_names_from(rows: list[Row], explicit: list[str] | None) -> tuple[list[str], dict[str, int]]:
    """Class order: integer labels by value, string labels alphabetically.

    With `explicit` names and integer labels 0..n-1, label i is called explicit[i]; with explicit
    names and string labels, the names fix the class order and every label must be one of them.
    """
    raw = sorted({r.label for r in rows})
    all_ints = all(_is_int(v) for v in raw)
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
    return raw, {name: i for i, name in enumerate(raw)}


def _is_int(value: str) -> bool:
    try:
        int(value)
        return True
    except ValueError:
        return False


def to_labelled(rows: list[Row], index: dict[str, int], skipped: SkipReport, skip_invalid: bool) -> LabelledData:
    texts, labels = [], []
    known = ", ".join(index)
    for row in rows:
        key = str(int(row.label)) if _is_int(row.label) and row.label not in index else row.label
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

    if validation_path:
        validation = to_labelled(read_rows(validation_path, text_column, label_column, skipped, skip_invalid), index, skipped, skip_invalid)
        validation_source = validation_path
    else:
        if not 0 < validation_fraction < 1:
            raise UserError(f"--validation-fraction must be between 0 and 1, got {validation_fraction}")
        order = list(range(len(train.texts)))
        random.Random(seed).shuffle(order)
        n_val = max(1, round(len(order) * validation_fraction))
        if len(order) - n_val < 1:
            raise UserError(f"{train_path} has too few rows ({len(order)}) to carve out a validation split; pass --validation")
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
    )


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
            "--validation FILE")
    which = "training" if n_train < MIN_TRAIN_ROWS else "validation"
    raise UserError(f"the {which} data has {n_train if which == 'training' else n_val} usable rows and {minimum}; "
                    "add rows")


def label_counts(data: LabelledData, names: list[str]) -> dict[str, int]:
    counts = Counter(data.labels)
    return {name: counts.get(i, 0) for i, name in enumerate(names)}
