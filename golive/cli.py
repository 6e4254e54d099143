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


def _serve(ns: argparse.Namespace) -> int:
    from golive.bundle import verify_bundle
    from functions.api.local import serve

    verify_bundle(ns.model)  # a clear error before uvicorn starts
    serve(ns.model, ns.host, ns.port, ns.variant, ns.feedback_db)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from training.args import add_train_arguments, str2bool

    parser = argparse.ArgumentParser(prog="golive", description="Train, export, serve and run a text classifier on AWS.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="fine-tune a classifier and write the model bundle (ONNX + tokenizer + metrics)")
    add_train_arguments(train)
    train.set_defaults(func=_train)

    evaluate = sub.add_parser("evaluate", help="score a bundle's ONNX model on labelled data")
    evaluate.add_argument("--model", default="model_artifacts", help="bundle folder (default: model_artifacts)")
    evaluate.add_argument("--data", required=True, help=".tsv/.csv/.jsonl file, folder or s3:// URI")
    evaluate.add_argument("--variant", choices=["fp32", "int8"], help="which ONNX model (default: the bundle's default)")
    evaluate.add_argument("--text-column")
    evaluate.add_argument("--label-column")
    evaluate.add_argument("--skip-invalid-rows", type=str2bool, nargs="?", const=True, default=False)
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON")
    evaluate.set_defaults(func=_evaluate)

    serve = sub.add_parser("serve", help="serve a bundle locally: the Lambda's FastAPI app under uvicorn, with /metrics")
    serve.add_argument("--model", default="model_artifacts", help="bundle folder (default: model_artifacts)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    serve.add_argument("--variant", choices=["fp32", "int8"])
    serve.add_argument("--feedback-db", help="SQLite file for feedback (default: .golive/feedback.sqlite3)")
    serve.set_defaults(func=_serve)

    package = sub.add_parser("package", help="pack a bundle as model.tar.gz for SageMaker")
    package.add_argument("--model", default="model_artifacts")
    package.add_argument("--out", default="model.tar.gz")
    package.set_defaults(func=_package)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return ns.func(ns)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
