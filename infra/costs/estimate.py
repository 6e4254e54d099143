"""`golive costs estimate`: monthly cost per stage from an environment's config, before any deploy.

Every figure is a line with the formula's inputs written out (its assumption), priced from the table
shipped beside this module (region, date and source inside it). Serving options are compared per
1,000 predictions, with the traffic at which the GPU endpoint breaks even against in-Lambda ONNX.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from infra.costs import stages
from infra.costs.estimate_parts import Assumptions, Estimate, price
from infra.costs.serving_options import compare, serving_options

PRICE_TABLE = Path(__file__).with_name("prices-us-east-1.json")


def load_prices(path: Path = PRICE_TABLE) -> dict:
    return json.loads(Path(path).read_text())


def estimate(config, a: Assumptions, prices: dict | None = None) -> Estimate:
    """`config` is an infra EnvironmentConfig."""
    a.check()
    p = prices or load_prices()
    est = Estimate(config.name, config.region, p["as_of"], asdict(a))
    _price_notes(est, config, p)
    stages.training(est, config, a, p)
    stages.inference(est, config, a, p)
    stages.api(est, config, a, p)
    stages.data(est, p, a)
    stages.monitoring(est, config, a, p)
    _serving_options(est, config, a, p)
    return est


def _price_notes(est: Estimate, config, p: dict) -> None:
    refreshed = p.get("refreshed")
    if refreshed:
        items = ", ".join(
            f"{instance} {key.split('_')[1]} ${usd}/h"
            for key, prices in refreshed["prices"].items()
            for instance, usd in prices.items()
        )
        est.notes.append(
            f"refreshed from the AWS Pricing API on {refreshed['on']} for {refreshed['region']}: {items}; "
            f"every other price is the shipped table's ({p['region']}, {p['as_of']})"
        )
    if config.region != p["region"]:
        est.notes.append(
            f"prices are {p['region']} list prices; {config.region} differs by a few percent"
            + (" (except the refreshed SageMaker prices)" if refreshed else "")
        )


def _serving_options(est: Estimate, config, a: Assumptions, p: dict) -> None:
    """Each way to serve at this traffic, and the break-even traffic of each pair (infra/costs/serving_options.py)."""
    options = serving_options(config, a, p, lambda kind, instance: price(p, kind, instance))
    est.serving_options, est.break_even_requests_per_month = compare(options, a.requests_per_month)
    est.per_1000_predictions = {name: option["per_1000_usd"] for name, option in est.serving_options.items()}
    onnx, endpoint = (next(o for o in options if o.name == name) for name in ("lambda_onnx", "gpu_endpoint"))
    if onnx.per_request_usd <= endpoint.per_request_usd:
        est.notes.append(
            f"in-Lambda ONNX stays cheaper than a GPU endpoint at any traffic: the Lambda in front "
            f"of the endpoint waits {a.proxy_ms:g} ms, longer than the model runs in-process "
            f"({a.onnx_ms:.1f} ms); choose the endpoint for latency under load, larger models or "
            "traffic a Lambda's concurrency can't carry"
        )
