"""training.reading on files Hypothesis writes: any bytes, and TSV/CSV/JSONL that are nearly right (odd header
cells, tabs, commas, quotes, newlines, CR, BOM and NUL inside fields, JSON lines that are not objects).

Each file gives rows or a UserError naming the file, never another exception; with skip_invalid every record
after the header is a row or a counted skip. What counts as a record (reading.py, README "Training data"): a CSV
or TSV record after the header line whose fields are not all blank (a blank line, or a spreadsheet's `,,`, is no
row), a JSONL line that is not blank.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from golive.errors import UserError
from tests.unit.fuzzing import FUZZ, NESTED_TOO_DEEP, TOO_MANY_DIGITS, json_values
from training.reading import Row, SkipReport, read_rows

SUFFIXES = (".tsv", ".csv", ".jsonl")
# what breaks a delimited file: its delimiters, quotes, line ends, a byte-order mark, NUL, and other line breaks
# str.splitlines() knows (U+2028, NEL, form feed)
TRICKY = st.sampled_from(["\t", ",", '"', "'", "\n", "\r", "\r\n", "\ufeff", "\x00", "\u2028", "\x85", "\x0c", " "])
cells = st.lists(st.one_of(TRICKY, st.text(max_size=8)), max_size=4).map("".join)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reading")


def read(path: Path, skip_invalid: bool) -> tuple[list[Row], SkipReport] | UserError:
    skipped = SkipReport()
    try:
        return read_rows(str(path), None, None, skipped, skip_invalid=skip_invalid), skipped
    except UserError as exc:
        assert path.name in str(exc), f"the message names no file: {exc}"
        return exc


def assert_strict_agrees(path: Path, rows: list[Row], skipped: SkipReport) -> None:
    """Without skip_invalid the same file gives the same rows, or, when rows were skipped, an error saying so."""
    outcome = read(path, skip_invalid=False)
    if skipped.total:
        assert isinstance(outcome, UserError) and "--skip-invalid-rows" in str(outcome)
    else:
        assert not isinstance(outcome, UserError) and outcome[0] == rows


def line_of(row: Row) -> int:
    return int(row.where.rsplit(":", 1)[1])


@settings(FUZZ, max_examples=500)
@given(suffix=st.sampled_from(SUFFIXES), content=st.binary(max_size=300), skip_invalid=st.booleans())
# past the parsers' limits (written by hand: random bytes do not reach them): RecursionError, ValueError, csv.Error
@example(suffix=".jsonl", content=NESTED_TOO_DEEP.encode(), skip_invalid=False)
@example(suffix=".jsonl", content=('{"text": "a", "label": ' + TOO_MANY_DIGITS + "}").encode(), skip_invalid=True)
@example(suffix=".csv", content=b"text,label\n" + b"a" * (11 << 20) + b",x\n", skip_invalid=False)  # over the limit
def test_any_bytes_give_rows_or_a_user_error(folder, suffix, content, skip_invalid):
    path = folder / f"any{suffix}"
    path.write_bytes(content)
    read(path, skip_invalid)


def delimited(delimiter: str, header: list[str], records: list[list[str]], newline: str, bom: bool) -> str:
    if delimiter == ",":
        out = io.StringIO()
        # QUOTE_MINIMAL quotes a lone CR only when it is part of the line terminator
        quoting = csv.QUOTE_MINIMAL if newline == "\r\n" else csv.QUOTE_ALL
        csv.writer(out, lineterminator=newline, quoting=quoting).writerows([header, *records])
        text = out.getvalue()
    else:
        text = "".join("\t".join(fields) + newline for fields in [header, *records])
    return ("\ufeff" if bom else "") + text


@FUZZ
@given(
    delimiter=st.sampled_from([",", "\t"]),
    header=st.lists(cells.map(lambda c: c.replace("\ufeff", "")), max_size=2).flatmap(
        lambda extra: st.permutations(["text", "label", *extra])
    ),
    records=st.lists(st.lists(cells, min_size=4, max_size=4), min_size=1, max_size=6),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
)
@example(  # a column name twice: each record kept the last cell of that name only, the text column's silently lost
    delimiter=",", header=["text", "label", "text"], records=[["kept", "pos", "read instead"]], newline="\n", bom=False
)
def test_a_delimited_file_gives_back_what_was_written(folder, delimiter, header, records, newline, bom):
    """A header with text and label among other columns, records of tricky cells written as csv.writer writes
    them (TSV: cells without tabs or line ends, which TSV cannot hold): every record comes back as a row with
    its own cells, stripped, or as a counted skip; a header naming the text or label column twice is refused
    (another name twice is no harm)."""
    records = [r[: len(header)] for r in records]
    if delimiter == "\t":
        header, *records = [[cell.translate({9: " ", 10: " ", 13: " "}) for cell in r] for r in [header, *records]]
    path = folder / ("data.csv" if delimiter == "," else "data.tsv")
    path.write_text(delimited(delimiter, header, records, newline, bom), encoding="utf-8", newline="")
    outcome = read(path, skip_invalid=True)

    names = [name.strip() for name in header]
    counted = [r for r in records if any(cell.strip() for cell in r)]
    expected = [
        (r[names.index("text")].strip(), r[names.index("label")].strip())
        for r in counted
        if r[names.index("text")].strip() and r[names.index("label")].strip()
    ]
    if names.count("text") > 1 or names.count("label") > 1:
        assert isinstance(outcome, UserError) and "more than once" in str(outcome)
        return
    if not expected:  # every record skipped (or none at all): no usable rows is the file's error
        assert isinstance(outcome, UserError)
        return
    assert not isinstance(outcome, UserError), outcome
    rows, skipped = outcome
    assert [(row.text, row.label) for row in rows] == expected
    assert len(rows) + skipped.total == len(counted)  # nothing dropped without a count
    assert_strict_agrees(path, rows, skipped)


BLANK = " \t "  # a line of spaces, which a JSONL reader passes over (a JSON string is written quoted)


def jsonl_lines(values: list, ensure_ascii: bool, newline: str) -> str:
    return "".join(
        (value if value is BLANK else json.dumps(value, ensure_ascii=ensure_ascii)) + newline for value in values
    )


texts = st.lists(st.one_of(TRICKY, st.text(max_size=8)), max_size=4).map("".join)
records = st.fixed_dictionaries(
    {"text": st.one_of(texts, json_values), "label": st.one_of(texts, st.integers(), json_values)},
    optional={"received_at": st.text(max_size=5), "other": json_values},
)


@FUZZ
@given(
    lines=st.lists(st.one_of(records, records, json_values, st.just(BLANK)), min_size=1, max_size=6),
    ensure_ascii=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
)
@example(  # found by Hypothesis: json.dumps(ensure_ascii=False) writes U+2028 as is, str.splitlines() split there
    lines=[{"text": ",\u2028", "label": 0}], ensure_ascii=False, newline="\n"
).via("discovered failure")
def test_jsonl_gives_every_object_back_or_counts_it(folder, lines, ensure_ascii, newline):
    """Lines that are objects (text and label of any JSON type), other JSON values, and blank lines: a line that
    is not an object is the file's error; otherwise each object is a row holding its own text and label, or a
    counted skip."""
    path = folder / "data.jsonl"
    path.write_text(jsonl_lines(lines, ensure_ascii, newline), encoding="utf-8", newline="")
    outcome = read(path, skip_invalid=True)

    objects = {number: line for number, line in enumerate(lines, start=1) if line is not BLANK}
    if not all(isinstance(line, dict) for line in objects.values()):
        assert isinstance(outcome, UserError)
        return
    if objects and not {"text", "label"} <= objects[min(objects)].keys():
        return  # the first object names the columns: one without them is the file's error (or another column's)
    valid = {
        number: (line["text"].strip(), str(line["label"]).strip())
        for number, line in objects.items()
        if {"text", "label"} <= line.keys()
        and isinstance(line["text"], str)
        and line["text"].strip()
        and isinstance(line["label"], (str, int))
        and not isinstance(line["label"], bool)
        and str(line["label"]).strip()
    }
    if not valid:
        assert isinstance(outcome, UserError)
        return
    assert not isinstance(outcome, UserError), outcome
    rows, skipped = outcome
    assert {line_of(row): (row.text, row.label) for row in rows} == valid  # each row from its own line
    assert len(rows) + skipped.total == len(objects)
    assert_strict_agrees(path, rows, skipped)
