"""What training and evaluation make of data that says something else than was meant: the text and the label read
from one column, a label column of texts, a folder holding files that are not read, labels no bundle knows. Each
is said, in words that name the fix, before any model loads (the unit lane: no torch)."""

from __future__ import annotations

import logging

import pytest

from golive.errors import UserError
from tests.conftest import write_rows
from training.data import load_datasets, to_labelled
from training.evaluate import evaluate
from training.reading import Row, SkipReport, list_sources, read_rows

ROWS = [("great film", "positive"), ("awful food", "negative"), ("lovely hotel", "positive")]


def test_the_text_and_the_label_from_one_named_column_are_refused(tmp_path):
    data = write_rows(tmp_path / "t.tsv", ROWS)
    with pytest.raises(UserError, match="--text-column and --label-column both name 'label'; the text and the label"):
        read_rows(str(data), "label", "label", SkipReport())


def test_a_label_column_that_is_the_guessed_text_column_is_refused(tmp_path):
    data = write_rows(tmp_path / "t.tsv", ROWS)
    with pytest.raises(
        UserError, match="--label-column 'text' is also the text column golive picks when none is named"
    ):
        read_rows(str(data), None, "text", SkipReport())


def test_a_label_column_of_texts_is_named_as_such(tmp_path):
    rows = [(f"title {i}\tsentence {i}", "positive" if i % 2 else "negative") for i in range(80)]
    data = write_rows(tmp_path / "t.tsv", rows, header="title\ttext\tlabel")
    with pytest.raises(UserError) as raised:
        load_datasets(str(data), label_column="title")
    message = str(raised.value)
    assert message.startswith(
        "the training data has 80 distinct labels in 80 rows ('title 0', 'title 1', 'title 10' and 77 more): "
        "is --label-column naming the text column?"
    )
    assert load_datasets(str(data), label_column="label").label_names == ["negative", "positive"]  # the real one


def test_many_intents_of_few_examples_each_are_classes_not_texts(tmp_path):
    """77 intents, one or two examples each (Banking77/CLINC-style few-shot): many labels on few rows, no spaces."""
    rows = [(f"how do I do thing {i} {j}", f"intent_{i}") for i in range(77) for j in range(1 + i % 2)]
    data = write_rows(tmp_path / "t.tsv", rows)
    assert len(load_datasets(str(data), validation_fraction=0.1).label_names) == 77


def test_a_long_list_of_known_labels_is_cut_short():
    index = {f"class {i}": i for i in range(30)}
    rows = read_rows_of([("a text", "class 99")])
    with pytest.raises(UserError) as raised:
        to_labelled(rows, index, SkipReport(), skip_invalid=False)
    assert "known labels are class 0, class 1, class 2, class 3, class 4, class 5, class 6, class 7, class 8, " in str(
        raised.value
    )
    assert "class 9 and 20 more. Fix the row" in str(raised.value)


def read_rows_of(rows: list[tuple[str, str]]) -> list[Row]:
    return [Row(text, label, f"t.tsv:{n}") for n, (text, label) in enumerate(rows, start=2)]


def test_a_folder_says_which_files_it_reads_and_warns_once_about_the_rest(tmp_path, caplog):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.tsv", "e.TSV", "sub/x.tsv"):
        write_rows(folder / name, ROWS)
    (folder / "b.csv").write_text("text,label\nrude staff,negative\n")
    (folder / "c.jsonl").write_text('{"text": "fine", "label": "positive"}\n')
    for name in ("f.tsv.gz", "data.txt", "README.md"):
        (folder / name).write_bytes(b"x")
    with caplog.at_level(logging.INFO, logger="training"):
        sources = list_sources(str(folder))
    assert [s.rsplit("/", 1)[-1] for s in sources] == ["a.tsv", "b.csv", "c.jsonl", "e.TSV"]  # any case of suffix
    said = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert said == [
        (logging.INFO, f"{folder}: reading 4 files: a.tsv, b.csv, c.jsonl, e.TSV"),
        (
            logging.WARNING,
            f"warning: {folder}: not reading 4 of its entries: README.md: not a .tsv, .csv or .jsonl file; "
            "data.txt: not a .tsv, .csv or .jsonl file; f.tsv.gz: unsupported type, gunzip it; "
            "sub/: a subfolder (only the folder's own files are read)",
        ),
    ]


def test_evaluating_rows_whose_labels_the_bundle_does_not_know_is_refused(handmade_bundle, tmp_path):
    data = write_rows(tmp_path / "ev.tsv", [("good", "pos"), ("bad", "neg"), ("ok", "pos")])
    with pytest.raises(UserError) as raised:
        evaluate(handmade_bundle, str(data), skip_invalid=True)
    assert str(raised.value) == (
        "no rows left to score: all 3 have labels the bundle doesn't know (bundle: negative, positive; data: neg, pos)"
    )


def test_a_column_named_twice_is_refused_only_when_it_is_read(tmp_path):
    """Spreadsheet exports repeat columns like "note": harmless unless it is the text or the label column."""
    notes = tmp_path / "notes.csv"
    notes.write_text("text,label,note,note\ngreat film,positive,a,b\nawful food,negative,c,d\n")
    assert [(r.text, r.label) for r in read_rows(str(notes), None, None, SkipReport())] == [
        ("great film", "positive"),
        ("awful food", "negative"),
    ]
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label,text\ngreat film,positive,other\n")
    with pytest.raises(UserError, match="the header names 'text' more than once; give each column its own name"):
        read_rows(str(texts), None, None, SkipReport())
