"""Reading training data: formats, S3, label handling, and a clear error for every bad-data case."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from golive.errors import UserError
from tests.conftest import write_rows
from training.data import load_datasets

GOOD = [
    ("great film", "positive"),
    ("awful food", "negative"),
    ("lovely hotel", "positive"),
    ("rude staff", "negative"),
]


def test_tsv_with_string_labels_keeps_names_in_sorted_order(tmp_path):
    train = write_rows(tmp_path / "t.tsv", GOOD)
    val = write_rows(tmp_path / "v.tsv", GOOD[:2])
    data = load_datasets(str(train), str(val))
    assert data.label_names == ["negative", "positive"]
    assert data.train.labels == [1, 0, 1, 0]
    assert data.validation.texts == ["great film", "awful food"]


def test_csv_with_quotes_commas_and_named_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('review,stars\n"good, really good",5\n"bad, sadly",1\n"fine ""ok""",5\n')
    val = tmp_path / "v.csv"
    val.write_text("review,stars\nmeh,1\n")
    data = load_datasets(str(path), str(val), text_column="review", label_column="stars")
    assert data.train.texts == ["good, really good", "bad, sadly", 'fine "ok"']
    assert data.label_names == ["1", "5"]  # integer labels sort by value
    assert data.train.labels == [1, 0, 1]


def test_jsonl_integer_labels_with_label_names(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "label": i % 2}) for i, t in enumerate("abcdef")) + "\n")
    data = load_datasets(str(path), validation_fraction=0.34, label_names=["negative", "positive"], seed=1)
    assert data.label_names == ["negative", "positive"]
    assert len(data.train.texts) + len(data.validation.texts) == 6
    assert len(data.validation.texts) == 2
    assert "held out with seed" in data.validation_source


def test_integer_labels_sort_numerically(tmp_path):
    rows = [(f"t{i}", str(label)) for i, label in enumerate([10, 2, 1, 2, 10, 1])]
    data = load_datasets(str(write_rows(tmp_path / "d.tsv", rows)), validation_fraction=0.2)
    assert data.label_names == ["1", "2", "10"]


def test_folder_of_files_is_read_like_a_sagemaker_channel(tmp_path):
    (tmp_path / "chan").mkdir()
    write_rows(tmp_path / "chan" / "a.tsv", GOOD[:2])
    write_rows(tmp_path / "chan" / "b.tsv", GOOD[2:])
    (tmp_path / "chan" / "README.txt").write_text("ignored: not a data file")
    data = load_datasets(str(tmp_path / "chan"), str(write_rows(tmp_path / "v.tsv", GOOD[:2])))
    assert len(data.train.texts) == 4


def test_max_train_samples_takes_a_seeded_random_sample(tmp_path):
    rows = [(f"text {i}", "a" if i < 50 else "b") for i in range(100)]  # sorted by label
    train = write_rows(tmp_path / "t.tsv", rows)
    val = write_rows(tmp_path / "v.tsv", rows[:2])
    a = load_datasets(str(train), str(val), max_train_samples=20, seed=3)
    b = load_datasets(str(train), str(val), max_train_samples=20, seed=3)
    assert a.train.texts == b.train.texts and len(a.train.texts) == 20
    assert 0 < sum(a.train.labels) < 20  # both labels present, not just the first rows of the file


def test_data_hash_changes_with_the_data(tmp_path):
    val = write_rows(tmp_path / "v.tsv", GOOD[:2])
    a = load_datasets(str(write_rows(tmp_path / "a.tsv", GOOD)), str(val))
    b = load_datasets(str(write_rows(tmp_path / "b.tsv", GOOD[:3] + [("rude staff!", "negative")])), str(val))
    assert a.sha256 != b.sha256


