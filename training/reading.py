"""Read labelled text from TSV, CSV or JSONL, locally or from S3, and refuse bad rows loudly.

Every problem names the file and line. With `skip_invalid=True` bad rows are skipped instead, and
each skip is counted and reported: nothing is ever dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from golive.aws_errors import aws_errors
from golive.errors import UserError, listed
from golive.json_text import json_problem, parse_json

SUPPORTED_SUFFIXES = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
TEXT_COLUMN_GUESSES = ("text", "sentence", "review", "content")
LABEL_COLUMN_GUESSES = ("label", "labels", "class", "sentiment")
MAX_FIELD_BYTES = 10 * 1024 * 1024  # a CSV/TSV field this long is still read (the csv module stops at 128 KiB)
COMPRESSED = {".gz": "gunzip", ".bz2": "bunzip2", ".xz": "unxz", ".zip": "unzip", ".zst": "unzstd"}

logger = logging.getLogger(__name__)


@dataclass
class Row:
    text: str
    label: str
    where: str  # "file:line", for error messages
    received_at: str = ""  # when its label was given, where the row says (feedback exports do): ISO 8601


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
            parts.append(f"{len(places)} {reason} ({listed(places, 5)})")
        return f"skipped {self.total} invalid rows: " + "; ".join(parts)

    def as_dict(self) -> dict[str, int]:
        return {reason: len(places) for reason, places in self.by_reason.items()}


def list_sources(path: str, tree: bool = False) -> list[str]:
    """A file, a folder (all data files in it, e.g. a SageMaker channel) or an s3:// URI or prefix; `tree`: every
    .jsonl file under the folder, however deep (S3 prefixes are listed that way anyway). What training reads, and
    so what `golive train --sagemaker` uploads of a local folder."""
    suffixes = (".jsonl",) if tree else tuple(SUPPORTED_SUFFIXES)
    if path.startswith("s3://"):
        return _list_s3(path, suffixes)
    p = Path(path)
    if p.is_dir():
        found = sorted(p.rglob("*") if tree else p.iterdir())
        files = [str(f) for f in found if f.is_file() and f.suffix.lower() in suffixes]
        if not files:
            raise UserError(f"{path} is a folder with no {_named(suffixes)} files in it")
        if not tree:  # a tree (feedback exports) holds other files by design: its day folders' summary.json
            unread = [(f"{f.name}/" if f.is_dir() else f.name, _why_not_read(f, suffixes)) for f in found]
            _say_what_is_read(path, files, [(name, why) for name, why in unread if why])
        return files
    if not p.exists():
        raise UserError(f"data file {path} does not exist")
    return [path]


def _why_not_read(entry: Path, suffixes: tuple[str, ...]) -> str | None:
    """Why a folder's entry is not read (None: it is)."""
    if entry.is_dir():
        return "a subfolder (only the folder's own files are read)"
    suffix = entry.suffix.lower()
    if suffix in suffixes and entry.is_file():
        return None
    if suffix in COMPRESSED:
        return f"unsupported type, {COMPRESSED[suffix]} it"
    return f"not a {_named(suffixes)} file" if entry.is_file() else "not a regular file"


def _say_what_is_read(where: str, files: list[str], unread: list[tuple[str, str]]) -> None:
    """Log the files a folder or prefix gives, and warn once about what in it is not read, and why."""
    logger.info(f"{where}: reading {len(files)} files: {listed([Path(f).name for f in files])}")
    if unread:
        reasons = listed([f"{name}: {why}" for name, why in unread], separator="; ")
        logger.warning(f"warning: {where}: not reading {len(unread)} of its entries: {reasons}")


def _named(suffixes: tuple[str, ...]) -> str:
    return ".jsonl" if suffixes == (".jsonl",) else ".tsv, .csv or .jsonl"


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise UserError(f"{uri} is not a valid S3 URI; use s3://bucket/key")
    return bucket, key


