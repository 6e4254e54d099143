"""Schemathesis against the ASGI app in process (no network): every phase it runs from the OpenAPI
document (examples, coverage, fuzzing, stateful predict -> feedback), every check, a fixed seed and
deterministic generation, so a run in CI is the same run each time. Zero failures, and at least 1,000
generated requests.

Two allowances, made explicit below: `POST /v1/feedback` may answer 422 to a request the schema allows,
because a schema can describe a prediction id's shape but not whether this deployment signed it; and
`POST /v1/explain` may too, because a schema can count a text's characters but not its tokens (the limit is
stated in the document, as `x-max-tokens`, and only the model's tokenizer can apply it).
"""

from __future__ import annotations

import collections
import time

import pytest

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.engine import Status, events, from_schema  # noqa: E402

from functions.api.main import build_services, create_app  # noqa: E402
from functions.api.settings import Settings  # noqa: E402
from functions.api.telemetry import PrometheusTelemetry  # noqa: E402

SEED = 20261123
MAX_EXAMPLES = 120  # per operation and phase: about 1,300 requests in all (the stateful share varies a little)
MIN_CASES = 1000

CONFIG = {
    "seed": SEED,
    "checks": {"enabled": True},  # all of them: server errors, status codes, content types, response
    # schemas and headers, positive data accepted, negative data rejected, unsupported methods, ...
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "operations": [
        {
            "include-path": "/v1/feedback",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]
                }
            },
        },
        {
            "include-path": "/v1/explain",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "422", "5xx"]}},
        },
    ],
}


def test_schemathesis_finds_nothing(tiny_bundle, tmp_path):
    from aws_lambda_powertools import Logger

    # one ONNX Runtime thread per call: requests come one at a time, and spinning threads only burn the CPU
    settings = Settings(
        model_dir=str(tiny_bundle),
        feedback_db=str(tmp_path / "feedback.sqlite3"),
        max_texts=8,
        max_chars=200,
        intra_op_threads=1,
    )
    app = create_app(build_services(settings, PrometheusTelemetry(), Logger(service="fuzz", level="ERROR")))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG))

    started, cpu = time.monotonic(), time.process_time()
    cases, failures, errors = collections.Counter(), [], []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases[event.recorder.label] += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE:
                        case = event.recorder.cases[case_id].value
                        failures.append(
                            f"{event.recorder.label}: {check.name}: {check.failure_info.failure.title} "
                            f"({case.method} {case.path} body={case.body!r})"
                        )
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(repr(getattr(event, "value", None) or getattr(event, "exception", None)))
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    total = sum(cases.values())
    print(f"schemathesis: {total} requests in {elapsed:.1f} s ({cpu:.1f} s CPU), seed {SEED}: {dict(cases)}")

    assert not errors, errors
    assert not failures, "\n".join(sorted(set(failures)))
    assert total >= MIN_CASES, dict(cases)
    assert {
        "POST /v1/predict",
        "POST /v1/classify",
        "POST /v1/explain",
        "POST /v1/feedback",
        "GET /v1/health",
        "GET /v1/model",
    } <= set(cases)