@mock_aws
def test_reads_from_s3_file_and_prefix(tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="golive-data")
    body = "text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in GOOD)
    s3.put_object(Bucket="golive-data", Key="sst/train.tsv", Body=body.encode())
    s3.put_object(Bucket="golive-data", Key="sst/val.jsonl", Body=b'{"text": "nice", "label": "positive"}\n')
    data = load_datasets("s3://golive-data/sst/train.tsv", "s3://golive-data/sst/val.jsonl")
    assert data.train.texts[0] == "great film" and data.validation.labels == [1]
    by_prefix = load_datasets("s3://golive-data/sst/", "s3://golive-data/sst/val.jsonl")
    assert len(by_prefix.train.texts) == 5  # both objects under the prefix


@mock_aws
def test_missing_s3_object_is_a_clear_error():
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="golive-data")
    with pytest.raises(UserError, match=r"cannot read s3://golive-data/none.tsv"):
        load_datasets("s3://golive-data/none.tsv")


BAD_CASES = [
    # (file name, content, kwargs, expected message pattern)
    (
        "missing_col.tsv",
        "sentence\tlabel\nok\tpositive\n",
        {"text_column": "text"},
        r"missing_col.tsv: no text column 'text'; the columns are 'sentence', 'label'",
    ),
    ("no_guess.tsv", "body\ty\nok\tpositive\n", {}, r"cannot tell which column holds the text.*--text-column"),
    (  # no header: the first line's label is a label of the rows below it
        "no_header.tsv",
        "great film\tpositive\nawful food\tnegative\nlovely hotel\tpositive\n",
        {},
        r"--text-column. The first line looks like data, not a header: add a header line text<TAB>label$",
    ),
    (  # no header, class numbers
        "no_header_ints.csv",
        "great film,1\nawful food,0\n",
        {},
        r"--text-column. The first line looks like data, not a header: add a header line text,label$",
    ),
    (
        "semicolons.csv",
        "text;label\ngreat film;positive\n",
        {},
        r"the columns are 'text;label'. Name it with --text-column. The file seems to use ';' as delimiter: golive "
        r"reads comma-separated CSV",
    ),
    ("commas.tsv", "text,label\ngreat film,positive\n", {}, r"The file seems to be comma-separated: name it .csv"),
    (
        "empty_text.tsv",
        "text\tlabel\ngood\tpositive\n   \tnegative\nbad\tnegative\n",
        {},
        r"empty_text.tsv:3: empty text",
    ),
    ("empty_label.tsv", "text\tlabel\ngood\tpositive\nbad\t\n", {}, r"empty_label.tsv:3: empty label"),
    (
        "fields.tsv",
        "text\tlabel\ngood\tpositive\nbad\tnegative\textra\n",
        {},
        r"fields.tsv:3: expected 2 TSV fields \(text, label\), found 3",
    ),
    ("bad.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": 0\n', {}, r"bad.jsonl:2: invalid JSON"),
    ("array.jsonl", '["a", 1]\n', {}, r"array.jsonl:1: each line must be a JSON object"),
    (
        "float_label.jsonl",
        '{"text": "a", "label": 1}\n{"text": "b", "label": 0.5}\n',
        {},
        r"float_label.jsonl:2: label must be a string or an integer, not 0.5",
    ),
    (
        "nontext.jsonl",
        '{"text": "a", "label": 1}\n{"text": 7, "label": 0}\n',
        {},
        r"nontext.jsonl:2: text is not a string \(int\)",
    ),
    ("empty.tsv", "", {}, r"empty.tsv is empty; the first line must be a header"),
    ("header_only.csv", "text,label\n", {}, r"header_only.csv has a header but no rows"),
    ("data.parquet", "x", {}, r"unsupported file type .parquet"),
    ("one_label.tsv", "text\tlabel\na\tpositive\nb\tpositive\n", {}, r"only one label \('positive'\)"),
]


@pytest.mark.parametrize("name,content,kwargs,message", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_training_data_names_file_and_line(tmp_path, name, content, kwargs, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_datasets(str(path), str(path), **kwargs)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("text\tlabel\ngood\tpositive\ncaf\xe9\tnegative\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin1.tsv:3: not UTF-8 text"):
        load_datasets(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match=r"data file .*nope.tsv does not exist"):
        load_datasets(str(tmp_path / "nope.tsv"))


def test_unknown_label_in_validation_names_the_row(tmp_path):
    train = write_rows(tmp_path / "t.tsv", GOOD)
    val = write_rows(tmp_path / "v.tsv", [("fine", "positive"), ("so-so", "neutral")])
    with pytest.raises(UserError, match=r"v.tsv:3: unknown label 'neutral'; known labels are negative, positive"):
        load_datasets(str(train), str(val))


def test_label_names_must_cover_integer_labels(tmp_path):
    train = write_rows(tmp_path / "t.tsv", [("a", "0"), ("b", "1"), ("c", "2")])
    with pytest.raises(UserError, match=r"--label-names gives 2 names but the data has integer labels \[0, 1, 2\]"):
        load_datasets(str(train), str(train), label_names=["neg", "pos"])


def test_skip_invalid_rows_counts_and_reports_every_skip(tmp_path):
    train = write_rows(tmp_path / "t.tsv", GOOD + [("", "positive"), ("x", "")])
    val = write_rows(tmp_path / "v.tsv", [("fine", "positive"), ("so-so", "neutral"), ("", "negative")])
    data = load_datasets(str(train), str(val), skip_invalid=True)
    assert len(data.train.texts) == 4 and data.validation.texts == ["fine"]
    assert data.skipped.as_dict() == {"empty text": 2, "empty label": 1, "unknown label": 1}
    summary = data.skipped.summary()
    assert summary.startswith("skipped 4 invalid rows")
    assert "t.tsv:6" in summary and "v.tsv:3" in summary and "v.tsv:4" in summary


def test_duplicates_conflicting_labels_and_validation_rows_in_training_are_counted_and_warned(tmp_path):
    from training.data import check_warnings
    from training.export import data_summary

    rows = GOOD + [GOOD[0], GOOD[0], ("awful food", "positive")]  # "great film" twice more; "awful food" both ways
    train = write_rows(tmp_path / "t.tsv", rows)
    leak = write_rows(tmp_path / "leak.tsv", GOOD[1:3] + [("unseen text", "negative")])
    data = load_datasets(str(train), str(leak))
    assert data.checks == {"duplicate_rows": 2, "conflicting_texts": 1, "validation_rows_in_training": 2}
    assert check_warnings(data) == [
        "warning: 2 rows of the training data repeat an earlier row (same text and label); they are trained on as "
        "they are (clean the data if unmeant)",
        "warning: 1 texts appear in the training data with more than one label; they are trained on as they are "
        "(clean the data if unmeant)",
        f"warning: 2 of the 3 validation rows ({leak}) are also in the training data; scores on them flatter the model",
    ]
    assert len(data.train.texts) == len(rows)  # warnings, not filters: every row is still trained on
    assert data_summary(data).row_checks == data.checks  # what metrics.json records
    unseen = write_rows(tmp_path / "v.tsv", [("unseen text", "negative")])
    clean = load_datasets(str(write_rows(tmp_path / "clean.tsv", GOOD)), str(unseen))
    assert clean.checks == {} and check_warnings(clean) == []


def test_training_logs_validation_rows_it_trains_on_as_it_does_evaluation_rows(tmp_path, caplog):
    import argparse
    import logging

    from tests.conftest import sample_rows
    from training.args import add_train_arguments, arguments_from
    from training.distributed import Distributed
    from training.train import read_data

    rows = sample_rows("train")[:40]
    train = write_rows(tmp_path / "ok.tsv", rows + rows[:3])
    leak = write_rows(tmp_path / "leak.tsv", rows[:16])
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = arguments_from(parser.parse_args(["--data", str(train), "--validation", str(leak)]))
    with caplog.at_level(logging.WARNING):
        read_data(args, Distributed(rank=0, world_size=1, local_rank=0, device="cpu"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        f"warning: 16 of the 16 validation rows ({leak}) are also in the training data; scores on them flatter the model"
        in warnings
    )
    assert any(w.startswith("warning: 3 rows of the training data repeat an earlier row") for w in warnings), warnings
