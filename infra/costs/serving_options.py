"""Every way golive can serve the model, priced per month at the same traffic, and where each pair breaks even.

Each option is a fixed monthly cost plus a cost per request, both from the price table
(prices-us-east-1.json) and the estimate's assumptions, so the traffic at which two options cost the
same is `(fixed_a - fixed_b) / (per_request_b - per_request_a)` where that is positive (else: never).

- lambda_onnx: the int8 model in the API's Lambda (what `api.backend: onnx` deploys). Cold starts bill
  their init phase (AWS bills INIT for on-demand functions on managed runtimes).
- lambda_onnx_snapstart: the same with SnapStart: no init per cold start, but each new environment pays a
  restore (per GB of memory) and the published version's snapshot is cached (per GB-second, all month).
- sagemaker_serverless: the ONNX CPU model on SageMaker Serverless Inference behind the API's Lambda
  (billed per GB-second of inference at the configured memory). Provisioned concurrency is not priced: its
  price could not be confirmed for the table.
- gpu_endpoint: the endpoint's instances around the clock (`endpoint.min_instances`).
- gpu_scale_to_zero: one instance for `active_hours_per_day` x 30.4 days, none otherwise (an inference
  component at zero copies on an endpoint with managed instance scaling down to 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations


def days_per_month(p: dict) -> float:
    """The price table's month in days (730 h / 24 = 30.4), so 24 active hours a day is exactly always-on."""
    return p["hours_per_month"] / 24


@dataclass(frozen=True)
class ServingOption:
    name: str
    fixed_usd: float  # per month, whatever the traffic
    per_request_usd: float
    assumption: str

    def monthly(self, requests: int) -> float:
        return self.fixed_usd + requests * self.per_request_usd


def serving_options(config, a, p: dict, price) -> list[ServingOption]:
    """`a`: the estimate's Assumptions; `price(table_key, instance_type)`: the estimate's checked lookup."""
    gb = config.api.lambda_memory_mb / 1024
    gbs = p["lambda_per_gb_second"][config.api.lambda_architecture]
    requests = p["lambda_per_million_requests"] / 1e6 + p["apigateway_rest_per_million_requests"] / 1e6
    onnx = a.onnx_ms / 1000 * gb * gbs
    proxied = requests + a.proxy_ms / 1000 * gb * gbs
    init = a.cold_start_share * a.init_s * gb * gbs
    snap = p["lambda_snapstart"]
    restore = a.cold_start_share * gb * snap["restore_per_gb"]
    cache = a.snapstart_versions * gb * p["hours_per_month"] * 3600 * snap["cache_per_gb_second"]
    serverless = a.onnx_ms / 1000 * a.serverless_memory_gb * p["sagemaker_serverless_per_gb_second"]
    hosting = price("sagemaker_hosting_per_hour", config.endpoint.instance_type)
    instance = config.endpoint.instance_type
    always_on = max(config.endpoint.min_instances, 1)
    days = days_per_month(p)
    active_hours = a.active_hours_per_day * days
    return [
        ServingOption(
            "lambda_onnx",
            0.0,
            requests + onnx + init,
            f"Lambda {gb:g} GB x {a.onnx_ms:.1f} ms + a {a.init_s:g} s init on {a.cold_start_share:.1%} "
            "of requests (cold starts)",
        ),
        ServingOption(
            "lambda_onnx_snapstart",
            cache,
            requests + onnx + restore,
            f"{a.snapstart_versions} cached snapshot x {gb:g} GB x ${snap['cache_per_gb_second']}/GB-s all "
            f"month + a restore x {gb:g} GB x ${snap['restore_per_gb']}/GB on {a.cold_start_share:.1%} of "
            "requests, no init",
        ),
        ServingOption(
            "sagemaker_serverless",
            0.0,
            proxied + serverless,
            f"{a.serverless_memory_gb:g} GB x {a.onnx_ms:.1f} ms x ${p['sagemaker_serverless_per_gb_second']}"
            f"/GB-s + the API's Lambda waiting {a.proxy_ms:g} ms",
        ),
        ServingOption(
            "gpu_endpoint",
            always_on * p["hours_per_month"] * hosting,
            proxied,
            f"{always_on} {instance} x {p['hours_per_month']} h x ${hosting}/h + the API's Lambda",
        ),
        ServingOption(
            "gpu_scale_to_zero",
            active_hours * hosting,
            proxied,
            f"1 {instance} x {a.active_hours_per_day:g} active h/day x {days:.1f} days x "
            f"${hosting}/h + the API's Lambda",
        ),
    ]


def break_even(first: ServingOption, second: ServingOption) -> float | None:
    """Requests a month at which the two cost the same; None where one is cheaper at every traffic."""
    slope = second.per_request_usd - first.per_request_usd
    if slope == 0:
        return None
    requests = (first.fixed_usd - second.fixed_usd) / slope
    return round(requests) if requests > 0 else None


def compare(options: list[ServingOption], requests: int) -> tuple[dict[str, dict], dict[str, float | None]]:
    """(each option at this traffic, the break-even traffic of each pair as `a_vs_b`)."""
    at_traffic = {
        o.name: {
            **asdict(o),
            "monthly_usd": round(o.monthly(requests), 2),
            "per_1000_usd": round(1000 * o.monthly(requests) / max(requests, 1), 4),
        }
        for o in options
    }
    pairs = {f"{a.name}_vs_{b.name}": break_even(a, b) for a, b in combinations(options, 2)}
    return at_traffic, pairs
