"""The epoch and step loop: train on this rank's batches, log `key=value` lines, score the validation rows at
each epoch end (rank 0), and checkpoint so an interrupted run resumes where it stopped with the same result."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from golive.classification_metrics import classification_report, softmax
from golive.contracts.training_metrics import format_metrics
from golive.errors import UserError
from training import checkpoint
from training.args import TrainArguments
from training.batching import Encoded, collate, make_batches, shard
from training.distributed import Distributed

logger = logging.getLogger(__name__)

# Tests set this to SIGKILL the process right after it saves the checkpoint of that step,
# which is exactly what a spot reclaim does to a SageMaker job.
KILL_AFTER_STEP_ENV = "GOLIVE_TEST_KILL_AFTER_STEP"


@dataclass
class Run:
    """What the loop trains and where it stands: built by training.train, advanced step by step, and what a
    checkpoint saves and restores."""

    args: TrainArguments
    ctx: Distributed
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train_enc: Encoded
    train_labels: list[int]
    val_enc: Encoded
    val_labels: list[int]
    label_names: list[str]
    pad_id: int
    steps_per_epoch: int
    total_steps: int
    checkpoint_dir: Path | None = None
    start_epoch: int = 0
    skip_batches: int = 0  # batches of start_epoch that a resumed run has already trained on
    global_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    teacher_logits: torch.Tensor | None = None  # distillation's soft labels, one row per training row

    @property
    def pad_to(self) -> int | None:
        return self.args.max_length if self.args.pad_to_max_length else None

    def batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of the epoch."""
        return epoch_batches(self.train_enc, self.args, epoch, self.ctx)

    def state(self, epoch: int, step_in_epoch: int) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": torch.get_rng_state(),
            "epoch": epoch,
            "step_in_epoch": step_in_epoch,
            "global_step": self.global_step,
            "history": self.history,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        self.start_epoch, self.skip_batches, self.global_step = (
            state["epoch"],
            state["step_in_epoch"],
            state["global_step"],
        )
        self.history = state["history"]


