"""The feedback loop, end to end on this machine (issue 20's demonstration): does user feedback make the next
model better?

1. The "before" model: `golive train` on the shipped sample data (the quickstart's bundle; or --bundle).
2. `golive serve` it with text capture on (GOLIVE_CAPTURE_TEXTS), and send --feedback-rows SST-2 sentences through
   golive's own HTTP client: predict each, then report its true label as feedback.
3. `golive feedback export --local` the feedback store: the labelled, redacted texts as JSONL.
4. The "after" model: `golive train` on the same sample data plus the export (`--feedback-data`), with the
   "before" model as the champion it is compared with.
5. `golive evaluate` both on --heldout-rows other SST-2 rows (none of them sent as feedback).

    python benchmarks/feedback_loop.py [--bundle model_artifacts] [--feedback-rows 1000] [--heldout-rows 2000]

Rows come from ../shared/data/sst2/train.tsv (label 0/1 -> negative/positive, the sample data's names), shuffled
with --seed; the feedback rows and the held-out rows are disjoint.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golive.client import Client  # noqa: E402

SST2 = ROOT.parent / "shared" / "data" / "sst2" / "train.tsv"
LABEL_NAMES = {"0": "negative", "1": "positive"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def golive(*argv: str, show: bool = True) -> str:
    """Run the real CLI; its output is returned, and shown unless `show` is false."""
    print(f"$ golive {' '.join(argv)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cli", *argv], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{done.stdout}{done.stderr}\ngolive {argv[0]} failed (exit {done.returncode})")
    print(done.stdout + done.stderr if show else "", f"({time.perf_counter() - started:.1f} s)", sep="\n", flush=True)
    return done.stdout


def sst2_rows(path: Path, feedback_rows: int, heldout_rows: int, seed: int) -> tuple[list, list]:
    with path.open(newline="") as handle:
        rows = [(row["sentence"], LABEL_NAMES[row["label"]]) for row in csv.DictReader(handle, delimiter="\t")]
    random.Random(seed).shuffle(rows)
    if len(rows) < feedback_rows + heldout_rows:
        raise SystemExit(f"{path} has {len(rows)} rows; fewer than --feedback-rows + --heldout-rows")
    return rows[:feedback_rows], rows[feedback_rows : feedback_rows + heldout_rows]


def send_feedback(bundle: Path, rows: list, work: Path) -> Path:
    """Serve the bundle with capture on, predict every row and report its true label; the feedback database."""
    database, port = work / "feedback.sqlite3", free_port()
    env = {**os.environ, "GOLIVE_CAPTURE_TEXTS": "true", "PYTHONPATH": str(ROOT)}
    argv = ["serve", "--model", str(bundle), "--port", str(port), "--feedback-db", str(database)]
    log = (work / "serve.log").open("w")  # one JSON line per request: kept out of the report
    server = subprocess.Popen([sys.executable, "-m", "cli", *argv], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        with Client(f"http://127.0.0.1:{port}", deadline=120) as client:
            _wait_healthy(client, server)
            started, correct = time.perf_counter(), 0
            for start in range(0, len(rows), 64):
                part = rows[start : start + 64]
                predicted = client.predict([text for text, _ in part])
                for prediction, (_, label) in zip(predicted.predictions, part, strict=True):
                    correct += client.feedback(prediction.prediction_id, label).correct
            seconds = time.perf_counter() - started
        print(
            f"sent {len(rows)} predictions and their feedback in {seconds:.1f} s; the served model was right on "
            f"{correct} ({correct / len(rows):.3f})",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    return database


def _wait_healthy(client: Client, server: subprocess.Popen) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise SystemExit("golive serve stopped before it was healthy")
        try:
            if client._http.get("/v1/health").status_code == 200:
                return
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.2)
    raise SystemExit("golive serve was not healthy within 120 s")


def accuracy(bundle: Path, data: Path) -> float:
    report = json.loads(golive("evaluate", "--model", str(bundle), "--data", str(data), "--json", show=False))
    return float(report["accuracy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="the model serving now (default: train one on the sample data)")
    parser.add_argument("--feedback-rows", type=int, default=1000)
    parser.add_argument("--heldout-rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out" / "feedback_loop")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    feedback, heldout = sst2_rows(SST2, args.feedback_rows, args.heldout_rows, args.seed)
    heldout_file = args.work / "heldout.jsonl"
    heldout_file.write_text("".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in heldout))
    timings: dict[str, float] = {}

    def timed(name: str, step, *step_args):
        started = time.perf_counter()
        result = step(*step_args)
        timings[name] = round(time.perf_counter() - started, 1)
        return result

    before = args.bundle or args.work / "before"
    if not args.bundle:
        timed("train before", golive, "train", "--out", str(before))
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    database = timed("serve + feedback", send_feedback, before, feedback, args.work)
    export = args.work / "export.jsonl"
    timed("export", golive, "feedback", "export", "--local", str(database), "--since", since, "--out", str(export))
    after = args.work / "after"
    train_after = ["train", "--out", str(after), "--feedback-data", str(export), "--champion", str(before)]
    timed("train after", golive, *train_after)
    results = {
        "feedback_rows_sent": len(feedback),
        "exported_rows": sum(1 for _ in export.open()),
        "heldout_rows": len(heldout),
        "accuracy_before": accuracy(before, heldout_file),
        "accuracy_after": accuracy(after, heldout_file),
        "seconds": timings,
    }
    print(json.dumps(results, indent=2))
    (args.work / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
