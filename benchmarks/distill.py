"""Distillation benchmark (issue 21): a student with fewer layers against its teacher, both int8 ONNX, in one run
on the same inputs.

1. the teacher: fine-tuned from the base model (default: all-MiniLM-L6-v2, 6 layers) on --train-rows SST-2 rows
   with `golive train`'s own run builder and loop, saved as a Hugging Face folder (or --teacher DIR, one you have);
2. the student: `golive distill --layers N` on the same rows (its wall time is the "distilled in 30 min" figure);
3. both int8 models on the same held-out rows (never trained or validated on): accuracy; per-request latency at
   batch 1 (p50, p99; teacher and student take turns on each text, each first half the time, so load
   hits both alike); throughput at
   batch 32 (the same batches, in turns).

    python benchmarks/distill.py                                   # the issue's run: 6 -> 3 layers on SST-2
    python benchmarks/distill.py --train-rows 400 --eval-rows 200 --epochs 1 --latency-texts 50   # a smoke run

Targets: student ≥ 1.8x faster at batch 1 (p50), accuracy within 1.0 point of the teacher's, distilled in ≤ 30 min.
Figures go to benchmarks/out/distill.json with the load average; the exit code is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SST2 = ROOT.parent / "shared" / "data" / "sst2" / "train.tsv"
if not SST2.exists():
    SST2 = Path("/work/shared/data/sst2/train.tsv")
LABEL_NAMES = ["negative", "positive"]
TARGETS = {"speedup_batch1_p50": 1.8, "accuracy_drop_points": 1.0, "distill_minutes": 30.0}


def split_rows(path: Path, train_rows: int, eval_rows: int, seed: int) -> tuple[list[str], list[str]]:
    """Disjoint training and held-out rows (`label<TAB>sentence` lines), drawn with `seed`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    random.Random(seed).shuffle(rows)
    if train_rows + eval_rows > len(rows):
        raise SystemExit(f"{path} has {len(rows)} rows; asked for {train_rows} + {eval_rows}")
    return [header, *rows[eval_rows : eval_rows + train_rows]], [header, *rows[:eval_rows]]


def common_flags(ns: argparse.Namespace, train_file: Path) -> list[str]:
    return [
        "--data",
        str(train_file),
        "--text-column",
        "sentence",
        "--label-names",
        ",".join(LABEL_NAMES),
        "--validation-fraction",
        "0.05",
        "--epochs",
        f"{ns.epochs:g}",
        "--batch-size",
        "32",
        "--lr",
        f"{ns.lr:g}",
        "--logging-steps",
        "100",
        "--max-length",
        "128",
    ]


