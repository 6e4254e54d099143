"""What `golive train --sagemaker` uploads, against moto's S3 and SageMaker: each local channel as the job's training
will read it (a champion bundle whole or as its model.tar.gz, feedback exports with their day folders, data and
evaluation folders by training/reading.py's rules), read back from S3 with training's own readers; and a champion
that is not a sound bundle refused before anything is uploaded or any job started."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli.main import main
from golive import bundle
from golive.archives import write_tarball
from tests.moto_data_stack import deploy_data_stack, launcher_session, put_bundle
from training.comparison import find_champion
from training.reading import SkipReport, read_rows

JOB = "golive-dev-cli-upload"
RUN = ["train", "--sagemaker", "--job-name", JOB]
PREFIX = f"cli-jobs/{JOB}/"


@pytest.fixture()
def aws(monkeypatch):
    yield from launcher_session(monkeypatch)


@pytest.fixture()
def deployed(aws, handmade_bundle, tmp_path):
    deployed = deploy_data_stack(aws)
    put_bundle(aws, deployed, JOB, handmade_bundle, tmp_path)  # the job's output, where moto's finished job points
    return deployed


def _feedback_exports(folder: Path) -> Path:
    """Two days of `feedback export`s as the scheduled job writes them: <day>/feedback.jsonl and summary.json."""
    for day, text in [("2026-11-24", "loved it"), ("2026-11-25", "hated it")]:
        (folder / day).mkdir(parents=True)
        (folder / day / "feedback.jsonl").write_text(f'{{"text": "{text}", "label": "positive"}}\n')
        (folder / day / "summary.json").write_text('{"rows": 1}')
    return folder


def _keys(aws, bucket: str, under: str) -> set[str]:
    found = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=under).get("Contents", [])
    return {o["Key"].removeprefix(under) for o in found}


def _download(aws, bucket: str, under: str, folder: Path) -> Path:
    """A channel's prefix as SageMaker copies it into /opt/ml/input/data/<channel>/."""
    for key in _keys(aws, bucket, under):
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        aws.client("s3").download_file(bucket, under + key, str(folder / key))
    return folder


def _champions(handmade_bundle: Path, tmp_path: Path) -> dict[str, tuple[Path, set[str]]]:
    """The three champions training takes, and the keys each lands under in the champion channel."""
    files = {*bundle.read_manifest(handmade_bundle).files, bundle.MANIFEST}
    tarball = bundle.pack_tarball(handmade_bundle, tmp_path / "serving.tgz")
    channel = tmp_path / "channel"
    channel.mkdir()
    shutil.copy(tarball, channel / "model.tar.gz")
    return {
        "folder": (handmade_bundle, files),
        "tarball": (tarball, {bundle.TARBALL}),  # a .tgz lands as model.tar.gz: what the job looks for
        "channel": (channel, {bundle.TARBALL}),
    }


