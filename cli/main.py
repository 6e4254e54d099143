"""The `golive` command (`[project.scripts]`; `python -m cli` without the script). The parser knows every
command; a command imports the layer it drives only when it runs, so `golive serve` never loads torch and
`golive train` never loads aws_cdk."""

from __future__ import annotations

import argparse
import sys

from cli import costs, distill, explain, feedback, package, serve, synth, train
from cli.arguments import parse_arguments, positive_float, show_defaults, typed_options
from golive.errors import UserError, run_reporting_errors
from golive.ports import port_number
from training.args import SAMPLE_VALIDATION, TrainArguments, str2bool


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="golive", description="Train, export, serve and run a text classifier on AWS."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train.add_train(sub)
    train.add_evaluate(sub)
    distill.add_distill(sub)
    explain.add_explain(sub)
    serve.add_serve(sub)
    serve.add_monitor(sub)
    add_quickstart(sub)
    package.add_package(sub)
    synth.add_synth(sub)
    costs.add_costs(sub)
    feedback.add_feedback(sub)
    package.add_endpoint_image(sub)
    package.add_package_lambda(sub)
    show_defaults(parser)
    return parser


def add_quickstart(sub) -> None:
    quick = sub.add_parser("quickstart", help="train on the sample data, evaluate, and serve on localhost")
    quick.add_argument("--out", default="model_artifacts", help="where the bundle goes")
    quick.add_argument("--base-model", help="a local Hugging Face folder (default: all-MiniLM-L6-v2)")
    quick.add_argument(
        "--epochs",
        type=positive_float,
        default=TrainArguments.epochs,
        help="passes over the sample data, as in golive train",
    )
    quick.add_argument(
        "--port", type=port_number, default=8000, help="port to serve on, 1 to 65535 (checked before training)"
    )
    quick.add_argument(
        "--serve",
        type=str2bool,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="serve at the end (false: stop after evaluating)",
    )
    quick.set_defaults(func=_quickstart)


def _quickstart(ns: argparse.Namespace) -> int:
    """The README's main job: train on the shipped sample, evaluate the exported model, serve it."""
    from golive.ports import require_free_port
    from golive.progress import Progress

    if ns.serve:
        require_free_port("127.0.0.1", ns.port)  # before minutes of training, not after
        serve.check_feedback_db(None)  # the serve step's database (GOLIVE_FEEDBACK_DB or the default), too
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


HELP_SHOWN = 100  # preflight's answer to --help: nothing is wrong, and nothing more to run


def preflight(argv: list[str]) -> int:
    """What scripts/quickstart.sh asks before it installs anything: are the flags valid and the port free?
    Runs on the stdlib alone. 0: go on; 2: a message was printed; HELP_SHOWN: help was printed."""
    try:
        ns = parse_arguments(build_parser(), argv)
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
    argv = sys.argv[1:] if argv is None else argv
    ns = parse_arguments(build_parser(), argv)
    if getattr(ns, "sagemaker", False):  # what was typed, not defaulted: the job's hyperparameters
        ns.typed_options = typed_options(build_parser(), argv)
    return run_reporting_errors(ns.func, ns)


if __name__ == "__main__":
    sys.exit(main())
