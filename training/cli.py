"""Training's one entry point, however it runs (the same flags everywhere):

    golive train ...                                  (the golive command calls `run`)
    python training/cli.py ...                        (SageMaker script mode: the job's `sagemaker_program`)
    torchrun --nproc_per_node N training/cli.py ...   (DDP: gloo on CPU, nccl on GPU)

SageMaker's environment (SM_CHANNEL_*, SM_MODEL_DIR, SM_NUM_GPUS) fills in the defaults of data, model
and output paths. Metrics are printed as `key=value` lines (golive.contracts.training_metrics) so SageMaker
can capture them.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (SageMaker, torchrun): the source root holds golive/ and training/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402

from golive.errors import run_reporting_errors  # noqa: E402
from training.args import add_train_arguments, arguments_from  # noqa: E402


def run(ns: argparse.Namespace) -> int:
    """Train with the parsed flags; 1 (saying why) when the exported model fails its parity check."""
    from training.export import ParityError
    from training.train import train

    try:
        train(arguments_from(ns))
    except ParityError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="training/cli.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_reporting_errors(run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