def _s3_client():
    import boto3  # imported here: local runs need no AWS setup

    return boto3.client("s3")


def _list_s3(uri: str, suffixes: tuple[str, ...]) -> list[str]:
    bucket, key = _split_s3(uri)
    if key and not key.endswith("/") and Path(key).suffix.lower() in suffixes:
        return [uri]
    with aws_errors(f"cannot list {uri}", "s3:ListBucket"):
        pages = _s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
    files = [f"s3://{bucket}/{k}" for k in keys if Path(k).suffix.lower() in suffixes]
    if not files:
        raise UserError(f"no {_named(suffixes)} objects under {uri}")
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


def _same_column(column: str, text_column: str | None, label_column: str | None, columns: list[str]) -> str:
    """The text and the label read from one column: a model that learns to copy its input."""
    if text_column and label_column:
        said = f"--text-column and --label-column both name {column!r}"
    else:
        given, guessed = ("label", "text") if label_column else ("text", "label")
        said = (
            f"--{given}-column {column!r} is also the {guessed} column golive picks when none is named "
            f"(the first of {', '.join(TEXT_COLUMN_GUESSES if guessed == 'text' else LABEL_COLUMN_GUESSES)})"
        )
    return f"{said}; the text and the label need a column each (the columns are {', '.join(map(repr, columns))})"


HEADER_PEEK_ROWS = 1000  # rows read to tell a header from a first line of data


def _header_hint(columns: list[str], content: str, fmt: str, source: str) -> str:
    """What the columns suggest when none is the text or the label: another delimiter, or no header line."""
    if fmt == "jsonl":
        return ""
    if len(columns) == 1 and ";" in columns[0]:
        return (
            ". The file seems to use ';' as delimiter: golive reads comma-separated CSV and tab-separated TSV; "
            "save it with commas (or as .tsv with tabs)"
        )
    if len(columns) == 1 and fmt == "tsv" and "," in columns[0]:
        return ". The file seems to be comma-separated: name it .csv, or save it with tabs"
    seen: dict[str, set[str]] = {name: set() for name in columns}
    try:
        for number, record in _records(content, fmt, source):
            for name in columns:
                seen[name].add(str(record.get(name, "")).strip())
            if number > HEADER_PEEK_ROWS:
                break
    except UserError:  # a later line's own problem: only the lines before it tell
        pass
    if any(is_integer(name) or name in seen[name] for name in columns):  # a label value, or a class number
        separator = "<TAB>" if fmt == "tsv" else ","
        return f". The first line looks like data, not a header: add a header line text{separator}label"
    return ""


def is_integer(value: str) -> bool:
    """A label that is a class number (0, 1, ...), as int() reads it."""
    try:
        int(value)
        return True
    except ValueError:
        return False


def _records(text: str, fmt: str, source: str, repeated: set[str] | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, record) pairs; structural problems raise UserError naming the line. Header names given more
    than once go into `repeated` (a record keeps the last cell of each): the caller refuses them if it reads one."""
    if fmt == "jsonl":
        # lines end at "\n" only (JSON Lines): str.splitlines() would also split at U+2028, NEL or a form feed,
        # which a JSON string may hold as they are (json.dumps(..., ensure_ascii=False) writes them so)
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = parse_json(line)
            except ValueError as exc:
                raise UserError(f"{source}:{number}: invalid JSON ({json_problem(exc)})") from exc
            if not isinstance(record, dict):
                raise UserError(
                    f'{source}:{number}: each line must be a JSON object like {{"text": ..., "label": ...}}'
                )
            yield number, record
        return

    if csv.field_size_limit() < MAX_FIELD_BYTES:
        csv.field_size_limit(MAX_FIELD_BYTES)
    delimiter = "\t" if fmt == "tsv" else ","
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL,
    )
    header: list[str] | None = None
    for fields in _delimited_records(reader, fmt, source):
        if not fields or all(not f.strip() for f in fields):
            continue
        if header is None:
            header = [f.strip() for f in fields]
            if repeated is not None:
                repeated.update(name for name in header if name and header.count(name) > 1)
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


def _delimited_records(reader, fmt: str, source: str) -> Iterator[list[str]]:
    """The reader's records; what the csv module refuses (a field over MAX_FIELD_BYTES) as a UserError."""
    try:
        yield from reader
    except csv.Error as exc:
        hint = '; is a quote (") left open above it?' if "field limit" in str(exc) else ""
        raise UserError(f"{source}:{reader.line_num}: cannot read this {fmt.upper()} line ({exc}){hint}") from None


