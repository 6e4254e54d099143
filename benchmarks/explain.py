"""What /v1/explain costs (issue 21): golive.explain on a 30-token text against one prediction of the same text,
on a bundle's int8 model, in one run. Target (issue 21): explain under 100 ms p50 here.

    python benchmarks/explain.py --model model_artifacts
    python benchmarks/explain.py --model /tmp/work/student      # e.g. a student from benchmarks/distill.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golive.explain import explain  # noqa: E402
from golive.onnx_classifier import OnnxClassifier  # noqa: E402

# 30 word-piece tokens with all-MiniLM-L6-v2's tokenizer (the script prints the count it measured)
TEXT = (
    "the film starts slowly , but the last hour is a moving , beautifully acted story about grief , memory "
    "and the families we choose for ourselves in the end"
)
TARGET_MS = 100.0


def p50_ms(call, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="model_artifacts", help="a bundle folder")
    parser.add_argument("--variant", default="int8", help="the bundle's model variant (int8 or fp32)")
    parser.add_argument("--runs", type=int, default=60, help="timed calls of each")
    ns = parser.parse_args()
    classifier = OnnxClassifier.from_bundle(Path(ns.model), ns.variant)
    encoding = classifier.tokenizer.encode(TEXT)
    tokens = sum(1 for special in encoding.special_tokens_mask if not special)
    for _ in range(5):  # warm-up: ONNX Runtime's first calls allocate
        explain(classifier, TEXT, 64)
        classifier.predict_proba([TEXT])
    load_before = os.getloadavg()
    explain_ms = p50_ms(lambda: explain(classifier, TEXT, 64), ns.runs)
    predict_ms = p50_ms(lambda: classifier.predict_proba([TEXT]), ns.runs)
    result = {
        "model": ns.model,
        "variant": ns.variant,
        "tokens": tokens,
        "explain_p50_ms": round(explain_ms, 1),
        "predict_p50_ms": round(predict_ms, 2),
        "explain_over_predict": round(explain_ms / predict_ms, 1),
        "target_explain_p50_ms": TARGET_MS,
        "load_average_before_after": [load_before, os.getloadavg()],
    }
    print(json.dumps(result, indent=2))
    return 0 if explain_ms < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
