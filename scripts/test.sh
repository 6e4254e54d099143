#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, then runs pytest.
# With no arguments it runs both lanes: the default one, then the deploy check (pytest -m deploy: every stack
# on LocalStack with the CDK CLI; installs LocalStack under .golive/ on first use). Arguments go to the first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# --- the browser for tests/test_docs_browser.py (/docs in headless Chromium) ---
# Debian's chromium, installed once where apt-get can (root, as in CI); elsewhere that test is skipped and says why.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  golive_step "installing chromium for the /docs browser test (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium: the /docs browser test will be skipped" >&2
fi
if [ "${CI:-}" = true ] && ! command -v chromium >/dev/null; then
  echo "CI runs the /docs browser test, but chromium is not installed (apt-get install -y chromium)" >&2
  exit 1
fi
# --- end of the browser step ---

golive_step "running the test suite: python -m pytest $* (shared fixtures say when they build)"
python -m pytest "$@"
if [ $# -eq 0 ]; then
  golive_step "running the deploy check: python -m pytest -m deploy tests/deploy (LocalStack + the pinned CDK CLI, minutes)"
  python -m pytest -m deploy tests/deploy
fi
