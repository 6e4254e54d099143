#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
golive_step "running the test suite: python -m pytest $* (shared fixtures say when they build)"
python -m pytest "$@"
