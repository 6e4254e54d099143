#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, then runs pytest.
# With no arguments it runs both lanes: the default one, then the deploy check (pytest -m deploy: every stack
# on LocalStack with the CDK CLI; installs LocalStack under .golive/ on first use). Arguments go to the first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
python -m pytest "$@"
if [ $# -eq 0 ]; then
  python -m pytest -m deploy tests/deploy
fi
