"""Fine-tuning, ONNX export and evaluation. Importing the package sets the process environment they run in,
before any of its modules loads torch (which reads some of it only once, when it loads OpenMP)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: models come from local folders
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# OpenMP threads that wait by spinning burn the cores they wait for whenever anything else runs on the machine:
# with other busy processes on 2 cores, a CPU training step took 4.5x the CPU time and 3.7x the wall time of
# one whose threads sleep while they wait (see benchmarks/RESULTS.md). An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
