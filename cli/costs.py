"""`golive costs estimate` and `golive costs report`: infra/costs, before a deploy and after."""

from __future__ import annotations

import argparse

from cli.arguments import non_negative_float, non_negative_int, positive_float
from golive.errors import UserError


def add_costs(sub) -> None:
    costs = sub.add_parser("costs", help="cost estimates before deploying and spend reports after")
    costs_sub = costs.add_subparsers(dest="costs_command", required=True, metavar="ACTION")
    est = costs_sub.add_parser("estimate", help="monthly cost per stage from an environment's config")
    est.add_argument("--env", default="dev", help="dev, staging or prod (infra/environments/<env>.json)")
    est.add_argument(
        "--requests-per-month", type=non_negative_int, default=1_000_000, help="predictions served per month"
    )
    est.add_argument("--avg-tokens", type=int, default=32, help="tokens per text (drives model time per request)")
    est.add_argument("--training-runs", type=non_negative_int, default=4, help="training pipeline runs per month")
    est.add_argument("--training-hours", type=positive_float, default=1.0, help="billable hours per training run")
    est.add_argument("--spot-discount", type=non_negative_float, default=0.70, help="share managed spot saves")
    est.add_argument(
        "--storage-gb", type=non_negative_float, default=50, help="S3 data, models and captured traffic together"
    )
    est.add_argument(
        "--active-hours-per-day",
        type=positive_float,
        default=8.0,
        help="hours a day a scale-to-zero GPU endpoint is up (above 0, at most 24)",
    )
    est.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")
    est.add_argument(
        "--refresh-prices",
        action="store_true",
        help="ask the AWS Pricing API for today's SageMaker instance prices (needs AWS credentials)",
    )
    est.set_defaults(func=_costs_estimate)

    rep = costs_sub.add_parser(
        "report", help="actual spend per stage from Cost Explorer (by the Stage tag; needs AWS credentials)"
    )
    rep.add_argument("--start", required=True, help="first day, YYYY-MM-DD (required)")
    rep.add_argument("--end", required=True, help="day after the last, YYYY-MM-DD, exclusive (required)")
    rep.add_argument("--env", help="only spend tagged with this Environment (default: all)")
    rep.add_argument("--granularity", choices=["DAILY", "MONTHLY"], default="MONTHLY", help="one row per day or month")
    rep.add_argument(
        "--format",
        choices=["table", "csv", "json", "png"],
        help="output format (default: table; png when --out is given)",
    )
    rep.add_argument("--out", help="write the spend chart to this .png file; implies --format png (default: none)")
    rep.set_defaults(func=_costs_report)


def _costs_estimate(ns: argparse.Namespace) -> int:
    from dataclasses import asdict

    from infra.config import load_config
    from infra.costs.estimate import Assumptions, estimate
    from infra.costs.formatting import render

    assumptions = Assumptions(
        requests_per_month=ns.requests_per_month,
        avg_tokens=ns.avg_tokens,
        training_runs=ns.training_runs,
        training_hours=ns.training_hours,
        spot_discount=ns.spot_discount,
        storage_gb=ns.storage_gb,
        active_hours_per_day=ns.active_hours_per_day,
    )
    config = load_config(ns.env)
    prices = None
    if ns.refresh_prices:
        from infra.costs.estimate import load_prices
        from infra.costs.pricing import refresh_prices

        prices = refresh_prices(load_prices(), config)
    result = estimate(config, assumptions, prices)
    if ns.format == "json":
        print(render([], [], "json", result.to_dict()))
        return 0
    rows = [asdict(line) for line in result.lines]
    print(render(rows, ["stage", "item", "monthly_usd", "assumption"], ns.format))
    if ns.format == "table":
        totals = result.by_stage()
        print(
            "\nper stage: "
            + ", ".join(f"{k} ${v:,.2f}" for k, v in totals.items())
            + f"; total ${sum(totals.values()):,.2f}/month ({result.environment}, prices {result.region} as of "
            f"{result.prices_as_of})"
        )
        _print_serving_options(result)
        for note in result.notes:
            print(f"note: {note}")
    return 0


