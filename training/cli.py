"""Training's one entry point, however it runs (the same flags everywhere):

    golive train ...                                  (the golive command calls `run`)
    python training/cli.py ...                        (SageMaker script mode: the job's `sagemaker_program`)
    torchrun --nproc_per_node N training/cli.py ...   (DDP: gloo on CPU, nccl on GPU)

SageMaker's environment (SM_CHANNEL_*, SM_MODEL_DIR, SM_NUM_GPUS) fills in the defaults of data, model
and output paths. Metrics are logged as `key=value` lines on stdout (golive.contracts.training_metrics) so
SageMaker can capture them.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (SageMaker, torchrun): the source root holds golive/ and training/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
from typing import TextIO

from golive.errors import run_reporting_errors  # noqa: E402
from training.args import add_train_arguments, arguments_from  # noqa: E402

logger = logging.getLogger("training")

# Set (unless already set) before torch and transformers load; some of it is read only then.
PROCESS_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",  # never reach for the hub: models come from local folders
    "TOKENIZERS_PARALLELISM": "false",
    # OpenMP threads that wait by spinning burn the cores they wait for whenever anything else runs on the
    # machine: with other busy processes on 2 cores, a CPU training step took 4.5x the CPU time and 3.7x the wall
    # time of one whose threads sleep while they wait (see benchmarks/RESULTS.md). An explicit setting wins.
    "OMP_WAIT_POLICY": "PASSIVE",
}


class _ConsoleHandler(logging.StreamHandler):
    """Writes to sys.stdout or sys.stderr as they are when a line is logged, so whoever swaps them (pytest's
    capture, contextlib.redirect_stdout) gets the lines."""

    def __init__(self, stream_name: str) -> None:
        self._stream_name = stream_name
        super().__init__()

    @property
    def stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self._stream_name)
        return stream

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stdout/sys.stderr


def configure_logging() -> None:
    """Training's lines as they are, one per record (SageMaker's metric regexes read them): below ERROR on
    stdout, errors on stderr. Only the `training` loggers; transformers says only its errors."""
    to_stdout, to_stderr = _ConsoleHandler("stdout"), _ConsoleHandler("stderr")
    to_stdout.addFilter(lambda record: record.levelno < logging.ERROR)
    to_stderr.setLevel(logging.ERROR)
    for handler in (to_stdout, to_stderr):
        handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers = [to_stdout, to_stderr]  # a second run in the same process replaces, not doubles, them
    logger.setLevel(logging.INFO)
    logger.propagate = False

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def prepare_process() -> None:
    """What a training run needs of its process, before torch loads: the environment, then logging."""
    for name, value in PROCESS_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    configure_logging()


def run(ns: argparse.Namespace) -> int:
    """Train with the parsed flags; 1 (saying why) when the exported model fails its parity check."""
    args = arguments_from(ns)
    prepare_process()
    from training.export import ParityError
    from training.train import train

    try:
        train(args)
    except ParityError as exc:
        logger.error(f"export failed: {exc}")
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="training/cli.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_train_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_reporting_errors(run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
