"""The `golive` command. Subcommands import their heavy dependencies only when they run."""

from __future__ import annotations

import argparse
import sys

from golive.errors import UserError


def _train(ns: argparse.Namespace) -> int:
    from training.args import arguments_from
    from training.export import ParityError
    from training.train import train

    try:
        train(arguments_from(ns))
    except ParityError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _evaluate(ns: argparse.Namespace) -> int:
    from training.evaluate import evaluate, format_report, to_json

    report = evaluate(ns.model, ns.data, ns.variant, ns.text_column, ns.label_column, ns.skip_invalid_rows)
    print(to_json(report) if ns.json else format_report(report))
    return 0


def _package(ns: argparse.Namespace) -> int:
    from golive.bundle import pack_tarball

    print(pack_tarball(ns.model, ns.out))
    return 0


def _package_lambda(ns: argparse.Namespace) -> int:
    from golive.lambda_package import build_lambda_package
    from golive.progress import Progress

    variant = None if ns.variant == "none" else ns.variant
    report = build_lambda_package(ns.model, ns.out, variant, ns.python_version, ns.architecture,
                                  progress=Progress())
    print(report.summary())
    return 0


def _synth(ns: argparse.Namespace) -> int:
    from golive.progress import Progress
    from infra.config import load_config
    from infra.node_runtime import check_node

    # an unknown (or empty) environment, or staging/prod without alarm_email, is the first thing to say
    load_config(ns.env, overrides={"alarm_email": ns.alarm_email}, for_deploy=True)
    note = check_node()  # before aws_cdk is imported: that starts jsii's Node process
    if note:
        print(note, file=sys.stderr)
    progress = Progress()
    progress(f"synthesising golive-{ns.env} (the Lambda package is built from the bundle unless --lambda-package)")
    import aws_cdk as cdk

    from infra.app import build_app, synthesize
    from infra.compliance import ALWAYS, OPTIONAL, optional_packs

    options = {"lambda_package": ns.lambda_package, "model": ns.model, "alarm_email": ns.alarm_email,
               "compliance": ns.compliance}
    context = {"env": ns.env, **{key: value for key, value in options.items() if value}}
    # a typo fails here, before the slow build
    packs = [*ALWAYS, *(OPTIONAL[name].__name__.removesuffix("Checks") for name in optional_packs(ns.compliance))]
    app = build_app(cdk.App(outdir=ns.out, context=context), progress=progress)
    progress(f"checking every stack with cdk-nag ({', '.join(packs)}) and writing the templates")
    assembly = synthesize(app)
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {ns.out}/{stack.template_file}")
    print(f"cdk-nag {', '.join(packs)}: no unacknowledged findings")
    return 0


def _costs_estimate(ns: argparse.Namespace) -> int:
    from dataclasses import asdict

    from golive.costs.estimate import Assumptions, estimate
    from golive.costs.formatting import render
    from infra.config import load_config

    assumptions = Assumptions(requests_per_month=ns.requests_per_month, avg_tokens=ns.avg_tokens,
                              training_runs=ns.training_runs, training_hours=ns.training_hours,
                              spot_discount=ns.spot_discount, storage_gb=ns.storage_gb)
    config = load_config(ns.env)
    prices = None
    if ns.refresh_prices:
        from golive.costs.estimate import load_prices
        from golive.costs.pricing import refresh_prices

        prices = refresh_prices(load_prices(), config)
    result = estimate(config, assumptions, prices)
    if ns.format == "json":
        print(render([], [], "json", result.to_dict()))
        return 0
    rows = [asdict(line) for line in result.lines]
    print(render(rows, ["stage", "item", "monthly_usd", "assumption"], ns.format))
    if ns.format == "table":
        totals = result.by_stage()
        print(f"\nper stage: " + ", ".join(f"{k} ${v:,.2f}" for k, v in totals.items())
              + f"; total ${sum(totals.values()):,.2f}/month ({result.environment}, prices {result.region} as of "
                f"{result.prices_as_of})")
        print("per 1,000 predictions at this traffic: " + ", ".join(
            f"{k} ${v:.4f}" for k, v in result.per_1000_predictions.items()))
        for pair, requests in result.break_even_requests_per_month.items():
            print(f"break-even {pair.replace('_vs_', ' vs ')}: "
                  + (f"{requests:,.0f} requests/month" if requests else "none (never cheaper per prediction)"))
        for note in result.notes:
            print(f"note: {note}")
    return 0


