"""`golive costs estimate`: monthly cost per stage from an environment's config, before any deploy.

Every figure is a line with the formula's inputs written out (its assumption), priced from the table
shipped beside this module (region, date and source inside it). Serving options are compared per
1,000 predictions, with the traffic at which the GPU endpoint breaks even against in-Lambda ONNX.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from golive.contracts import alarms
from golive.contracts.telemetry import CLOUDWATCH_METRICS
from golive.errors import UserError
from infra.costs.serving_options import compare, days_per_month, serving_options

PRICE_TABLE = Path(__file__).with_name("prices-us-east-1.json")


@dataclass(frozen=True)
class Assumptions:
    requests_per_month: int = 1_000_000
    avg_tokens: int = 32
    training_runs: int = 4
    training_hours: float = 1.0  # billable hours per run
    spot_discount: float = 0.70  # share saved by managed spot (AWS quotes up to 90%)
    storage_gb: float = 50  # data, models and captured traffic together
    feedback_share: float = 0.10  # share of predictions that get a feedback write
    log_bytes_per_request: int = 1_000  # Lambda + access log lines
    # Lambda time per prediction on the in-process int8 model: benchmarks/serving.py measured 4.2 ms at
    # 29 tokens plus ~1.2 ms of app time on 2 vCPUs; 2 GB Lambdas have about 1.2 vCPUs
    onnx_ms_base: float = 3.0
    onnx_ms_per_token: float = 0.1
    proxy_ms: float = 30.0  # Lambda time waiting on an endpoint round trip
    # share of requests that start a new Lambda instance, which reads the signing key once (Secrets Manager call)
    cold_start_share: float = 0.002
    serverless_memory_gb: float = 2.0
    # a scale-to-zero GPU endpoint is up this many hours a day (infra/costs/serving_options.py)
    active_hours_per_day: float = 8.0
    # the API Lambda's init phase per cold start, billed on demand: 0.86 s measured from the built package on
    # 2 cores (shared/REFERENCE.md); with SnapStart a restore replaces it
    init_s: float = 0.86
    snapstart_versions: int = 1  # published versions holding a cached snapshot (the alias's)

    def check(self) -> None:
        problems = [
            name
            for name, ok in [
                ("--requests-per-month must be 0 or more", self.requests_per_month >= 0),
                ("--avg-tokens must be between 1 and 512", 1 <= self.avg_tokens <= 512),
                ("--training-runs must be 0 or more", self.training_runs >= 0),
                ("--training-hours must be above 0", self.training_hours > 0),
                ("--spot-discount must be between 0 and 0.9", 0 <= self.spot_discount <= 0.9),
                ("cold_start_share must be between 0 and 1", 0 <= self.cold_start_share <= 1),
                ("--active-hours-per-day must be above 0 and at most 24", 0 < self.active_hours_per_day <= 24),
            ]
            if not ok
        ]
        if problems:
            raise UserError("; ".join(problems))

    @property
    def onnx_ms(self) -> float:
        return self.onnx_ms_base + self.onnx_ms_per_token * self.avg_tokens


@dataclass
class Line:
    stage: str
    item: str
    monthly_usd: float
    assumption: str


@dataclass
class Estimate:
    environment: str
    region: str
    prices_as_of: str
    assumptions: dict
    lines: list[Line] = field(default_factory=list)
    per_1000_predictions: dict[str, float] = field(default_factory=dict)
    # each serving option at this traffic (infra/costs/serving_options.py)
    serving_options: dict[str, dict] = field(default_factory=dict)
    # traffic at which the two options of each pair `a_vs_b` cost the same (None: one is cheaper at any traffic)
    break_even_requests_per_month: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, stage: str, item: str, usd: float, assumption: str) -> None:
        self.lines.append(Line(stage, item, round(usd, 2), assumption))

    def by_stage(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.stage] = round(totals.get(line.stage, 0) + line.monthly_usd, 2)
        return totals

    def to_dict(self) -> dict:
        return {**asdict(self), "by_stage": self.by_stage(), "total_usd": round(sum(self.by_stage().values()), 2)}


def load_prices(path: Path = PRICE_TABLE) -> dict:
    return json.loads(Path(path).read_text())


def _price(table: dict, kind: str, instance_type: str) -> float:
    try:
        return table[kind][instance_type]
    except KeyError:
        known = ", ".join(sorted(table[kind]))
        raise UserError(
            f"no {kind.replace('_', ' ')} price for {instance_type} in the price table; known: {known} "
            "(add it to infra/costs/prices-us-east-1.json or use --refresh-prices)"
        ) from None


def monitoring_footprint(config, labels: int = 2) -> tuple[int, int, int]:
    """(standard alarm units, composite alarms, custom metrics) the monitoring and inference stacks create.

    Counted from the catalogue the stacks name their alarms from (golive/contracts/alarms.py;
    tests/test_monitoring.py checks it against the synthesised templates): the API, quality and training
    alarms, and with an endpoint its rollback alarms, on GPU instances its GPU alarms and, when it can scale, the
    at-maximum alarm, or, scaling to zero, the wake-up and idle alarms, and the slow wake-up alarm when the API
    invokes it.
    """
    created = [*alarms.API_ALARMS, *alarms.QUALITY_ALARMS, *alarms.TRAINING_ALARMS]
    endpoint = config.endpoint
    if endpoint.enabled:
        created += alarms.ENDPOINT_ALARMS if endpoint.gpus else alarms.ROLLBACK_ALARMS
        if endpoint.scale_to_zero:
            created += alarms.SCALE_TO_ZERO_ALARMS
        if config.api_wakes_endpoint:
            created += alarms.WAKE_UP_ALARMS
        elif endpoint.gpus and endpoint.max_instances > endpoint.min_instances:
            created += alarms.SCALING_ALARMS
    return sum(a.billed_as for a in created), len(alarms.COMPOSITE_ALARMS), len(CLOUDWATCH_METRICS) + labels


def estimate(config, a: Assumptions, prices: dict | None = None) -> Estimate:
    """`config` is an infra EnvironmentConfig."""
    a.check()
    p = prices or load_prices()
    est = Estimate(config.name, config.region, p["as_of"], asdict(a))
    _price_notes(est, config, p)
    _training(est, config, a, p)
    _inference(est, config, a, p)
    _api(est, config, a, p)
    _data(est, p, a)
    _monitoring(est, config, a, p)
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


def _training(est: Estimate, config, a: Assumptions, p: dict) -> None:
    hourly = _price(p, "sagemaker_training_per_hour", config.training.instance_type)
    paid = 1 - a.spot_discount if config.training.use_spot else 1.0
    est.add(
        "training",
        f"SageMaker training {config.training.instance_type} x{config.training.instance_count}",
        a.training_runs * a.training_hours * config.training.instance_count * hourly * paid,
        f"{a.training_runs} runs x {a.training_hours} h x {config.training.instance_count} x ${hourly}/h"
        + (f" x {paid:.2f} (spot saves {a.spot_discount:.0%})" if config.training.use_spot else " (on-demand)"),
    )
    est.add(
        "training",
        "Step Functions",
        a.training_runs * 20 * p["stepfunctions_per_thousand_transitions"] / 1000,
        f"{a.training_runs} runs x ~20 state transitions",
    )


def _inference(est: Estimate, config, a: Assumptions, p: dict) -> None:
    if not config.endpoint.enabled:
        return
    if config.endpoint.kind == "serverless":
        serverless, n = config.endpoint.serverless, a.requests_per_month
        gb, gbs = serverless.memory_size_mb / 1024, p["sagemaker_serverless_per_gb_second"]
        est.add(
            "inference",
            "SageMaker Serverless Inference",
            n * a.onnx_ms / 1000 * gb * gbs,
            f"{n:,} requests x {a.onnx_ms:.1f} ms x {gb:g} GB x ${gbs}/GB-s; nothing while idle",
        )
        if serverless.provisioned_concurrency:
            est.notes.append(
                f"endpoint.serverless.provisioned_concurrency ({serverless.provisioned_concurrency}) is "
                "billed by the hour and not priced here: its price could not be confirmed for the table"
            )
        return
    hosting = _price(p, "sagemaker_hosting_per_hour", config.endpoint.instance_type)
    if config.endpoint.scale_to_zero:
        up = a.active_hours_per_day * days_per_month(p)
        est.add(
            "inference",
            f"SageMaker endpoint {config.endpoint.instance_type} (scale to zero)",
            up * hosting,
            f"1 instance x {a.active_hours_per_day:g} active h/day x {days_per_month(p):.1f} days x ${hosting}/h; "
            f"none while idle (active hours include the {config.endpoint.scale_in_idle_minutes} idle minutes "
            "before each scale-in, endpoint.scale_in_idle_minutes, and each wake-up)",
        )
        return
    est.add(
        "inference",
        f"SageMaker endpoint {config.endpoint.instance_type}",
        config.endpoint.min_instances * p["hours_per_month"] * hosting,
        f"{config.endpoint.min_instances} instance(s) (min) x {p['hours_per_month']} h x ${hosting}/h; "
        f"autoscaling up to {config.endpoint.max_instances} adds ${hosting}/h per extra instance",
    )


def _api(est: Estimate, config, a: Assumptions, p: dict) -> None:
    n = a.requests_per_month
    gb = config.api.lambda_memory_mb / 1024
    gbs = p["lambda_per_gb_second"][config.api.lambda_architecture]
    lambda_ms = a.onnx_ms if config.api.backend == "onnx" else a.proxy_ms
    est.add(
        "api",
        "Lambda compute",
        n * lambda_ms / 1000 * gb * gbs,
        f"{n:,} requests x {lambda_ms:.1f} ms x {gb:g} GB x ${gbs}/GB-s "
        + (
            f"(in-process int8: {a.onnx_ms_base} + {a.onnx_ms_per_token} ms/token x {a.avg_tokens} tokens)"
            if config.api.backend == "onnx"
            else "(waiting on the endpoint)"
        ),
    )
    est.add(
        "api",
        "Lambda requests",
        n * p["lambda_per_million_requests"] / 1e6,
        f"{n:,} x ${p['lambda_per_million_requests']}/million",
    )
    est.add(
        "api",
        "API Gateway (REST)",
        n * p["apigateway_rest_per_million_requests"] / 1e6,
        f"{n:,} x ${p['apigateway_rest_per_million_requests']}/million",
    )
    _waf_and_secret(est, config, a, p)
    est.add(
        "api",
        "DynamoDB feedback writes",
        n * a.feedback_share * p["dynamodb_per_million_write_units"] / 1e6,
        f"{a.feedback_share:.0%} of predictions x ${p['dynamodb_per_million_write_units']}/million writes",
    )


def _data(est: Estimate, p: dict, a: Assumptions) -> None:
    est.add(
        "data",
        "S3 storage",
        a.storage_gb * p["s3_standard_per_gb_month"],
        f"{a.storage_gb:g} GB x ${p['s3_standard_per_gb_month']}/GB-month",
    )
    est.add("data", "KMS keys", 3 * p["kms_key_per_month"], f"3 keys (data, alerts, logs) x ${p['kms_key_per_month']}")


def _monitoring(est: Estimate, config, a: Assumptions, p: dict) -> None:
    n = a.requests_per_month
    log_gb = n * a.log_bytes_per_request / 1e9
    est.add(
        "monitoring",
        "CloudWatch Logs ingestion",
        log_gb * p["cloudwatch_logs_ingest_per_gb"],
        f"{n:,} requests x {a.log_bytes_per_request} bytes = {log_gb:.2f} GB x ${p['cloudwatch_logs_ingest_per_gb']}/GB",
    )
    units, composites, metrics = monitoring_footprint(config)
    est.add(
        "monitoring",
        "CloudWatch alarms and dashboard",
        units * p["cloudwatch_alarm_per_month"]
        + composites * p["cloudwatch_composite_alarm_per_month"]
        + p["cloudwatch_dashboard_per_month"],
        f"{units} alarm units x ${p['cloudwatch_alarm_per_month']} (anomaly detection counts 3) + {composites} "
        f"composite x ${p['cloudwatch_composite_alarm_per_month']} + 1 dashboard x ${p['cloudwatch_dashboard_per_month']}",
    )
    est.add(
        "monitoring",
        "CloudWatch custom metrics (the API's EMF)",
        metrics * p["cloudwatch_custom_metric_per_month"],
        f"{metrics} metrics (one per label for PredictedLabel) x ${p['cloudwatch_custom_metric_per_month']}",
    )


# the web ACL's rules (infra/constructs/web_acl.py): AWS's core and known-bad-inputs rule groups (one rule each
# in WAF's billing, no subscription fee) and the rate rule; 700 + 200 + 2 WCU, under the 1,500 included
WAF_RULES = 3
ROTATION_CALLS = 12  # Secrets Manager API calls per rotation of the signing key (functions/rotation/handler.py)


def _waf_and_secret(est: Estimate, config, a: Assumptions, p: dict) -> None:
    n = a.requests_per_month
    if config.api.waf.enabled:
        est.add(
            "api",
            "AWS WAF web ACL",
            p["waf_web_acl_per_month"] + WAF_RULES * p["waf_rule_per_month"] + n * p["waf_per_million_requests"] / 1e6,
            f"1 web ACL x ${p['waf_web_acl_per_month']} + {WAF_RULES} rules (2 AWS managed rule groups, the rate "
            f"rule) x ${p['waf_rule_per_month']} + {n:,} requests x ${p['waf_per_million_requests']}/million; "
            "logs only blocked requests (CloudWatch Logs ingestion, nothing while none are blocked)",
        )
    rotations = 30 / config.api.signing_key_rotation_days
    calls = n * a.cold_start_share + rotations * ROTATION_CALLS
    est.add(
        "api",
        "Secrets Manager signing key",
        p["secretsmanager_secret_per_month"] + calls / 10_000 * p["secretsmanager_per_10k_api_calls"],
        f"1 secret x ${p['secretsmanager_secret_per_month']} + {calls:,.0f} calls x "
        f"${p['secretsmanager_per_10k_api_calls']}/10,000 (a read per cold start, {a.cold_start_share:.1%} of "
        f"requests; {ROTATION_CALLS} per rotation, every {config.api.signing_key_rotation_days} days; the rotation "
        "function's 4 runs per rotation stay in Lambda's free tier)",
    )


def _serving_options(est: Estimate, config, a: Assumptions, p: dict) -> None:
    """Each way to serve at this traffic, and the break-even traffic of each pair (infra/costs/serving_options.py)."""
    options = serving_options(config, a, p, lambda kind, instance: _price(p, kind, instance))
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
