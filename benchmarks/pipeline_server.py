"""The baseline for benchmarks/endpoint.py: a plain transformers `pipeline` behind the same
/ping + /invocations contract, one request per pipeline call (what a hand-rolled container does).

    python benchmarks/pipeline_server.py --base BASE_MODEL_DIR --port 8081 [--device cuda]
"""

from __future__ import annotations

import argparse

import torch
import uvicorn
from fastapi import FastAPI
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from golive.contracts.schemas import PredictRequest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--num-labels", type=int, default=2)
    ns = parser.parse_args()

    model = AutoModelForSequenceClassification.from_pretrained(ns.base, num_labels=ns.num_labels)
    pipe = pipeline(
        "text-classification",
        model=model,
        tokenizer=AutoTokenizer.from_pretrained(ns.base),
        device=ns.device,
        truncation=True,
        max_length=128,
    )
    pipe("warm up")
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict:
        return {"status": "ready", "device": ns.device}

    @app.post("/invocations")
    def invocations(body: PredictRequest) -> dict:
        return {"predictions": pipe(body.texts())}

    uvicorn.run(app, host="127.0.0.1", port=ns.port, log_level="warning")


if __name__ == "__main__":
    main()
