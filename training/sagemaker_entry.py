"""SageMaker script-mode entry point (`sagemaker_program`). The training toolkit runs
`python training/sagemaker_entry.py --epochs 3 ...` (or under torchrun for multi-instance DDP) from the
unpacked source directory; the SM_* environment fills in data, model and output paths."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the source root: golive/ and training/

from golive.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