def fine_tune_teacher(ns: argparse.Namespace, train_file: Path, out: Path) -> Path:
    """`golive train`'s run on the base model, kept as a Hugging Face folder (a bundle holds no torch weights)."""
    from cli.main import build_parser
    from training.args import arguments_from, default_base_model
    from training.cli import prepare_process

    prepare_process()
    from training.distributed import init_distributed
    from training.loop import run_training
    from training.train import build_run, load_tokenizer, read_data

    args = arguments_from(build_parser().parse_args(["train", *common_flags(ns, train_file), "--export", "false"]))
    base = args.base_model or default_base_model()
    ctx = init_distributed(0)
    data = read_data(args, ctx)
    tokenizer = load_tokenizer(base)
    run = build_run(args, ctx, data, tokenizer, base)
    run_training(run)
    run.model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def export_int8(teacher_dir: Path, out: Path):
    """The teacher as serving would run it: the export's own ONNX + fusion + int8 path."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from golive import bundle
    from golive.onnx_classifier import OnnxClassifier
    from golive.progress import Progress
    from training.export import write_onnx_files

    model = AutoModelForSequenceClassification.from_pretrained(teacher_dir).eval()
    paths, _ = write_onnx_files(model, AutoTokenizer.from_pretrained(teacher_dir), out, Progress(sys.stdout))
    return OnnxClassifier(paths[bundle.MODEL_INT8], paths[bundle.TOKENIZER], LABEL_NAMES, 128)


def measure(models: dict, texts: list[str], labels: list[int], latency_texts: int, rounds: int) -> dict:
    import numpy as np

    figures = {}
    for name, clf in models.items():
        probs = clf.predict_proba(texts)
        figures[name] = {"accuracy": float((probs.argmax(1) == np.array(labels)).mean())}
        clf.logits(texts[:32])  # warm
    times = {name: [] for name in models}
    for i, text in enumerate(texts[:latency_texts]):
        for name, clf in models.items() if i % 2 else reversed(models.items()):  # each goes first half the time
            started = time.perf_counter()
            clf.logits([text])
            times[name].append((time.perf_counter() - started) * 1000)
    batches = [texts[i : i + 32] for i in range(0, len(texts) - 31, 32)][:rounds]
    busy = {name: 0.0 for name in models}
    for i, batch in enumerate(batches):
        for name, clf in models.items() if i % 2 else reversed(models.items()):
            started = time.perf_counter()
            clf.logits(batch)
            busy[name] += time.perf_counter() - started
    for name in models:
        ordered = sorted(times[name])
        figures[name] |= {
            "batch1_p50_ms": statistics.median(ordered),
            "batch1_p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "batch32_texts_per_s": 32 * len(batches) / busy[name],
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SST2), help="SST-2's train.tsv (label<TAB>sentence)")
    parser.add_argument("--teacher", help="a fine-tuned Hugging Face classifier folder (default: fine-tune one here)")
    parser.add_argument("--layers", type=int, default=3, help="layers the student keeps")
    parser.add_argument("--layer-choice", choices=["spread", "first"], default="spread")
    parser.add_argument("--train-rows", type=int, default=30000, help="rows teacher and student train on")
    parser.add_argument("--eval-rows", type=int, default=2000, help="held-out rows both are scored on")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--latency-texts", type=int, default=500, help="held-out texts timed one at a time")
    parser.add_argument("--throughput-batches", type=int, default=30, help="batches of 32 timed")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", help="keep the teacher, student and data here (default: a temporary folder)")
    ns = parser.parse_args()

    work = Path(ns.work or tempfile.mkdtemp(prefix="golive-distill-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    train_lines, eval_lines = split_rows(Path(ns.data), ns.train_rows, ns.eval_rows, ns.seed)
    train_file = work / "train.tsv"
    train_file.write_text("\n".join(train_lines) + "\n", encoding="utf-8")
    held_out = [line.split("\t", 1) for line in eval_lines[1:]]
    labels, texts = [int(label) for label, _ in held_out], [text for _, text in held_out]

    started = time.perf_counter()
    teacher_dir = Path(ns.teacher) if ns.teacher else fine_tune_teacher(ns, train_file, work / "teacher")
    teacher_minutes = (time.perf_counter() - started) / 60

    from cli.main import main as golive

    started = time.perf_counter()
    student_dir = work / "student"
    code = golive(
        [
            "distill",
            "--teacher",
            str(teacher_dir),
            "--layers",
            str(ns.layers),
            "--layer-choice",
            ns.layer_choice,
            "--temperature",
            f"{ns.temperature:g}",
            "--alpha",
            f"{ns.alpha:g}",
            *common_flags(ns, train_file),
            "--out",
            str(student_dir),
        ]
    )
    distill_minutes = (time.perf_counter() - started) / 60
    if code:
        return code

    from golive.onnx_classifier import OnnxClassifier

    (work / "teacher-onnx").mkdir(exist_ok=True)
    models = {
        "teacher": export_int8(teacher_dir, work / "teacher-onnx"),
        "student": OnnxClassifier.from_bundle(student_dir, "int8"),
    }
    load_before = os.getloadavg()
    figures = measure(models, texts, labels, ns.latency_texts, ns.throughput_batches)
    result = {
        "command": " ".join([sys.executable, *sys.argv]),
        "train_rows": ns.train_rows,
        "held_out_rows": len(texts),
        "layers": ns.layers,
        "layer_choice": ns.layer_choice,
        "teacher_minutes": None if ns.teacher else round(teacher_minutes, 2),
        "distill_minutes": round(distill_minutes, 2),
        "models": figures,
        "speedup_batch1_p50": figures["teacher"]["batch1_p50_ms"] / figures["student"]["batch1_p50_ms"],
        "speedup_batch1_p99": figures["teacher"]["batch1_p99_ms"] / figures["student"]["batch1_p99_ms"],
        "speedup_batch32": figures["student"]["batch32_texts_per_s"] / figures["teacher"]["batch32_texts_per_s"],
        "accuracy_drop_points": 100 * (figures["teacher"]["accuracy"] - figures["student"]["accuracy"]),
        "load_average_before_after": [load_before, os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    missed = [
        name
        for name, limit in TARGETS.items()
        if (result[name] < limit if name.startswith("speedup") else result[name] > limit)
    ]
    result["targets"], result["missed"] = TARGETS, missed
    out = ROOT / "benchmarks" / "out" / "distill.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