@pytest.mark.parametrize("champion", ["folder", "tarball", "channel"])
def test_every_local_channel_lands_as_training_reads_it(aws, deployed, handmade_bundle, tmp_path, champion, capsys):
    data, evaluation = tmp_path / "data", tmp_path / "eval"
    (data / "old").mkdir(parents=True)
    (data / "train.tsv").write_text("text\tlabel\nfine\tpositive\n")
    (data / "old" / "skipped.tsv").write_text("text\tlabel\nnot read\tpositive\n")  # training reads no subfolder
    evaluation.mkdir()
    (evaluation / "held_out.csv").write_text("text,label\nok,negative\n")
    (evaluation / "README.md").write_text("not data")
    feedback = _feedback_exports(tmp_path / "exports")
    given, champion_keys = _champions(handmade_bundle, tmp_path)[champion]
    flags = ["--data", str(data), "--eval-data", str(evaluation), "--feedback-data", str(feedback)]
    assert main([*RUN, *flags, "--champion", str(given), "--out", str(tmp_path / "out")]) == 0, capsys.readouterr()

    bucket = deployed.data_bucket
    job = aws.client("sagemaker").describe_training_job(TrainingJobName=JOB)
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    names = ("train", "eval", "feedback", "champion")
    assert channels == {name: f"s3://{bucket}/{PREFIX}{name}/" for name in names}
    expected = {
        "train": {"train.tsv"},
        "eval": {"held_out.csv"},
        "feedback": {"2026-11-24/feedback.jsonl", "2026-11-25/feedback.jsonl"},
        "champion": champion_keys,
    }
    assert {name: _keys(aws, bucket, f"{PREFIX}{name}/") for name in names} == expected
    # the job's training finds what it needs in its channel folders
    inside = {name: _download(aws, bucket, f"{PREFIX}{name}/", tmp_path / "job" / name) for name in names}
    rows = read_rows(str(inside["feedback"]), None, None, SkipReport(), tree=True)
    assert sorted(row.text for row in rows) == ["hated it", "loved it"]
    found = find_champion(str(inside["champion"]))
    staged = found if found.is_dir() else tmp_path / "unpacked"
    if not found.is_dir():
        bundle.unpack_tarball(found, staged)
    assert bundle.verify_bundle(staged) == bundle.verify_bundle(handmade_bundle)
    assert "uploading --feedback-data" in capsys.readouterr().out


def _truncated_model(handmade_bundle: Path, tmp_path: Path) -> Path:
    broken = shutil.copytree(handmade_bundle, tmp_path / "broken")
    (broken / bundle.MODEL_INT8).write_bytes(b"cut short")
    return broken


def _missing_model(handmade_bundle: Path, tmp_path: Path) -> Path:
    broken = shutil.copytree(handmade_bundle, tmp_path / "broken")
    (broken / bundle.MODEL_FP32).unlink()
    return broken


def _not_a_tarball(handmade_bundle: Path, tmp_path: Path) -> Path:
    fake = tmp_path / "model.tar.gz"
    fake.write_bytes(b"not gzip")
    return fake


def _tarball_of_a_broken_bundle(handmade_bundle: Path, tmp_path: Path) -> Path:
    broken = _truncated_model(handmade_bundle, tmp_path)
    names = [*bundle.read_manifest(broken).files, bundle.MANIFEST]
    return write_tarball(tmp_path / "model.tar.gz", [(broken / name, name) for name in names])


def _no_manifest(handmade_bundle: Path, tmp_path: Path) -> Path:
    broken = shutil.copytree(handmade_bundle, tmp_path / "broken")
    (broken / bundle.MANIFEST).unlink()
    return broken


@pytest.mark.parametrize(
    "make, message",
    [
        (_truncated_model, "does not match its sha256"),
        (_missing_model, f"is missing {bundle.MODEL_FP32}"),
        (_not_a_tarball, f"is not a readable {bundle.TARBALL}"),
        (_tarball_of_a_broken_bundle, "does not match its sha256"),
        (_no_manifest, f"is not a bundle folder (no {bundle.MANIFEST})"),
    ],
)
def test_a_broken_champion_is_refused_before_any_upload_or_job(
    aws, deployed, handmade_bundle, tmp_path, make, message, capsys
):
    champion = make(handmade_bundle, tmp_path)
    assert main([*RUN, "--champion", str(champion), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"--champion {champion}" in err and message in err and "Traceback" not in err
    assert aws.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
    assert _keys(aws, deployed.data_bucket, "cli-jobs/") == set()


def test_a_folder_without_what_training_reads_says_so_before_any_upload(aws, deployed, tmp_path, capsys):
    empty = _feedback_exports(tmp_path / "exports")
    for rows in empty.glob("*/feedback.jsonl"):
        rows.unlink()  # summaries only
    assert main([*RUN, "--feedback-data", str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"--feedback-data {empty} is a folder with no .jsonl files in it" in err, err
    assert _keys(aws, deployed.data_bucket, "cli-jobs/") == set()