def _print_serving_options(result) -> None:
    from infra.costs.formatting import render

    requests = result.assumptions["requests_per_month"]
    print(f"\nserving options at {requests:,} requests/month:")
    print(
        render(
            [
                {
                    "option": name,
                    "monthly_usd": f"{o['monthly_usd']:,.2f}",
                    "per_1000_usd": f"{o['per_1000_usd']:.4f}",
                    "assumption": o["assumption"],
                }
                for name, o in result.serving_options.items()
            ],
            ["option", "monthly_usd", "per_1000_usd", "assumption"],
            "table",
        )
    )
    print("\nbreak-even traffic (requests/month at which both cost the same):")
    rows = []
    for pair, at in result.break_even_requests_per_month.items():
        first, second = pair.split("_vs_")
        rows.append(
            {
                "option": first,
                "versus": second,
                "break_even": f"{at:,.0f}" if at else "none",
                "above it": _cheaper_above(result, first, second) if at else _at_any(result, first, second),
            }
        )
    print(render(rows, ["option", "versus", "break_even", "above it"], "table"))


def _cheaper_above(result, first: str, second: str) -> str:
    a, b = result.serving_options[first], result.serving_options[second]
    return f"{first if a['per_request_usd'] < b['per_request_usd'] else second} cheaper"


def _at_any(result, first: str, second: str) -> str:
    a, b = result.serving_options[first], result.serving_options[second]
    # no crossing at positive traffic: whichever is cheaper at one request is cheaper at any
    at_one = a["fixed_usd"] + a["per_request_usd"], b["fixed_usd"] + b["per_request_usd"]
    if round(at_one[0], 6) == round(at_one[1], 6):
        return "the same at any traffic"
    return f"{first if at_one[0] < at_one[1] else second} cheaper at any traffic"


def report_format(typed: str | None, out: str | None) -> str:
    """--out names the chart, so it implies --format png; with a text format typed too, one of the two is a
    mistake, and guessing which would drop what the other asked for."""
    if out is None:
        if typed == "png":
            raise UserError("--format png needs --out FILE.png")
        return typed or "table"
    if typed not in (None, "png"):
        raise UserError(
            f"--out writes the spend chart as PNG, but --format {typed} prints text: drop --out to print "
            f"{typed}, or drop --format {typed} for the chart"
        )
    return "png"


def _costs_report(ns: argparse.Namespace) -> int:
    from dataclasses import asdict

    from infra.costs.formatting import render
    from infra.costs.report import check_png_destination, fetch_spend, parse_period, totals_by_stage, write_png

    parse_period(ns.start, ns.end)  # bad dates fail before any AWS call
    if ns.env is not None:  # --env "" is a mistake, not "all environments"
        from infra.config import load_config

        load_config(ns.env)  # an unknown environment is a clear error, not an empty report
    fmt = report_format(ns.format, ns.out)
    png = check_png_destination(ns.out) if fmt == "png" else None  # before the billed Cost Explorer call
    rows = fetch_spend(ns.start, ns.end, ns.env, ns.granularity)
    scope = f"environment {ns.env}" if ns.env else "all environments"
    if png is not None:
        print(write_png(rows, png, f"golive spend by stage, {scope}, {ns.start} to {ns.end}"))
        return 0
    if fmt == "json":
        print(
            render(
                [],
                [],
                "json",
                {
                    "start": ns.start,
                    "end": ns.end,
                    "environment": ns.env,
                    "rows": [asdict(r) for r in rows],
                    "by_stage": totals_by_stage(rows),
                },
            )
        )
        return 0
    print(render([asdict(r) for r in rows], ["period_start", "stage", "usd"], fmt))
    if fmt == "table":
        totals = totals_by_stage(rows)
        if not rows:
            print(f"no spend recorded for {scope} from {ns.start} to {ns.end}")
        else:
            print(
                "\nper stage: "
                + ", ".join(f"{k} ${v:,.2f}" for k, v in totals.items())
                + f"; total ${sum(totals.values()):,.2f} ({scope})"
            )
    return 0
