#!/usr/bin/env bash
# One command on a fresh machine: install everything, train on the shipped sample data, export to
# ONNX, evaluate the exported model, and serve it on http://127.0.0.1:8000 (docs at /docs) with the
# same FastAPI app the Lambda runs. No AWS account needed. Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
golive quickstart "$@"
