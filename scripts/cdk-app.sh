#!/usr/bin/env bash
# cdk.json's app: the CDK app (infra/app.py, through infra/cdk_entry.py) under the project's Python, so `npx cdk ...` works from the repo
# without activating anything. The active virtualenv wins; otherwise the .venv that scripts/env.sh creates.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${VIRTUAL_ENV:-$PWD/.venv}/bin/python"
if [ ! -x "$python" ]; then
  echo "error: no Python environment for the CDK app ($python is missing): run 'bash scripts/quickstart.sh' first" >&2
  echo "       (it creates .venv, installs golive and trains the bundle the app deploys), or activate a virtualenv" >&2
  exit 2
fi
exec "$python" -m infra.cdk_entry