def _row_problem(record: dict, text_col: str, label_col: str) -> str | None:
    """What is wrong with a record, or None when it holds a text and a label."""
    if text_col not in record:
        return f"no {text_col!r} field"
    if label_col not in record:
        return f"no {label_col!r} field"
    text, label = record[text_col], record[label_col]
    if not isinstance(text, str):
        return f"text is not a string ({type(text).__name__})"
    if not text.strip():
        return "empty text"
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        return f"label must be a string or an integer, not {json.dumps(label)}"
    if not str(label).strip():
        return "empty label"
    return None


def read_rows(
    path: str,
    text_column: str | None,
    label_column: str | None,
    skipped: SkipReport,
    skip_invalid: bool = False,
    tree: bool = False,
) -> list[Row]:
    """Every row of every data file at `path`. `tree`: the .jsonl files under a folder or prefix however deep,
    where a file without rows is no mistake (feedback exports: a folder per day, its summary.json beside them)."""
    rows: list[Row] = []
    for source in list_sources(path, tree):
        found = _read_source(source, text_column, label_column, skipped, skip_invalid)
        if found is None and not tree:
            fmt = _format_of(source)
            raise UserError(f"{source} {'has no rows' if fmt == 'jsonl' else 'has a header but no rows'}")
        rows += found or []
    if not rows:
        raise UserError(f"{path}: no usable rows")
    return rows


def _read_source(
    source: str, text_column: str | None, label_column: str | None, skipped: SkipReport, skip_invalid: bool
) -> list[Row] | None:
    """One file's usable rows; None when it has none at all (not even invalid ones)."""
    content = _decode(_read_bytes(source), source)
    rows: list[Row] = []
    text_col = label_col = None
    repeated: set[str] = set()  # header names given twice: an unused one (two "note" columns) does no harm
    for number, record in _records(content, _format_of(source), source, repeated):
        where = f"{source}:{number}"
        if text_col is None:
            columns = list(record)
            try:
                text_col = _pick_column(text_column, TEXT_COLUMN_GUESSES, columns, "text", source)
                label_col = _pick_column(label_column, LABEL_COLUMN_GUESSES, columns, "label", source)
            except UserError as exc:
                raise UserError(f"{exc}{_header_hint(columns, content, _format_of(source), source)}") from None
            if text_col == label_col:
                raise UserError(_same_column(text_col, text_column, label_column, columns))
            twice = sorted({text_col, label_col} & repeated)
            if twice:  # a record keeps the last cell of a name: the other column's values would be lost unsaid
                raise UserError(
                    f"{source}: the header names {', '.join(map(repr, twice))} more than once; give each column its "
                    "own name"
                )
        assert label_col is not None  # picked with text_col, on the first record
        problem = _row_problem(record, text_col, label_col)
        if problem:
            if not skip_invalid:
                raise UserError(
                    f"{where}: {problem}. Fix the row, or pass --skip-invalid-rows to skip and count such rows"
                )
            skipped.add(problem if not problem.startswith("label must") else "invalid label", where)
            continue
        received_at = record.get("received_at")
        rows.append(
            Row(
                text=record[text_col].strip(),
                label=str(record[label_col]).strip(),
                where=where,
                received_at=received_at if isinstance(received_at, str) else "",
            )
        )
    return None if text_col is None else rows
