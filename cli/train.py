"""`golive train` and `golive evaluate`: the training layer (training/cli.py is training's own entry point)."""

from __future__ import annotations

import argparse

from cli.train_sagemaker import add_sagemaker_arguments, launch, refuse_without_sagemaker
from training.args import add_train_arguments, str2bool


def add_train(sub) -> None:
    train = sub.add_parser(
        "train", help="fine-tune a classifier and write the model bundle (ONNX + tokenizer + metrics)"
    )
    add_train_arguments(train)
    add_sagemaker_arguments(train)
    train.set_defaults(func=_train)


def add_evaluate(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="score a bundle's ONNX model on labelled data")
    evaluate.add_argument("--model", default="model_artifacts", help="bundle folder")
    evaluate.add_argument("--data", required=True, help=".tsv/.csv/.jsonl file, folder or s3:// URI (required)")
    evaluate.add_argument(
        "--variant", choices=["fp32", "int8"], help="which ONNX model (default: the bundle's default, int8)"
    )
    evaluate.add_argument("--text-column", help="column holding the text (default: guessed, as in training)")
    evaluate.add_argument("--label-column", help="column holding the label (default: guessed, as in training)")
    evaluate.add_argument(
        "--skip-invalid-rows",
        type=str2bool,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="skip rows with a missing or empty text or label, or an unknown label (counted and reported) instead of stopping",
    )
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON")
    evaluate.set_defaults(func=_evaluate)


def _train(ns: argparse.Namespace) -> int:
    refuse_without_sagemaker(ns)
    if ns.sagemaker:
        return launch(ns)
    from training.cli import run

    return run(ns)


def _evaluate(ns: argparse.Namespace) -> int:
    from training.evaluate import evaluate, format_report, to_json

    report = evaluate(ns.model, ns.data, ns.variant, ns.text_column, ns.label_column, ns.skip_invalid_rows)
    print(to_json(report) if ns.json else format_report(report))
    return 0
