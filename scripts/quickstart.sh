#!/usr/bin/env bash
# One command on a fresh machine: install everything, train on the shipped sample data, export to
# ONNX, evaluate the exported model, and serve it on http://127.0.0.1:8000 (docs at /docs) with the
# same FastAPI app the Lambda runs. No AWS account needed. Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
# bad flags and a taken port are reported before minutes of installing (golive's parser needs only the stdlib)
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  python3 -c 'import sys; from cli.main import preflight; sys.exit(preflight(sys.argv[1:]))' quickstart "$@" \
    || { status=$?; [ "$status" -eq 100 ] && exit 0; exit "$status"; }
fi
source scripts/env.sh
golive_step "running: golive quickstart $*"
golive quickstart "$@"
