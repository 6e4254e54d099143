# Sourced by the quickstart and test scripts: create .venv once and install the project into it.
# torch is pinned to 2.13.0 in pyproject.toml (a CPU wheel here; a looser pin pulls a CUDA build).
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[all]"
# The pinned CDK CLI (package-lock.json; `npx cdk ...`), when Node.js is here: only `cdk deploy` and its test need it.
if command -v npm >/dev/null 2>&1; then
  if ! cmp -s package-lock.json node_modules/.golive-installed-lock 2>/dev/null; then
    echo "installing the pinned AWS CDK CLI (npm ci)..."
    if npm ci --silent --no-audit --no-fund; then
      cp package-lock.json node_modules/.golive-installed-lock
    else
      echo "warning: npm ci failed: \`npx cdk\` (deploys) needs it; everything else works" >&2
    fi
  fi
else
  echo "note: Node.js/npm not found: the CDK CLI (npx cdk, for deploys) needs Node.js 20+; everything else works" >&2
fi
