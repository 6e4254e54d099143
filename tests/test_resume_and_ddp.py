"""Interruption and scale-out: a killed run resumes from its checkpoint; DDP ranks end identical."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from golive import bundle
from tests.conftest import REPO, tiny_train_args

pytestmark = pytest.mark.slow
TRAIN_SCRIPT = str(REPO / "training" / "cli.py")


def run(cmd: list[str], env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def weight_hashes(stdout: str) -> dict[int, str]:
    return {int(rank): digest for rank, digest in re.findall(r"rank=(\d+) weights_sha256=([0-9a-f]{64})", stdout)}


def test_killed_run_resumes_from_checkpoint_and_matches_an_uninterrupted_run(tiny_base_model, small_data, tmp_path):
    train, val = small_data
    script_args = tiny_train_args(tiny_base_model, train, val, tmp_path / "bundle", "--checkpoint-steps", "2")[1:]

    reference = run(
        [
            sys.executable,
            TRAIN_SCRIPT,
            *script_args,
            "--checkpoint-dir",
            str(tmp_path / "ref-ckpt"),
            "--out",
            str(tmp_path / "ref-bundle"),
        ]
    )
    assert reference.returncode == 0, reference.stderr

    ckpt = tmp_path / "ckpt"
    killed = run(
        [sys.executable, TRAIN_SCRIPT, *script_args, "--checkpoint-dir", str(ckpt)],
        {"GOLIVE_TEST_KILL_AFTER_STEP": "4"},
    )
    assert killed.returncode == -signal.SIGKILL
    assert "weights_sha256" not in killed.stdout  # it really died mid-training
    assert not (tmp_path / "bundle" / bundle.MANIFEST).exists()
    saved = sorted(p.name for p in ckpt.glob("run-*/step-*"))
    assert saved == ["step-00000002", "step-00000004"]

    resumed = run([sys.executable, TRAIN_SCRIPT, *script_args, "--checkpoint-dir", str(ckpt)])
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from checkpoint" in resumed.stdout and "(epoch 0, step 4)" in resumed.stdout
    assert "step=2 " not in resumed.stdout  # steps before the checkpoint were not run again
    assert weight_hashes(resumed.stdout)[0] == weight_hashes(reference.stdout)[0]
    bundle.verify_bundle(tmp_path / "bundle")


def test_checkpoints_of_another_run_are_not_resumed(tiny_base_model, small_data, tmp_path):
    train, val = small_data
    args = tiny_train_args(
        tiny_base_model,
        train,
        val,
        tmp_path / "b",
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
        "--export",
        "false",
        "--epochs",
        "1",
    )[1:]
    first = run([sys.executable, TRAIN_SCRIPT, *args])
    assert first.returncode == 0, first.stderr
    other = run([sys.executable, TRAIN_SCRIPT, *args, "--lr", "3e-4"])
    assert other.returncode == 0, other.stderr
    assert "resuming" not in other.stdout and "starting from the base model" in other.stdout
    assert len(list((tmp_path / "ckpt").glob("run-*"))) == 2


def test_two_gloo_ranks_under_torchrun_end_with_identical_weights(tiny_base_model, small_data, tmp_path):
    train, val = small_data
    args = tiny_train_args(tiny_base_model, train, val, tmp_path / "bundle")[1:]
    result = run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", TRAIN_SCRIPT, *args],
        {"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    hashes = weight_hashes(result.stdout)
    assert set(hashes) == {0, 1}
    assert hashes[0] == hashes[1]
    # 40 rows in batches of 8 = 5 batches, padded to 6 so both ranks take 3 steps an epoch
    assert "rank=0 world_size=2 device=cpu batches_per_epoch=3" in result.stdout
    assert "rank=1 world_size=2 batches_per_epoch=3" in result.stdout
    bundle.verify_bundle(tmp_path / "bundle")  # rank 0 wrote the bundle
