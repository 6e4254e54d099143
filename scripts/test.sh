#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
python -m pytest "$@"
