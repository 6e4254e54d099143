#!/usr/bin/env bash
# One command on a fresh machine: install everything, train on the shipped sample data, export to
# ONNX, evaluate the exported model. No AWS account needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
golive train --out model_artifacts
golive evaluate --model model_artifacts --data training/sample_data/validation.tsv