@dataclass
class Meter:
    """Time and examples in training steps (what train_examples_per_second reports), and the loss since the last
    logged step."""

    seconds: float = 0.0
    examples: int = 0
    window_loss: float = 0.0
    window_steps: int = 0

    @property
    def throughput(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


@dataclass
class LoopResult:
    meter: Meter
    eval_report: dict[str, Any]  # the last epoch's validation report (rank 0; empty elsewhere)


def epoch_batches(encoded: Encoded, args: TrainArguments, epoch: int, ctx: Distributed) -> list[list[int]]:
    lengths = [len(ids) for ids in encoded["input_ids"]]
    batches = make_batches(lengths, args.batch_size, args.seed, epoch, args.group_by_length, ctx.world_size)
    return shard(batches, ctx.rank, ctx.world_size)


def resume(run: Run) -> None:
    """Continue from the newest checkpoint of this run, when checkpointing is on and there is one."""
    if not run.checkpoint_dir:
        run.ctx.log("checkpointing off (pass --checkpoint-dir to resume after an interruption)")
        return
    state, message = checkpoint.load_latest(run.checkpoint_dir)
    run.ctx.log(message)
    if state:
        run.restore(state)


def save_checkpoint(run: Run, epoch: int, step_in_epoch: int) -> None:
    assert run.checkpoint_dir is not None  # called only when checkpointing is on
    if run.ctx.is_main:
        checkpoint.save(run.checkpoint_dir, run.global_step, run.state(epoch, step_in_epoch))
    run.ctx.barrier()
    if os.environ.get(KILL_AFTER_STEP_ENV) == str(run.global_step):
        os.kill(os.getpid(), signal.SIGKILL)


def run_training(run: Run) -> LoopResult:
    """Train from where `run` stands to its last step; rank 0 scores the validation rows after each epoch."""
    ddp_model = run.ctx.wrap(run.model)
    # a person at a terminal gets a bar with examples/s and ETA; logs (CI, SageMaker) get the key=value lines
    show_bar = run.ctx.is_main and sys.stderr.isatty()
    step_lines = not (show_bar and sys.stdout.isatty())
    val_batches = eval_batches(run.val_enc, max(64, run.args.batch_size))
    meter, eval_report = Meter(), {}
    with progress_bar(run, show_bar) as progress:
        for epoch in range(run.start_epoch, math.ceil(run.args.epochs)):
            if run.global_step >= run.total_steps:
                break
            train_epoch(run, ddp_model, epoch, meter, progress, step_lines)
            if run.ctx.is_main:
                eval_report = evaluate_epoch(run, val_batches)
            if run.checkpoint_dir and run.global_step % run.args.checkpoint_steps != 0:
                save_checkpoint(run, epoch + 1, 0)
    return LoopResult(meter, eval_report)


@contextlib.contextmanager
def progress_bar(run: Run, show: bool) -> Iterator[tqdm]:
    """tqdm on stderr when `show`; log lines are written around it meanwhile."""
    size = os.get_terminal_size(sys.stderr.fileno()) if show else os.terminal_size((0, 0))
    bar = tqdm(
        total=run.total_steps,
        initial=run.global_step,
        desc="training",
        unit="step",
        disable=not show,
        ncols=size.columns or 100,
        nrows=size.lines or 24,
    )  # some terminals report no size (CI runners)
    package_logger = logging.getLogger(__name__.partition(".")[0])
    redirect = logging_redirect_tqdm([package_logger], tqdm_class=tqdm) if show else contextlib.nullcontext()
    with redirect:
        try:
            yield bar
        finally:
            bar.close()


def train_epoch(
    run: Run, ddp_model: torch.nn.Module, epoch: int, meter: Meter, progress: tqdm, step_lines: bool
) -> None:
    for step_in_epoch, batch_idx in enumerate(run.batches(epoch)):
        if epoch == run.start_epoch and step_in_epoch < run.skip_batches:
            continue
        if run.global_step >= run.total_steps:
            break
        step_loss = train_step(run, ddp_model, batch_idx, meter)
        if not math.isfinite(step_loss):  # a float already read from the device: the check costs no sync
            raise UserError(diverged(run, step_loss))
        progress.set_postfix_str(f"{meter.throughput:.1f} examples/s, loss {step_loss:.3f}", refresh=False)
        progress.update(1)
        if run.global_step % run.args.logging_steps == 0 or run.global_step == run.total_steps:
            record = {
                "step": run.global_step,
                "epoch": round(run.global_step / run.steps_per_epoch, 4),
                "train_loss": meter.window_loss / meter.window_steps,
                "learning_rate": run.scheduler.get_last_lr()[0],
            }
            run.history.append(record)
            if step_lines:
                run.ctx.log(format_metrics(record))
            meter.window_loss, meter.window_steps = 0.0, 0
        if run.checkpoint_dir and run.global_step % run.args.checkpoint_steps == 0:
            save_checkpoint(run, epoch, step_in_epoch + 1)


def diverged(run: Run, loss: float) -> str:
    """What to do when the loss is no longer a number: every later step would train NaN weights, and the export
    would fail on them, so training stops there, before it checkpoints them."""
    became = "NaN" if math.isnan(loss) else "infinite"
    settings = "--lr or --temperature" if run.teacher_logits is not None else "--lr"
    return (
        f"the training loss became {became} at step {run.global_step} of {run.total_steps} (--lr {run.args.lr:g}): "
        f"lower {settings}"
    )


def train_step(run: Run, ddp_model: torch.nn.Module, batch_idx: list[int], meter: Meter) -> float:
    """One optimiser step on one batch; its loss."""
    started = time.perf_counter()
    tensors = collate(run.train_enc, run.train_labels, batch_idx, run.pad_id, run.pad_to)
    if run.teacher_logits is not None:
        tensors["teacher_logits"] = run.teacher_logits[batch_idx]
    batch = {k: v.to(run.ctx.device) for k, v in tensors.items()}
    with autocast_context(run.ctx.device):
        loss = ddp_model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    meter.seconds += time.perf_counter() - started
    meter.examples += len(batch_idx) * run.ctx.world_size
    run.global_step += 1
    step_loss = loss.item()
    meter.window_loss += step_loss
    meter.window_steps += 1
    return step_loss


def evaluate_epoch(run: Run, val_batches: list[list[int]]) -> dict[str, Any]:
    """Score the validation rows with the torch model; log and record the eval_* metrics."""
    eval_loss, logits = predict_torch(run.model, run.val_enc, run.val_labels, val_batches, run.ctx.device, run.pad_id)
    report = classification_report(np.array(run.val_labels), softmax(logits), run.label_names)
    record = {
        "epoch": round(run.global_step / run.steps_per_epoch, 4),
        "eval_loss": eval_loss,
        "eval_accuracy": report["accuracy"],
        "eval_macro_f1": report["macro_f1"],
    }
    run.history.append(record)
    logger.info(format_metrics(record))
    return report


def autocast_context(device: torch.device):
    """bf16 autocast on GPUs that have it (Ampere and later, e.g. ml.g5); plain fp32 elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict_torch(model, encoded, labels, indices_by_length, device, pad_id) -> tuple[float, np.ndarray]:
    """Mean loss and logits over the given examples (in their original order); the model in eval mode meanwhile,
    and back in the mode it was in after."""
    was_training = model.training
    model.eval()
    n = len(labels)
    logits = np.zeros((n, model.config.num_labels), dtype=np.float32)
    total_loss = 0.0
    for batch_idx in indices_by_length:
        batch = {k: v.to(device) for k, v in collate(encoded, labels, batch_idx, pad_id).items()}
        with autocast_context(device):
            out = model(**batch)
        total_loss += out.loss.float().item() * len(batch_idx)
        logits[batch_idx] = out.logits.float().cpu().numpy()
    model.train(was_training)
    return total_loss / max(n, 1), logits


def eval_batches(encoded: Encoded, batch_size: int, rows: list[int] | None = None) -> list[list[int]]:
    """The rows (all, unless given) in batches of similar length, for scoring."""
    ids = encoded["input_ids"]
    order = sorted(range(len(ids)) if rows is None else rows, key=lambda i: len(ids[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
