# Sourced by the quickstart and test scripts: create .venv once and install the project into it.
# torch is pinned to 2.13.0 in pyproject.toml (a CPU wheel here; a looser pin pulls a CUDA build).
# A line per step with the seconds since the start; on a terminal pip shows its own progress too.
golive_started=$SECONDS
golive_step() { printf '[%4d s] %s\n' $((SECONDS - golive_started)) "$*" >&2; }
if ! command -v python3 >/dev/null || ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: golive needs Python 3.11 or newer as python3 (found: $(python3 --version 2>&1 || echo none)); install it and run again" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  golive_step "creating .venv with $(python3 --version)"
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
golive_step "upgrading pip in .venv"
python -m pip install --quiet --upgrade pip
golive_step "installing golive and its dependencies into .venv (torch CPU, transformers, ONNX Runtime, aws-cdk-lib, ...: about 3 minutes the first time, seconds after)"
if [ -t 2 ]; then golive_pip_output=(--progress-bar on); else golive_pip_output=(--quiet); fi
python -m pip install "${golive_pip_output[@]}" -e ".[all]"
# The pinned CDK CLI (package-lock.json; `npx cdk ...`), when Node.js is here: only `cdk deploy` and its tests need it.
if command -v npm >/dev/null 2>&1; then
  if ! cmp -s package-lock.json node_modules/.golive-installed-lock 2>/dev/null; then
    golive_step "installing the pinned AWS CDK CLI (npm ci)"
    if npm ci --silent --no-audit --no-fund; then
      cp package-lock.json node_modules/.golive-installed-lock
    else
      echo "warning: npm ci failed: \`npx cdk\` (deploys) needs it; everything else works" >&2
    fi
  fi
else
  echo "note: Node.js/npm not found: the CDK CLI (npx cdk, for deploys) needs Node.js 22 or 24; everything else works" >&2
fi
golive_step "installed"
