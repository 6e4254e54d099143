"""Fine-tuning, ONNX export and evaluation. Importing any of it changes nothing in the process: the entry point,
training/cli.py, sets the environment and logging a training run needs before it loads torch."""
