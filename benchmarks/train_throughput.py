"""Training throughput: dynamic padding + length-grouped batches against padding every batch to 128.

Both runs go through the real training loop (`training.train.train`, after the entry point's `prepare_process`) in one process, on the same
rows, with the same model and batch size; only the batching differs. Eval and export time are not
counted. Prints both figures and their ratio, and writes them as JSON.

    python benchmarks/train_throughput.py                       # SST-2 from ../shared if present
    python benchmarks/train_throughput.py --data my.tsv --rows 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.args import SAMPLE_TRAIN, add_train_arguments, arguments_from  # noqa: E402
from training.cli import prepare_process  # noqa: E402

prepare_process()  # the environment training runs in (sleeping OpenMP waits), set before torch loads
from training.train import train  # noqa: E402

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2" / "train.tsv"


def measure(data: str, rows: int, batch_size: int, extra: list[str], pad: bool, out: str) -> float:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    argv = [
        "--data",
        data,
        "--max-train-samples",
        str(rows),
        "--epochs",
        "1",
        "--batch-size",
        str(batch_size),
        "--export",
        "false",
        "--logging-steps",
        "1000000",
        "--max-length",
        "128",
        "--out",
        out,
        "--group-by-length",
        str(not pad),
        "--pad-to-max-length",
        str(pad),
        *extra,
    ]
    return train(arguments_from(parser.parse_args(argv)))["train_examples_per_second"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SST2) if SST2.exists() else str(SAMPLE_TRAIN))
    parser.add_argument("--text-column", default=None)
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--json-out", default="benchmarks/out/train_throughput.json")
    ns = parser.parse_args()
    extra = ["--validation-fraction", "0.02"]
    if ns.text_column or ns.data == str(SST2):
        extra += ["--text-column", ns.text_column or "sentence"]
    if ns.base_model:
        extra += ["--base-model", ns.base_model]
    with tempfile.TemporaryDirectory() as tmp:
        dynamic = measure(ns.data, ns.rows, ns.batch_size, extra, pad=False, out=tmp)
        padded = measure(ns.data, ns.rows, ns.batch_size, extra, pad=True, out=tmp)
    result = {
        "data": ns.data,
        "rows": ns.rows,
        "batch_size": ns.batch_size,
        "dynamic_grouped_examples_per_second": round(dynamic, 2),
        "padded_to_128_examples_per_second": round(padded, 2),
        "speedup": round(dynamic / padded, 2),
        "target_speedup": 2.0,
    }
    Path(ns.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.json_out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["speedup"] >= result["target_speedup"] else 1


if __name__ == "__main__":
    sys.exit(main())
