"""Endpoint container load test (issue 4): batched vs unbatched serving vs a plain transformers pipeline.

Each server runs as its own process on loopback; a small asyncio HTTP/1.1 client (keep-alive, one
connection per concurrent caller, one text per request) drives it at concurrency 1, 8 and 64, each level
bounded by --requests and --max-seconds. Reported per level: throughput and p50/p99 latency, plus the
model's bare compute time at batch 1 (same process, no HTTP) for the "p50 within 2 ms" target.

    python benchmarks/endpoint.py --model model_artifacts [--data ../shared/data/sst2/train.tsv]

On a GPU host it uses CUDA (fp16) for ours and the pipeline alike; name the device in RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serving import free_port, percentile  # noqa: E402
from golive import bundle  # noqa: E402

SAMPLE = ROOT / "training" / "sample_data" / "train.tsv"


def load_texts(path: Path, limit: int = 2000) -> list[str]:
    """The text column of a TSV with a header naming it `text` or `sentence` (our sample data, SST-2)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    column = next((header.index(name) for name in ("text", "sentence") if name in header), None)
    if column is None:
        raise SystemExit(f"error: {path} has no `text` or `sentence` column in its header {header}")
    texts = [row.split("\t")[column] for row in lines[1:] if len(row.split("\t")) > column]
    return [t for t in texts if t.strip()][:limit]


def start_server(argv: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    import urllib.request

    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server not ready in 300 s:\n{log.read_text()[-3000:]}")


async def caller(port: int, bodies, latencies: list[float], errors: list[int], deadline: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in bodies:
            if time.monotonic() > deadline:
                return
            request = (
                f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - start) * 1000)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


def load(port: int, texts: list[str], concurrency: int, requests_total: int, max_seconds: float) -> dict:
    bodies = iter([json.dumps({"inputs": texts[i % len(texts)]}).encode() for i in range(requests_total)])
    latencies: list[float] = []
    errors: list[int] = []

    async def run():
        deadline = time.monotonic() + max_seconds
        await asyncio.gather(*(caller(port, bodies, latencies, errors, deadline) for _ in range(concurrency)))

    start = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - start
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


def bare_compute_ms(model_dir: str, variant: str, provider: str, texts: list[str], iterations: int = 300) -> float:
    """The model alone at batch 1, as the server runs it (same variant and provider): the p50 floor."""
    from functions.endpoint.model import load_classifier
    from functions.endpoint.settings import EndpointSettings

    classifier = load_classifier(EndpointSettings(model_dir=model_dir, model_variant=variant, provider=provider))
    for text in texts[:20]:
        classifier.predict_proba([text])
    samples = []
    for i in range(iterations):
        start = time.perf_counter()
        classifier.predict_proba([texts[i % len(texts)]])
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="model_artifacts")
    parser.add_argument("--data", default=str(SAMPLE), help="texts to send (TSV); default: the shipped sample")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--requests", type=int, default=1000, help="per server and concurrency level")
    parser.add_argument("--max-seconds", type=float, default=30, help="per server and concurrency level")
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5)
    parser.add_argument("--provider", default="auto", choices=["auto", "cuda", "tensorrt", "cpu"])
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--json-out", default="benchmarks/out/endpoint.json")
    ns = parser.parse_args()

    manifest = bundle.verify_bundle(Path(ns.model))
    texts = load_texts(Path(ns.data))
    levels = [int(c) for c in ns.concurrency.split(",")]
    logs = ROOT / "benchmarks" / "out"
    logs.mkdir(parents=True, exist_ok=True)
    serve = [sys.executable, "-m", "functions.endpoint.serve", "serve"]
    common = {
        "GOLIVE_ENDPOINT_MODEL_DIR": str(Path(ns.model).resolve()),
        "GOLIVE_ENDPOINT_HOST": "127.0.0.1",
        "GOLIVE_ENDPOINT_PROVIDER": ns.provider,
    }
    servers = {
        "batched": (
            serve,
            {
                "GOLIVE_ENDPOINT_MAX_BATCH_SIZE": str(ns.max_batch_size),
                "GOLIVE_ENDPOINT_MAX_WAIT_MS": str(ns.max_wait_ms),
            },
        ),
        "unbatched": (serve, {"GOLIVE_ENDPOINT_MAX_BATCH_SIZE": "1", "GOLIVE_ENDPOINT_MAX_WAIT_MS": "0"}),
    }
    base = manifest.training.get("base_model_path")
    if not ns.skip_pipeline:
        if not base or not Path(base).exists():
            print(
                f"error: the bundle's base model {base!r} is not here; the pipeline baseline needs it "
                "(or pass --skip-pipeline)",
                file=sys.stderr,
            )
            return 2
        servers["transformers_pipeline"] = (
            [
                sys.executable,
                str(ROOT / "benchmarks" / "pipeline_server.py"),
                "--base",
                base,
                "--num-labels",
                str(len(manifest.labels)),
            ],
            {},
        )

    result: dict = {
        "model": ns.model,
        "model_version": manifest.version_id,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "texts": len(texts),
        "servers": {},
    }
    for name, (argv, env) in servers.items():
        port = free_port()
        argv = argv + (["--port", str(port)] if name == "transformers_pipeline" else [])
        proc = start_server(
            argv, {**common, **env, "SAGEMAKER_BIND_TO_PORT": str(port)}, port, logs / f"endpoint-{name}.log"
        )
        try:
            if name != "transformers_pipeline":
                import urllib.request

                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping") as r:
                    result["servers"][name] = {"ping": json.loads(r.read())}
            else:
                result["servers"][name] = {}
            load(port, texts, 4, 40, 30)  # warm-up
            result["servers"][name]["levels"] = [load(port, texts, c, ns.requests, ns.max_seconds) for c in levels]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        print(name, json.dumps(result["servers"][name]["levels"]), flush=True)

    ping = result["servers"]["batched"]["ping"]
    result["bare_compute_p50_ms"] = bare_compute_ms(str(Path(ns.model).resolve()), ping["variant"], ns.provider, texts)
    by_level = {name: {lv["concurrency"]: lv for lv in server["levels"]} for name, server in result["servers"].items()}
    summary = {"device": ping["provider"], "variant": ping["variant"]}
    top = max(levels)
    summary[f"batched_vs_unbatched_throughput_c{top}"] = round(
        by_level["batched"][top]["throughput_rps"] / by_level["unbatched"][top]["throughput_rps"], 2
    )
    if "transformers_pipeline" in by_level:
        summary[f"batched_vs_pipeline_throughput_c{top}"] = round(
            by_level["batched"][top]["throughput_rps"] / by_level["transformers_pipeline"][top]["throughput_rps"], 2
        )
    if 1 in levels:
        summary["batched_p50_c1_minus_bare_compute_ms"] = round(
            by_level["batched"][1]["p50_ms"] - result["bare_compute_p50_ms"], 2
        )
        summary["unbatched_p50_c1_minus_bare_compute_ms"] = round(
            by_level["unbatched"][1]["p50_ms"] - result["bare_compute_p50_ms"], 2
        )
    summary["targets_on_gpu"] = {"batched_vs_pipeline_throughput_c64": ">= 2", "p50_c1_minus_bare_compute_ms": "<= 2"}
    result["summary"] = summary
    Path(ns.json_out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
