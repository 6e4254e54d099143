#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, then runs pytest.
# With no arguments: ruff, mypy, the unit lane (tests/unit: no torch), the integration lane (everything else
# but the deploy check), then the deploy check (pytest -m deploy: every stack on LocalStack with the CDK CLI;
# installs LocalStack under .golive/ on first use). With arguments: just `python -m pytest ARGS`.
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

if [ $# -gt 0 ]; then  # a developer's own selection: pytest with these arguments, nothing else
  golive_step "python -m pytest $*"
  python -m pytest "$@"
  exit
fi
golive_step "lint: ruff check and ruff format --check (pyproject.toml [tool.ruff])"
python -m ruff check .
python -m ruff format --check --quiet .
golive_step "types: mypy (strict on golive/; pyproject.toml [tool.mypy])"
python -m mypy
golive_step "unit lane: python -m pytest tests/unit (no torch, a hand-written bundle, seconds)"
python -m pytest tests/unit
golive_step "integration lane: python -m pytest -m 'integration and not deploy' (tiny trainings, the CDK app, real processes; shared fixtures say when they build)"
python -m pytest -m "integration and not deploy"
golive_step "deploy check: python -m pytest -m deploy tests/deploy (LocalStack + the pinned CDK CLI, minutes)"
python -m pytest -m deploy tests/deploy
