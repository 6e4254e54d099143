"""`golive distill` interrupted and scaled out, as `golive train` is (tests/test_resume_and_ddp.py): a killed
distillation resumes from its checkpoint (and its stored soft labels) to the same weights as an uninterrupted one,
and two gloo ranks under torchrun end identical, rank 0 writing the bundle, with a bundle or a folder teacher."""

from __future__ import annotations

import signal
import sys

import numpy as np
import pytest

from golive import bundle
from golive.onnx_classifier import OnnxClassifier
from tests.conftest import sample_rows
from tests.test_distill import distill_args
from tests.test_resume_and_ddp import run, weight_hashes

pytestmark = pytest.mark.slow
GOLIVE = [sys.executable, "-m", "cli"]


def test_killed_distillation_resumes_from_checkpoint_and_matches_an_uninterrupted_one(
    tiny_bundle, small_data, tmp_path
):
    def args(out: str, checkpoints: str, *extra: str) -> list[str]:
        flags = ["--layers", "1", "--epochs", "2", "--checkpoint-steps", "2", "--logging-steps", "2"]
        return distill_args(
            tiny_bundle, small_data, tmp_path / out, *flags, "--checkpoint-dir", str(tmp_path / checkpoints), *extra
        )

    reference = run([*GOLIVE, *args("ref-bundle", "ref-ckpt")])
    assert reference.returncode == 0, reference.stderr

    killed = run([*GOLIVE, *args("bundle", "ckpt")], {"GOLIVE_TEST_KILL_AFTER_STEP": "4"})
    assert killed.returncode == -signal.SIGKILL
    assert "weights_sha256" not in killed.stdout  # it really died mid-training
    assert not (tmp_path / "bundle" / bundle.MANIFEST).exists()
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("run-*/step-*")) == ["step-00000002", "step-00000004"]
    assert len(list((tmp_path / "ckpt").glob("run-*/teacher_logits.pt"))) == 1

    resumed = run([*GOLIVE, *args("bundle", "ckpt")])
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from checkpoint" in resumed.stdout and "(epoch 0, step 4)" in resumed.stdout
    assert "teacher soft labels: read from the checkpoint folder" in resumed.stdout  # not scored again
    assert "step=2 " not in resumed.stdout  # steps before the checkpoint were not run again
    assert weight_hashes(resumed.stdout)[0] == weight_hashes(reference.stdout)[0]
    assert bundle.verify_bundle(tmp_path / "bundle").distillation["layers_kept"] == [0]

    # another distillation (another soft loss share) of the same data does not resume this one's checkpoints
    other = run([*GOLIVE, *args("other", "ckpt", "--alpha", "0.9", "--export", "false")])
    assert other.returncode == 0, other.stderr
    assert "resuming" not in other.stdout and "starting from the base model" in other.stdout
    assert len(list((tmp_path / "ckpt").glob("run-*"))) == 2


def teachers_logits(kind: str, teacher, texts: list[str]) -> np.ndarray:
    """The teacher's logits for each text, one text at a time (no padding): its fp32 ONNX model for a bundle, its
    torch model for a Hugging Face folder."""
    if kind == "bundle":
        return np.concatenate([OnnxClassifier.from_bundle(teacher, "fp32").logits([text]) for text in texts])
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model, tokenizer = (
        AutoModelForSequenceClassification.from_pretrained(teacher),
        AutoTokenizer.from_pretrained(teacher),
    )
    with torch.no_grad():
        return np.concatenate(
            [
                model(**tokenizer(text, truncation=True, max_length=32, return_tensors="pt")).logits.numpy()
                for text in texts
            ]
        )


@pytest.mark.parametrize("kind", ["bundle", "folder"])
def test_two_gloo_ranks_under_torchrun_distil_to_identical_weights(kind, request, small_data, tmp_path):
    teacher = request.getfixturevalue("tiny_bundle" if kind == "bundle" else "tiny_teacher")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    checkpoints = tmp_path / "ckpt"
    flags = ["--layers", "1", "--checkpoint-dir", str(checkpoints)]
    result = run([*torchrun, "-m", "cli", *distill_args(teacher, small_data, tmp_path / "bundle", *flags)])
    assert result.returncode == 0, result.stderr[-3000:]
    hashes = weight_hashes(result.stdout)
    assert set(hashes) == {0, 1} and hashes[0] == hashes[1]
    # 40 rows in batches of 8 = 5 batches, padded to 6 so both ranks take 3 steps an epoch
    assert "rank=0 world_size=2 device=cpu batches_per_epoch=3" in result.stdout
    assert "rank=1 world_size=2 batches_per_epoch=3" in result.stdout
    assert result.stdout.count("bundle written to") == 1  # rank 0 alone exports

    # each rank scored half the rows; the table both trained on is the teacher's logits for all of them, in order
    import torch

    (table_file,) = checkpoints.glob("run-*/teacher_logits.pt")
    table = torch.load(table_file, weights_only=True).numpy()
    expected = teachers_logits(kind, teacher, [text for text, _ in sample_rows("train")[:40]])
    np.testing.assert_allclose(table, expected, atol=1e-4)

    manifest = bundle.verify_bundle(tmp_path / "bundle")
    assert manifest.distillation["teacher"] == str(teacher) and manifest.distillation["layers_kept"] == [0]
    probs = OnnxClassifier.from_bundle(tmp_path / "bundle").predict_proba(["a lovely film", "awful"])
    assert probs.shape == (2, 2)
