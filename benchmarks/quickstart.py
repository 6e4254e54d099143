"""The quickstart's wall time, split into install, training, export, evaluate and serve, from a fresh clone.

Clones this checkout's HEAD into a temporary folder (or uses the checkout itself with --in-place, reusing
its .venv), runs `bash scripts/quickstart.sh` there exactly as the README says, timestamps every line it
prints, and splits the run at the lines that start each step:

    install    start              -> "running: golive quickstart"
    training   "$ golive train"   -> "exporting ONNX"      (includes imports, model load, tokenising)
    export     "exporting ONNX"   -> "$ golive evaluate"   (export, parity checks, bundle write)
    evaluate   "$ golive evaluate" -> "$ golive serve"
    serve      "$ golive serve"   -> /v1/health answers 200

It also records training's own examples/s, the validation accuracy from the bundle, the CPU time
(user + sys) of the whole run, and the machine's load average before and after (other processes on a
2-core machine stretch every wall-clock figure). Exits 1 when training takes a minute or more.

    python benchmarks/quickstart.py                 # fresh clone, fresh .venv (pip from the index)
    python benchmarks/quickstart.py --in-place      # this checkout and its .venv (skips most of the install)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golive.bundle import read_metrics  # noqa: E402  (stdlib only, like this script)

TRAINING_TARGET_S = 60.0
MARKS = {  # step -> the line that starts it
    "training": "$ golive train",
    "export": "exporting ONNX",
    "evaluate": "$ golive evaluate",
    "serve": "$ golive serve",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def run_quickstart(workdir: Path, port: int, timeout_s: float) -> tuple[list[tuple[float, str]], float, float]:
    """Run the quickstart until its server is healthy; (timestamped lines, seconds to healthy, CPU seconds)."""
    lines: list[tuple[float, str]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("VIRTUAL_ENV", "PYTHONPATH"):  # the clone's own .venv and code, nothing of this shell's
        env.pop(name, None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["bash", "scripts/quickstart.sh", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )

    def read() -> None:
        for line in proc.stdout:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))
            print(f"[{lines[-1][0]:6.1f}] {line}", end="", flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready = None
    try:
        while time.perf_counter() - started < timeout_s and proc.poll() is None:
            if any(MARKS["serve"] in text for _, text in lines) and healthy(port):
                ready = time.perf_counter() - started
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as a person would
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=5)
    if ready is None:
        sys.exit("the quickstart's server never became healthy; see the output above")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return lines, ready, usage.ru_utime + usage.ru_stime


def first(lines: list[tuple[float, str]], needle: str) -> float:
    return next(t for t, text in lines if needle in text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in-place", action="store_true", help="run in this checkout, reusing its .venv")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    parser.add_argument("--json-out", default=str(ROOT / "benchmarks" / "out" / "quickstart.json"))
    ns = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="golive-quickstart-") as tmp:
        workdir = ROOT if ns.in_place else Path(tmp) / "golive"
        if not ns.in_place:
            subprocess.run(["git", "clone", "--quiet", str(ROOT), str(workdir)], check=True)
        lines, ready, cpu = run_quickstart(workdir, free_port(), ns.timeout)
        metrics = read_metrics(workdir / "model_artifacts")
    marks = {step: first(lines, needle) for step, needle in MARKS.items()}
    split = {
        "install": first(lines, "running: golive quickstart"),
        "training": marks["export"] - marks["training"],
        "export": marks["evaluate"] - marks["export"],
        "evaluate": marks["serve"] - marks["evaluate"],
        "serve": ready - marks["serve"],
    }
    throughput = next(
        (float(m.group(1)) for _, text in lines if (m := re.search(r"\btrain_examples_per_second=([0-9.]+)", text))),
        None,
    )
    result = {
        "fresh_clone": not ns.in_place,
        "seconds": {k: round(v, 1) for k, v in split.items()} | {"total_to_healthy_server": round(ready, 1)},
        "cpu_seconds_user_plus_sys": round(cpu, 1),
        "train_examples_per_second": throughput,
        "training": metrics.training._asdict(),
        "validation_accuracy": {
            "fp32": metrics.validation["fp32"]["accuracy"],
            "int8": metrics.validation["int8"]["accuracy"],
            "rows": metrics.data.validation_rows,
        },
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "cpus": os.cpu_count(),
        "training_target_seconds": TRAINING_TARGET_S,
    }
    Path(ns.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.json_out).write_text(json.dumps(result, indent=2) + "\n")
    print("\n" + json.dumps(result, indent=2))
    if split["training"] >= TRAINING_TARGET_S:
        print(f"training took {split['training']:.0f} s: over the {TRAINING_TARGET_S:.0f} s target", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
