"""`golive costs estimate` against figures computed by hand for one config, and its input errors."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from golive.contracts.telemetry import CLOUDWATCH_METRICS
from infra.config import EnvironmentConfig
from infra.costs.estimate import Assumptions, estimate, load_prices
from infra.costs.serving_options import break_even


def hand_config() -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {
            "name": "staging",
            "training": {"instance_type": "ml.g5.xlarge", "instance_count": 1, "use_spot": True},
            "endpoint": {"enabled": True, "instance_type": "ml.g5.xlarge", "min_instances": 1, "max_instances": 2},
            "api": {"backend": "onnx", "lambda_memory_mb": 2048, "lambda_architecture": "x86_64"},
        }
    )


def test_estimate_matches_hand_computed_figures():
    prices = load_prices()
    assert prices["sagemaker_hosting_per_hour"]["ml.g5.xlarge"] == 1.408  # the figures below assume these
    assert prices["lambda_per_gb_second"]["x86_64"] == 0.0000166667
    a = Assumptions(requests_per_month=2_000_000, avg_tokens=20, training_runs=2, training_hours=3, spot_discount=0.7)
    result = estimate(hand_config(), a, prices)
    lines = {line.item: line.monthly_usd for line in result.lines}
    assert lines["SageMaker training ml.g5.xlarge x1"] == pytest.approx(2 * 3 * 1.408 * 0.3, abs=0.005)  # 2.53
    assert lines["SageMaker endpoint ml.g5.xlarge"] == pytest.approx(730 * 1.408, abs=0.005)  # 1027.84
    assert lines["Lambda compute"] == pytest.approx(2e6 * 0.005 * 2 * 0.0000166667, abs=0.005)  # 5 ms: 3 + 0.1 x 20
    assert lines["Lambda requests"] == 0.40 and lines["API Gateway (REST)"] == 7.00
    assert lines["S3 storage"] == 1.15 and lines["KMS keys"] == 3.00  # data, alerts, logs
    assert lines["CloudWatch Logs ingestion"] == 1.00
    # staging: 6 API + 4 quality + 3 units of anomaly detection + undelivered alerts + 2 rollback + 2 GPU + at-max = 19
    # (capture off: no feedback export, so no alarm on it)
    assert lines["CloudWatch alarms and dashboard"] == pytest.approx(19 * 0.10 + 0.50 + 3.00)
    assert lines["CloudWatch custom metrics (the API's EMF)"] == pytest.approx((len(CLOUDWATCH_METRICS) + 2) * 0.30)
    totals = result.by_stage()
    assert totals["inference"] == 1027.84 and set(totals) == {"training", "inference", "api", "data", "monitoring"}
    per_1000 = result.per_1000_predictions
    assert per_1000["lambda_onnx"] == pytest.approx(1000 * (3.7e-6 + 0.005 * 2 * 0.0000166667), abs=1e-4)
    assert per_1000["gpu_endpoint"] == pytest.approx(
        1000 * (3.7e-6 + 0.03 * 2 * 0.0000166667 + 1027.84 / 2e6), abs=1e-4
    )
    assert per_1000["sagemaker_serverless"] == pytest.approx(1000 * (4.7e-6 + 0.005 * 2 * 0.00002), abs=1e-4)
    assert result.break_even_requests_per_month["lambda_onnx_vs_gpu_endpoint"] is None
    assert result.break_even_requests_per_month["sagemaker_serverless_vs_gpu_endpoint"] == pytest.approx(
        1027.84 / 2e-7, rel=1e-3
    )
    assert all(line.assumption for line in result.lines)  # every figure says how it was made


def test_text_capture_adds_the_feedback_export_alarm_to_the_estimate():
    """api.capture_texts deploys the daily feedback export and its errors alarm: one more standard alarm."""
    base = hand_config().model_dump()
    captured = EnvironmentConfig.model_validate({**base, "api": {**base["api"], "capture_texts": True}})
    a = Assumptions(requests_per_month=2_000_000)
    lines = {line.item: line for line in estimate(captured, a).lines}["CloudWatch alarms and dashboard"]
    assert lines.monthly_usd == pytest.approx(20 * 0.10 + 0.50 + 3.00)
    assert "20 alarm units" in lines.assumption


def test_on_demand_training_and_no_endpoint():
    config = EnvironmentConfig.model_validate(
        {"name": "dev", "training": {"use_spot": False}, "endpoint": {"enabled": False}}
    )
    lines = {line.item: line for line in estimate(config, Assumptions(training_runs=1, training_hours=2)).lines}
    assert lines["SageMaker training ml.g5.xlarge x1"].monthly_usd == pytest.approx(2 * 1.408, abs=0.005)
    assert "on-demand" in lines["SageMaker training ml.g5.xlarge x1"].assumption
    assert not any("endpoint" in item for item in lines)


def test_waf_and_the_signing_secret_are_priced_where_they_are_deployed():
    prices = load_prices()
    assert (prices["waf_web_acl_per_month"], prices["waf_rule_per_month"], prices["waf_per_million_requests"]) == (
        5.00,
        1.00,
        0.60,
    )
    assert (prices["secretsmanager_secret_per_month"], prices["secretsmanager_per_10k_api_calls"]) == (0.40, 0.05)
    a = Assumptions(requests_per_month=2_000_000, cold_start_share=0.002)
    waf_on = EnvironmentConfig.model_validate(
        {"name": "prod", "api": {"waf": {"enabled": True}, "signing_key_rotation_days": 30}}
    )
    lines = {line.item: line for line in estimate(waf_on, a, prices).lines}
    assert lines["AWS WAF web ACL"].monthly_usd == pytest.approx(5 + 3 * 1 + 2 * 0.60)  # 9.20
    assert lines["AWS WAF web ACL"].stage == "api" and "3 rules" in lines["AWS WAF web ACL"].assumption
    # 4,000 cold-start reads + 12 calls for the one rotation a month
    assert lines["Secrets Manager signing key"].monthly_usd == pytest.approx(0.40 + 4012 / 10_000 * 0.05, abs=0.005)
    daily = EnvironmentConfig.model_validate({"name": "dev", "api": {"signing_key_rotation_days": 1}})
    lines = {line.item: line for line in estimate(daily, Assumptions(requests_per_month=0), prices).lines}
    assert "AWS WAF web ACL" not in lines  # off by default
    assert "360 calls" in lines["Secrets Manager signing key"].assumption  # 30 rotations x 12


def test_cli_formats_and_errors(capsys):
    assert main(["costs", "estimate", "--env", "prod", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["environment"] == "prod" and payload["total_usd"] == pytest.approx(sum(payload["by_stage"].values()))
    assert main(["costs", "estimate", "--env", "dev", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "stage,item,monthly_usd,assumption"
    assert main(["costs", "estimate", "--env", "qa"]) == 2
    assert "unknown environment 'qa'" in capsys.readouterr().err
    assert main(["costs", "estimate", "--spot-discount", "1.5"]) == 2
    assert "--spot-discount" in capsys.readouterr().err


# --- the report, against Cost Explorer results configured in moto -------------------------------------------


def _month(offset: int) -> str:
    """The first day of the month `offset` months before this one (reports must stay within a year)."""
    from datetime import date

    today = date.today()
    index = today.year * 12 + today.month - 1 - offset
    return date(index // 12, index % 12 + 1, 1).isoformat()


SEP, OCT, NOV = _month(2), _month(1), _month(0)


def _group(stage: str, usd: str) -> dict:
    return {"Keys": [f"Stage${stage}"], "Metrics": {"UnblendedCost": {"Amount": usd, "Unit": "USD"}}}


@pytest.fixture()
def cost_explorer(monkeypatch):
    moto = pytest.importorskip("moto")
    import requests

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():

        def queue(*results):
            response = requests.post(
                "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                json={"results": list(results)},
            )
            assert response.status_code == 201, response.text

        yield queue


def test_report_groups_spend_by_stage_with_untagged_as_its_own_line(cost_explorer, capsys, tmp_path):
    def month(start, groups):
        return {"TimePeriod": {"Start": start, "End": start}, "Groups": groups, "Total": {}, "Estimated": False}

    results = {
        "ResultsByTime": [
            month(SEP, [_group("training", "12.5"), _group("inference", "1020.00"), _group("", "3.25")]),
            month(OCT, [_group("training", "7.5"), _group("api", "4.10")]),
        ],
        "GroupDefinitions": [{"Type": "TAG", "Key": "Stage"}],
        "DimensionValueAttributes": [],
    }
    cost_explorer(results, results, results)
    assert main(["costs", "report", "--start", SEP, "--end", NOV, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["by_stage"] == {"api": 4.1, "inference": 1020.0, "training": 20.0, "untagged": 3.25}
    assert {"period_start": SEP, "stage": "untagged", "usd": 3.25} in payload["rows"]
    assert main(["costs", "report", "--start", SEP, "--end", NOV]) == 0
    table = capsys.readouterr().out
    assert "untagged" in table and "total $1,047.35" in table
    png = tmp_path / "spend.png"
    assert main(["costs", "report", "--start", SEP, "--end", NOV, "--format", "png", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_says_so_for_an_empty_month(cost_explorer, capsys):
    cost_explorer(
        {"ResultsByTime": [{"TimePeriod": {"Start": OCT, "End": NOV}, "Groups": [], "Total": {}, "Estimated": True}]}
    )
    assert main(["costs", "report", "--start", OCT, "--end", NOV, "--env", "dev"]) == 0
    assert "no spend recorded for environment dev" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--start", "2026-13-01", "--end", NOV], "YYYY-MM-DD"),
        (["--start", NOV, "--end", OCT], "must be after --start"),
        (["--start", OCT, "--end", NOV, "--env", "qa"], "unknown environment 'qa'"),
        (["--start", OCT, "--end", NOV, "--format", "png"], "needs --out"),
    ],
)
def test_report_input_errors_are_clear(argv, message, capsys):
    assert main(["costs", "report", *argv]) == 2
    assert message in capsys.readouterr().err


# --- --refresh-prices: moto has no Pricing API, so botocore's Stubber answers with the API's own shapes -----------


def _price_item(instance: str, component: str, usd: str, unit: str = "Hrs") -> str:
    return json.dumps(
        {
            "product": {
                "productFamily": "ML Instance",
                "attributes": {"instanceName": instance, "component": component, "regionCode": "eu-west-1"},
            },
            "terms": {
                "OnDemand": {
                    "SKU.JRTCKXETXF": {
                        "priceDimensions": {"SKU.JRTCKXETXF.6YS6EN2CT7": {"unit": unit, "pricePerUnit": {"USD": usd}}}
                    }
                }
            },
        }
    )


def _filters(instance: str, component: str) -> list[dict]:
    return [
        {"Type": "TERM_MATCH", "Field": f, "Value": v}
        for f, v in (
            ("productFamily", "ML Instance"),
            ("regionCode", "eu-west-1"),
            ("instanceName", instance),
            ("component", component),
        )
    ]


def test_refresh_prices_replaces_the_configs_sagemaker_prices_and_says_so():
    import boto3
    from botocore.stub import Stubber

    from infra.costs.pricing import refresh_prices

    config = EnvironmentConfig.model_validate({**hand_config().model_dump(), "region": "eu-west-1"})
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            {
                "PriceList": [
                    _price_item("ml.g5.xlarge", "Training", "1.5800000000"),
                    _price_item("ml.g5.xlarge", "Training", "0", "Quantity"),
                ]
            },
            {
                "ServiceCode": "AmazonSageMaker",
                "Filters": _filters("ml.g5.xlarge", "Training"),
                "FormatVersion": "aws_v1",
            },
        )
        stub.add_response(
            "get_products",
            {"PriceList": [_price_item("ml.g5.xlarge", "Hosting", "1.5900000000")]},
            {
                "ServiceCode": "AmazonSageMaker",
                "Filters": _filters("ml.g5.xlarge", "Hosting"),
                "FormatVersion": "aws_v1",
            },
        )
        prices = refresh_prices(load_prices(), config, client)
        stub.assert_no_pending_responses()
    assert prices["sagemaker_training_per_hour"]["ml.g5.xlarge"] == 1.58
    assert prices["sagemaker_hosting_per_hour"]["ml.g5.xlarge"] == 1.59
    assert load_prices()["sagemaker_hosting_per_hour"]["ml.g5.xlarge"] == 1.408  # the shipped table is untouched
    result = estimate(config, Assumptions(), prices)
    lines = {line.item: line.monthly_usd for line in result.lines}
    assert lines["SageMaker endpoint ml.g5.xlarge"] == pytest.approx(730 * 1.59, abs=0.005)
    assert any("refreshed from the AWS Pricing API" in note and "eu-west-1" in note for note in result.notes)


@pytest.mark.parametrize(
    "answer,message",
    [
        ({"PriceList": []}, "lists no on-demand training price for ml.g5.xlarge in eu-west-1"),
        ("AccessDeniedException", "refused: AccessDeniedException"),
    ],
)
def test_refresh_prices_errors_are_clear(answer, message):
    import boto3
    from botocore.stub import Stubber

    from golive.errors import UserError
    from infra.costs.pricing import refresh_prices

    config = EnvironmentConfig.model_validate({"name": "dev", "region": "eu-west-1", "endpoint": {"enabled": False}})
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        if isinstance(answer, str):
            stub.add_client_error(
                "get_products", service_error_code=answer, service_message="not allowed", http_status_code=400
            )
        else:
            stub.add_response("get_products", answer)
        with pytest.raises(UserError, match=message):
            refresh_prices(load_prices(), config, client)


def test_refresh_prices_without_credentials_says_what_to_do(no_aws_credentials, monkeypatch, capsys):
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # an earlier test's session keeps the credentials it found
    assert main(["costs", "estimate", "--refresh-prices"]) == 2
    assert "needs AWS credentials" in capsys.readouterr().err


@pytest.mark.parametrize("hours", [1, 8, 24])
def test_serving_options_from_the_price_table(hours):
    p = load_prices()
    a = Assumptions(requests_per_month=3_000_000, avg_tokens=20, active_hours_per_day=hours)
    result = estimate(hand_config(), a, p)
    options = result.serving_options
    gb, gbs, hosting = 2.0, p["lambda_per_gb_second"]["x86_64"], p["sagemaker_hosting_per_hour"]["ml.g5.xlarge"]
    requests = (p["lambda_per_million_requests"] + p["apigateway_rest_per_million_requests"]) / 1e6
    proxied = requests + a.proxy_ms / 1000 * gb * gbs
    snap = p["lambda_snapstart"]
    expected = {
        "lambda_onnx": (0.0, requests + a.onnx_ms / 1000 * gb * gbs + a.cold_start_share * a.init_s * gb * gbs),
        "lambda_onnx_snapstart": (
            gb * p["hours_per_month"] * 3600 * snap["cache_per_gb_second"],
            requests + a.onnx_ms / 1000 * gb * gbs + a.cold_start_share * gb * snap["restore_per_gb"],
        ),
        "sagemaker_serverless": (
            0.0,
            proxied + a.onnx_ms / 1000 * a.serverless_memory_gb * p["sagemaker_serverless_per_gb_second"],
        ),
        "gpu_endpoint": (p["hours_per_month"] * hosting, proxied),
        "gpu_scale_to_zero": (hours * p["hours_per_month"] / 24 * hosting, proxied),
    }
    assert set(options) == set(expected)
    for name, (fixed, per_request) in expected.items():
        assert options[name]["fixed_usd"] == pytest.approx(fixed)
        assert options[name]["per_request_usd"] == pytest.approx(per_request)
        assert options[name]["monthly_usd"] == pytest.approx(fixed + 3_000_000 * per_request, abs=0.005)
    # each pair: at its break-even traffic both cost the same; where there is none, one is cheaper at every traffic
    for pair, at in result.break_even_requests_per_month.items():
        first, second = (options[name] for name in pair.split("_vs_"))
        cost = lambda o, n: o["fixed_usd"] + n * o["per_request_usd"]  # noqa: E731
        if at is None:
            signs = {cost(first, n) <= cost(second, n) for n in (1, 1e3, 1e6, 1e9, 1e12)}
            assert len(signs) == 1, pair
        else:
            assert cost(first, at) == pytest.approx(cost(second, at), rel=1e-6), pair
            assert (cost(first, at / 2) < cost(second, at / 2)) != (cost(first, at * 2) < cost(second, at * 2)), pair
    # a whole day up is the always-on endpoint
    assert (options["gpu_scale_to_zero"]["fixed_usd"] == pytest.approx(options["gpu_endpoint"]["fixed_usd"])) is (
        hours == 24
    )


def test_break_even_of_parallel_or_dominated_options_is_none():
    from infra.costs.serving_options import ServingOption

    cheap, dear = ServingOption("a", 0.0, 1e-6, "x"), ServingOption("b", 10.0, 2e-6, "x")
    assert break_even(cheap, dear) is None and break_even(dear, cheap) is None
    assert break_even(ServingOption("c", 5.0, 1e-6, "x"), ServingOption("d", 0.0, 1e-6, "x")) is None
    assert break_even(ServingOption("e", 100.0, 1e-6, "x"), ServingOption("f", 0.0, 2e-6, "x")) == 100_000_000


def test_serving_options_are_printed_with_the_break_even_table(capsys):
    assert main(["costs", "estimate", "--env", "staging", "--active-hours-per-day", "1"]) == 0
    out = capsys.readouterr().out
    assert "serving options at 1,000,000 requests/month" in out and "break-even traffic" in out
    for name in ("lambda_onnx_snapstart", "sagemaker_serverless", "gpu_scale_to_zero"):
        assert name in out
    assert "1 active h/day" in out


@pytest.mark.parametrize("value", ["0", "25", "-3", "lots"])
def test_active_hours_per_day_must_be_a_day_or_less(value, capsys):
    argv = ["costs", "estimate", "--env", "staging", "--active-hours-per-day", value]
    if value != "25":  # argparse's own usage error (not a number, or not above 0): exit status 2 too
        with pytest.raises(SystemExit) as raised:
            main(argv)
        assert raised.value.code == 2
    else:
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--active-hours-per-day" in err and "Traceback" not in err
