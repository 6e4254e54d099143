"""The teacher's soft labels: its logits for every training row, scored once before training starts (the teacher
is fixed and in eval mode, so they would be the same in every epoch), then looked up by row in each step.

A Hugging Face folder teacher is run with torch; a bundle teacher with ONNX Runtime on its own model and tokenizer
(training.teacher.soft_label_variant: fp32 when the bundle has it), as it serves. Both in batches, with a progress
line per chunk of rows. Under DDP each rank scores its share of the rows and every rank gathers the whole table.
With --checkpoint-dir the table is kept in the run's checkpoint folder, so a resumed run does not score again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from golive.onnx_classifier import OnnxClassifier
from golive.progress import Progress
from training.batching import encode
from training.distributed import Distributed
from training.loop import Run, eval_batches, predict_torch
from training.teacher import Teacher, soft_label_variant
from training.train import load_tokenizer

CHUNK_ROWS = 2048  # rows scored between progress lines
TABLE_FILE = "teacher_logits.pt"

Scorer = Callable[[list[int]], np.ndarray]  # rows (indices of training rows) -> their logits


def teacher_logits(teacher: Teacher, model: torch.nn.Module | None, run: Run, texts: list[str]) -> torch.Tensor:
    """Logits of `teacher` (its torch `model` for a folder, its ONNX model for a bundle) for every training row."""
    ctx = run.ctx
    cached = read_table(run.checkpoint_dir, len(texts))
    if cached is not None:
        ctx.log(f"teacher soft labels: read from the checkpoint folder {run.checkpoint_dir}")
        return cached
    if model is not None:
        score, what = torch_scorer(model, teacher, run, texts), "the teacher's torch model"
    else:
        score, what = onnx_scorer(teacher, texts)
    rows = list(range(ctx.rank, len(texts), ctx.world_size))  # this rank's share
    progress = Progress(sys.stdout)
    ctx.log(f"teacher soft labels: scoring {len(texts)} training rows with {what} ...")
    parts = [np.zeros((0, len(teacher.labels)), dtype=np.float32)]
    for start in range(0, len(rows), CHUNK_ROWS):
        parts.append(score(rows[start : start + CHUNK_ROWS]))
        if ctx.is_main:
            progress(f"teacher soft labels: {min(start + CHUNK_ROWS, len(rows))} of {len(rows)} rows")
    table = gather(ctx, rows, np.concatenate(parts), len(texts))
    if run.checkpoint_dir and ctx.is_main:
        write_table(run.checkpoint_dir, table)
    ctx.barrier()
    return table


def torch_scorer(model: torch.nn.Module, teacher: Teacher, run: Run, texts: list[str]) -> Scorer:
    """The folder's torch model on the texts as its own tokenizer encodes them (a --student-base's may differ)."""
    model.to(run.ctx.device).eval()
    tokenizer = load_tokenizer(teacher.path)
    encoded = encode(tokenizer, texts, run.args.max_length)

    def score(rows: list[int]) -> np.ndarray:
        batches = eval_batches(encoded, 64, rows)
        pad_id = tokenizer.pad_token_id or 0
        _, logits = predict_torch(model, encoded, run.train_labels, batches, run.ctx.device, pad_id)
        return logits[rows]

    return score


def onnx_scorer(teacher: Teacher, texts: list[str]) -> tuple[Scorer, str]:
    """The bundle's model, on as many threads as torch uses (one per rank under torchrun), and its description."""
    assert teacher.manifest is not None  # a bundle teacher
    variant = soft_label_variant(teacher.manifest)
    classifier = OnnxClassifier.from_bundle(Path(teacher.path), variant, intra_op_threads=torch.get_num_threads())

    def score(rows: list[int]) -> np.ndarray:
        return classifier.predict_logits([texts[i] for i in rows])

    return score, f"the teacher bundle's {variant} ONNX model (ONNX Runtime)"


def gather(ctx: Distributed, rows: list[int], logits: np.ndarray, total: int) -> torch.Tensor:
    """The whole table from every rank's share (this rank's alone when it runs by itself)."""
    shares: list[Any] = [(rows, logits)]
    if ctx.world_size > 1:
        shares = [None] * ctx.world_size
        dist.all_gather_object(shares, (rows, logits))
    table = torch.zeros((total, logits.shape[1]), dtype=torch.float32)
    for share_rows, share_logits in shares:
        table[share_rows] = torch.from_numpy(np.asarray(share_logits, dtype=np.float32))
    return table


def read_table(checkpoint_dir: Path | None, rows: int) -> torch.Tensor | None:
    """The table a run with these checkpoints scored before it was interrupted, if it got that far."""
    if checkpoint_dir is None or not (checkpoint_dir / TABLE_FILE).is_file():
        return None
    table = torch.load(checkpoint_dir / TABLE_FILE, map_location="cpu", weights_only=True)
    return table if len(table) == rows else None


def write_table(checkpoint_dir: Path, table: torch.Tensor) -> None:
    """Written under a temporary name and renamed, so a kill mid-write leaves no table that looks whole."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    partial = checkpoint_dir / f".partial-{TABLE_FILE}"
    torch.save(table, partial)
    partial.replace(checkpoint_dir / TABLE_FILE)