def _costs_report(ns: argparse.Namespace) -> int:
    from dataclasses import asdict

    from golive.costs.formatting import render
    from golive.costs.report import fetch_spend, parse_period, totals_by_stage, write_png

    parse_period(ns.start, ns.end)  # bad dates fail before any AWS call
    if ns.env is not None:  # --env "" is a mistake, not "all environments"
        from infra.config import load_config

        load_config(ns.env)  # an unknown environment is a clear error, not an empty report
    if ns.format == "png" and not ns.out:
        raise UserError("--format png needs --out FILE.png")
    rows = fetch_spend(ns.start, ns.end, ns.env, ns.granularity)
    scope = f"environment {ns.env}" if ns.env else "all environments"
    if ns.format == "png":
        print(write_png(rows, ns.out, f"golive spend by stage, {scope}, {ns.start} to {ns.end}"))
        return 0
    if ns.format == "json":
        print(render([], [], "json", {"start": ns.start, "end": ns.end, "environment": ns.env,
                                      "rows": [asdict(r) for r in rows], "by_stage": totals_by_stage(rows)}))
        return 0
    print(render([asdict(r) for r in rows], ["period_start", "stage", "usd"], ns.format))
    if ns.format == "table":
        totals = totals_by_stage(rows)
        if not rows:
            print(f"no spend recorded for {scope} from {ns.start} to {ns.end}")
        else:
            print("\nper stage: " + ", ".join(f"{k} ${v:,.2f}" for k, v in totals.items())
                  + f"; total ${sum(totals.values()):,.2f} ({scope})")
    return 0


def _endpoint_image(ns: argparse.Namespace) -> int:
    from golive.endpoint_image import stage_image_context

    dest = stage_image_context(ns.out)
    print(f"endpoint image build context: {dest}\n"
          f"  docker build -t golive-endpoint {dest}\n"
          f"  docker run --gpus all -p 8080:8080 -v $PWD/model_artifacts:/opt/ml/model:ro golive-endpoint serve")
    return 0


def _serve(ns: argparse.Namespace) -> int:
    from golive.bundle import verify_bundle
    from golive.ports import require_free_port
    from functions.api.local import serve

    verify_bundle(ns.model)  # a clear error before uvicorn starts
    require_free_port(ns.host, ns.port)
    serve(ns.model, ns.host, ns.port, ns.variant, ns.feedback_db)
    return 0


def _monitor(ns: argparse.Namespace) -> int:
    from golive.local_monitor import monitor
    from infra.config import load_config

    if ns.watch is not None and ns.watch <= 0:
        raise UserError("--watch takes a positive number of seconds")
    if ns.count is not None and ns.count < 1:
        raise UserError("--count takes a positive number of reports")
    settings = load_config(ns.env).monitoring
    return monitor(ns.url, settings, watch_s=ns.watch, count=ns.count, fmt=ns.format)


def _quickstart(ns: argparse.Namespace) -> int:
    """The README's main job: train on the shipped sample, evaluate the exported model, serve it."""
    from golive.ports import require_free_port
    from golive.progress import Progress
    from training.args import SAMPLE_VALIDATION

    if ns.serve:
        require_free_port("127.0.0.1", ns.port)  # before minutes of training, not after
    train_argv = ["train", "--out", ns.out] + (["--base-model", ns.base_model] if ns.base_model else [])
    train_argv += ["--epochs", f"{ns.epochs:g}"]
    steps = [train_argv, ["evaluate", "--model", ns.out, "--data", str(SAMPLE_VALIDATION)]]
    if ns.serve:
        steps.append(["serve", "--model", ns.out, "--port", str(ns.port)])
    progress = Progress(sys.stdout)
    for argv in steps:
        print(flush=True)
        progress(f"$ golive {' '.join(argv)}")
        code = main(argv)
        if code:
            return code
    if not ns.serve:
        progress(f"quickstart done: the bundle is in {ns.out}/; `golive serve --model {ns.out}` serves it")
    return 0


def positive_float(value: str) -> float:
    """argparse type for counts of something that must be above zero (epochs)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return number


def python_version(value: str) -> str:
    """argparse type for a Lambda Python version like 3.14."""
    import re

    if not re.fullmatch(r"3\.\d{1,2}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python version like 3.14")
    return value


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append `(default: ...)` to every option's help that does not word its default itself, in every subcommand."""
    from training.args import shown_default

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                show_defaults(sub)
        elif action.option_strings and action.help and action.help != argparse.SUPPRESS and not action.required \
                and "default" not in action.help and not isinstance(action, argparse._HelpAction):
            action.help += f" (default: {shown_default(action.default)})"


