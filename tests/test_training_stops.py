"""Training stops, saying why and what to change, where going on would lose the run or mislead: a loss that is no
longer a number (it stops there, instead of training NaN weights to the export's crash), a --checkpoint-dir it
cannot write (refused before the data loads, not after the epoch it would lose), and --num-gpus that torch cannot
see (said as such, not as GPUs present)."""

from __future__ import annotations

import logging

import pytest
import torch

from cli.main import main
from golive.errors import UserError
from tests.conftest import tiny_train_args
from training import loop
from training.args import TrainArguments
from training.distributed import init_distributed


def test_a_loss_that_becomes_nan_stops_training_at_that_step(tiny_base_model, small_data, tmp_path, caplog):
    train, validation = small_data
    # what a learning rate far too high does; the flags refuse this one (above 1), the loop guards any that diverges
    args = TrainArguments(
        data=str(train),
        validation=str(validation),
        base_model=str(tiny_base_model),
        out=str(tmp_path / "bundle"),
        checkpoint_dir=str(tmp_path / "checkpoints"),
        checkpoint_steps=1,
        epochs=1.0,
        batch_size=8,
        max_length=32,
        lr=1e30,
        logging_steps=100,
    )
    from training.train import train as run_train

    with pytest.raises(UserError) as raised, caplog.at_level(logging.INFO, logger="training"):
        run_train(args)
    assert str(raised.value) == "the training loss became NaN at step 2 of 5 (--lr 1e+30): lower --lr"
    saved = sorted(p.name for p in (tmp_path / "checkpoints").glob("run-*/step-*"))
    assert saved == ["step-00000001"]  # the step before: the NaN weights are not checkpointed
    assert not (tmp_path / "bundle" / "manifest.json").exists()


def test_a_distillation_that_diverges_names_the_temperature_too():
    args = TrainArguments(lr=0.5)
    run = loop.Run.__new__(loop.Run)  # only what the message reads
    run.args, run.global_step, run.total_steps, run.teacher_logits = args, 3, 10, None
    assert (
        loop.diverged(run, float("inf")) == "the training loss became infinite at step 3 of 10 (--lr 0.5): lower --lr"
    )
    run.teacher_logits = torch.zeros(1, 2)
    assert loop.diverged(run, float("nan")).endswith(
        "became NaN at step 3 of 10 (--lr 0.5): lower --lr or --temperature"
    )


def test_a_checkpoint_dir_that_is_a_file_is_refused_before_the_data_loads(tiny_base_model, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    missing = tmp_path / "not-read.tsv"  # never read: the check comes first
    argv = tiny_train_args(tiny_base_model, missing, missing, tmp_path / "out", "--checkpoint-dir", str(afile))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"cannot write checkpoints to --checkpoint-dir {afile}: it is a file, not a folder; pass a folder" in err
    assert "does not exist" not in err


def test_out_that_is_an_input_folder_is_refused_before_the_data_loads(tiny_base_model, tiny_bundle, tmp_path, capsys):
    """The bundle's files (config, tokenizer, model, manifest) would be written over the input's own."""
    before = {p.name: p.read_bytes() for p in tiny_base_model.iterdir() if p.is_file()}
    missing = tmp_path / "not-read.tsv"
    assert main(tiny_train_args(tiny_base_model, missing, missing, tiny_base_model)) == 2
    assert f"--out {tiny_base_model} is the --base-model folder" in capsys.readouterr().err
    distill = ["distill", "--teacher", str(tiny_bundle), "--student-base", str(tiny_base_model), "--layers", "1"]
    assert main([*distill, "--data", str(missing), "--out", str(tiny_bundle)]) == 2
    assert f"--out {tiny_bundle} is the --teacher folder" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tiny_base_model.iterdir() if p.is_file()} == before


def test_num_gpus_that_torch_cannot_see_is_said_so(monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with caplog.at_level(logging.INFO, logger="training"):
        init_distributed(4)
    said = [r.getMessage() for r in caplog.records]
    assert said == ["warning: --num-gpus 4, but torch sees no GPUs here: training runs on cpu"]
    assert not any("GPUs present" in line for line in said)
