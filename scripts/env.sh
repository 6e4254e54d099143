# Sourced by the quickstart and test scripts: create .venv once and install the project into it.
# torch is pinned to 2.13.0 in pyproject.toml (a CPU wheel here; a looser pin pulls a CUDA build).
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[all]"