def build_parser() -> argparse.ArgumentParser:
    from golive.lambda_package import LAMBDA_PYTHON_VERSION
    from golive.ports import port_number
    from training.args import TrainArguments, add_train_arguments, str2bool

    parser = argparse.ArgumentParser(prog="golive", description="Train, export, serve and run a text classifier on AWS.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="fine-tune a classifier and write the model bundle (ONNX + tokenizer + metrics)")
    add_train_arguments(train)
    train.set_defaults(func=_train)

    evaluate = sub.add_parser("evaluate", help="score a bundle's ONNX model on labelled data")
    evaluate.add_argument("--model", default="model_artifacts", help="bundle folder")
    evaluate.add_argument("--data", required=True, help=".tsv/.csv/.jsonl file, folder or s3:// URI (required)")
    evaluate.add_argument("--variant", choices=["fp32", "int8"], help="which ONNX model (default: the bundle's default, int8)")
    evaluate.add_argument("--text-column", help="column holding the text (default: guessed, as in training)")
    evaluate.add_argument("--label-column", help="column holding the label (default: guessed, as in training)")
    evaluate.add_argument("--skip-invalid-rows", type=str2bool, nargs="?", const=True, default=False, metavar="BOOL",
                          help="skip rows with empty text or unknown labels (counted and reported) instead of stopping")
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON")
    evaluate.set_defaults(func=_evaluate)

    serve = sub.add_parser("serve", help="serve a bundle locally: the Lambda's FastAPI app under uvicorn, with /metrics")
    serve.add_argument("--model", default="model_artifacts", help="bundle folder")
    serve.add_argument("--port", type=port_number, default=8000, help="TCP port, 1 to 65535")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1, this machine only; "
                                                           "0.0.0.0 for every interface)")
    serve.add_argument("--variant", choices=["fp32", "int8"], help="which ONNX model (default: the bundle's default, int8)")
    serve.add_argument("--feedback-db", help="SQLite file for feedback (default: .golive/feedback.sqlite3)")
    serve.set_defaults(func=_serve)

    mon = sub.add_parser("monitor", help="check a local server's latency, errors, accuracy and drift against "
                                         "the alarm thresholds (exit 1 when one fires)")
    mon.add_argument("--url", default="http://127.0.0.1:8000", help="the `golive serve` server")
    mon.add_argument("--env", default="dev", help="whose thresholds (infra/environments/<env>.json)")
    mon.add_argument("--watch", type=float, metavar="SECONDS",
                     help="report every SECONDS on that window's traffic (default: one report since the server started)")
    mon.add_argument("--count", type=int, help="with --watch: stop after this many reports (default: until Ctrl-C)")
    mon.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    mon.set_defaults(func=_monitor)

    quick = sub.add_parser("quickstart", help="train on the sample data, evaluate, and serve on localhost")
    quick.add_argument("--out", default="model_artifacts", help="where the bundle goes")
    quick.add_argument("--base-model", help="a local Hugging Face folder (default: all-MiniLM-L6-v2)")
    quick.add_argument("--epochs", type=positive_float, default=TrainArguments.epochs,
                       help="passes over the sample data, as in golive train")
    quick.add_argument("--port", type=port_number, default=8000, help="port to serve on, 1 to 65535 (checked before training)")
    quick.add_argument("--serve", type=str2bool, nargs="?", const=True, default=True, metavar="BOOL",
                       help="serve at the end (false: stop after evaluating)")
    quick.set_defaults(func=_quickstart)

    package = sub.add_parser("package", help="pack a bundle as model.tar.gz for SageMaker")
    package.add_argument("--model", default="model_artifacts", help="bundle folder")
    package.add_argument("--out", default="model.tar.gz", help="the tarball to write")
    package.set_defaults(func=_package)

    synth = sub.add_parser("synth", help="synthesise the CDK app for one environment (offline, no AWS credentials; "
                                         "needs Node.js)")
    synth.add_argument("--env", default="dev", help="dev, staging or prod (infra/environments/<env>.json)")
    synth.add_argument("--out", default="cdk.out", help="where the templates go")
    synth.add_argument("--model", help="bundle to package into the Lambda (default: model_artifacts)")
    synth.add_argument("--lambda-package", help="a package built by `golive package-lambda` (default: build one now)")
    synth.add_argument("--alarm-email", help="where alarms and budgets write (overrides alarm_email in the "
                                             "environment's file; staging and prod need one)")
    synth.add_argument("--compliance", help="more cdk-nag packs besides AwsSolutions and Serverless: hipaa, nist "
                                            "or hipaa,nist")
    synth.set_defaults(func=_synth)

    costs = sub.add_parser("costs", help="cost estimates before deploying and spend reports after")
    costs_sub = costs.add_subparsers(dest="costs_command", required=True, metavar="ACTION")
    est = costs_sub.add_parser("estimate", help="monthly cost per stage from an environment's config")
    est.add_argument("--env", default="dev", help="dev, staging or prod (infra/environments/<env>.json)")
    est.add_argument("--requests-per-month", type=int, default=1_000_000, help="predictions served per month")
    est.add_argument("--avg-tokens", type=int, default=32, help="tokens per text (drives model time per request)")
    est.add_argument("--training-runs", type=int, default=4, help="training pipeline runs per month")
    est.add_argument("--training-hours", type=float, default=1.0, help="billable hours per training run")
    est.add_argument("--spot-discount", type=float, default=0.70, help="share managed spot saves")
    est.add_argument("--storage-gb", type=float, default=50, help="S3 data, models and captured traffic together")
    est.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")
    est.add_argument("--refresh-prices", action="store_true",
                     help="ask the AWS Pricing API for today's SageMaker instance prices (needs AWS credentials)")
    est.set_defaults(func=_costs_estimate)

    rep = costs_sub.add_parser("report", help="actual spend per stage from Cost Explorer (by the Stage tag; needs AWS "
                                              "credentials)")
    rep.add_argument("--start", required=True, help="first day, YYYY-MM-DD (required)")
    rep.add_argument("--end", required=True, help="day after the last, YYYY-MM-DD, exclusive (required)")
    rep.add_argument("--env", help="only spend tagged with this Environment (default: all)")
    rep.add_argument("--granularity", choices=["DAILY", "MONTHLY"], default="MONTHLY", help="one row per day or month")
    rep.add_argument("--format", choices=["table", "csv", "json", "png"], default="table", help="output format")
    rep.add_argument("--out", help="the PNG file, for --format png (default: none)")
    rep.set_defaults(func=_costs_report)

    image = sub.add_parser("endpoint-image", help="stage the GPU endpoint image's Docker build context")
    image.add_argument("--out", default="build/endpoint-image", help="build context folder")
    image.set_defaults(func=_endpoint_image)

    lam = sub.add_parser("package-lambda", help="build the API Lambda's package (code, Linux wheels, bundle) and report its size")
    lam.add_argument("--model", default="model_artifacts", help="bundle folder")
    lam.add_argument("--out", default="build/lambda", help="package folder")
    lam.add_argument("--variant", choices=["int8", "fp32", "none"], default="int8",
                     help="ONNX model to include; none for the sagemaker backend")
    lam.add_argument("--python-version", type=python_version, default=LAMBDA_PYTHON_VERSION, help="the Lambda runtime's Python (the one infra deploys)")
    lam.add_argument("--architecture", choices=["x86_64", "arm64"], default="x86_64", help="the Lambda's CPU")
    lam.set_defaults(func=_package_lambda)
    show_defaults(parser)
    return parser


HELP_SHOWN = 100  # preflight's answer to --help: nothing is wrong, and nothing more to run


def preflight(argv: list[str]) -> int:
    """What scripts/quickstart.sh asks before it installs anything: are the flags valid and the port free?
    Runs on the stdlib alone. 0: go on; 2: a message was printed; HELP_SHOWN: help was printed."""
    try:
        ns = build_parser().parse_args(argv)
    except SystemExit as exc:
        return HELP_SHOWN if exc.code == 0 else int(exc.code or 2)
    if getattr(ns, "serve", False):
        from golive.ports import require_free_port

        try:
            require_free_port("127.0.0.1", ns.port)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return ns.func(ns)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError) as exc:
        # a path the user gave that cannot be read or written: where and why is all there is to say
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot use{where}: {exc.strerror or exc}; check the path and its permissions", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
