"""The estimate's lines per stage (training, inference, the API, data, monitoring), each priced from the
table with its formula's inputs written out."""

from __future__ import annotations

from golive.contracts import alarms
from golive.contracts.telemetry import CLOUDWATCH_METRICS
from infra.costs.estimate_parts import Assumptions, Estimate, price
from infra.costs.serving_options import days_per_month


def monitoring_footprint(config, labels: int = 2) -> tuple[int, int, int]:
    """(standard alarm units, composite alarms, custom metrics) the monitoring and inference stacks create.

    Counted from the catalogue the stacks name their alarms from (golive/contracts/alarms.py;
    tests/test_monitoring.py checks it against the synthesised templates): the API, quality and training
    alarms (the feedback export's with api.capture_texts, the retraining trigger's when training.retrain is on),
    and with an endpoint its rollback alarms, on GPU instances its GPU alarms and, when it can scale out, the
    at-maximum alarm; scaling to zero, the wake-up and idle alarms instead, and the slow wake-up alarm when the API
    invokes it.
    """
    created = [*alarms.API_ALARMS, *alarms.QUALITY_ALARMS, *alarms.TRAINING_ALARMS]
    if config.api.capture_texts:
        created += alarms.FEEDBACK_EXPORT_ALARMS
    if config.training.retrain.enabled:
        created += alarms.RETRAIN_TRIGGER_ALARMS
    endpoint = config.endpoint
    if endpoint.enabled:
        created += alarms.ENDPOINT_ALARMS if endpoint.gpus else alarms.ROLLBACK_ALARMS
        if endpoint.scale_to_zero:
            created += alarms.SCALE_TO_ZERO_ALARMS
        if config.api_wakes_endpoint:
            created += alarms.WAKE_UP_ALARMS
        elif endpoint.gpus and not endpoint.scale_to_zero and endpoint.max_instances > endpoint.min_instances:
            created += alarms.SCALING_ALARMS
    return sum(a.billed_as for a in created), len(alarms.COMPOSITE_ALARMS), len(CLOUDWATCH_METRICS) + labels


def training(est: Estimate, config, a: Assumptions, p: dict) -> None:
    hourly = price(p, "sagemaker_training_per_hour", config.training.instance_type)
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
        a.training_runs * 30 * p["stepfunctions_per_thousand_transitions"] / 1000,
        # 30 states on the promote path with one deployment poll (tests/test_pipeline.py runs it); each further
        # minute a deployment takes adds 3
        f"{a.training_runs} runs x ~30 state transitions",
    )


def inference(est: Estimate, config, a: Assumptions, p: dict) -> None:
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
    hosting = price(p, "sagemaker_hosting_per_hour", config.endpoint.instance_type)
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


def api(est: Estimate, config, a: Assumptions, p: dict) -> None:
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


def data(est: Estimate, p: dict, a: Assumptions) -> None:
    est.add(
        "data",
        "S3 storage",
        a.storage_gb * p["s3_standard_per_gb_month"],
        f"{a.storage_gb:g} GB x ${p['s3_standard_per_gb_month']}/GB-month",
    )
    est.add("data", "KMS keys", 3 * p["kms_key_per_month"], f"3 keys (data, alerts, logs) x ${p['kms_key_per_month']}")


def monitoring(est: Estimate, config, a: Assumptions, p: dict) -> None:
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
