"""checkov on the synthesised CloudFormation templates, run from a virtualenv of its own.

    python -m infra.checkov cdk.out     # lists failed checks (exit 1) and the skips with their reasons

checkov pins dependencies this project cannot share (boto3==1.35.49, networkx<2.7, packaging<24 against
our boto3>=1.40), so it never goes into .venv: the first run builds a virtualenv from
`checkov-requirements.txt` (every package pinned) under ~/.cache/golive (a few minutes, once per
requirements file; GOLIVE_CHECKOV_VENV overrides the place) and later runs reuse it. Findings that are
accepted on purpose carry a skip with its reason in the resource's Metadata (`infra.compliance.accept`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from golive.errors import UserError
from infra.venvs import VenvError, cached_venv, venv_digest

REQUIREMENTS = Path(__file__).with_name("checkov-requirements.txt")
CHECKOV_VERSION = "3.3.30"
# asset folders hold the Lambda package and the image context, not templates: don't crawl them
SKIP_PATHS = r"asset\."


class CheckovError(UserError):
    pass


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str
    file: str
    reason: str | None = None  # the skip's comment, for skipped checks

    def __str__(self) -> str:
        text = f"{self.check_id} {self.resource} ({self.file.lstrip('/')}): {self.check_name}"
        return f"{text}\n    skipped: {self.reason}" if self.reason else text


@dataclass(frozen=True)
class Report:
    passed: int
    failed: list[Finding]
    skipped: list[Finding]

    def summary(self) -> str:
        lines = [
            f"checkov {CHECKOV_VERSION}: {self.passed} passed, {len(self.failed)} failed, "
            f"{len(self.skipped)} skipped with a reason"
        ]
        lines += [f"FAILED {f}" for f in self.failed]
        return "\n".join(lines)


def venv_dir() -> Path:
    if os.environ.get("GOLIVE_CHECKOV_VENV"):
        return Path(os.environ["GOLIVE_CHECKOV_VENV"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "golive" / f"checkov-{CHECKOV_VERSION}-{venv_digest(REQUIREMENTS, sys.executable)[:12]}"


def ensure_checkov(venv: Path | None = None) -> Path:
    """The checkov executable; builds its virtualenv first if it is not there (infra/venvs.py: one build at a time)."""
    venv = venv or venv_dir()
    try:
        cached_venv(venv, REQUIREMENTS, what=f"checkov {CHECKOV_VERSION}")
    except VenvError as exc:
        raise CheckovError(str(exc)) from None
    return venv / "bin" / "checkov"


def scan(directory: Path | str, venv: Path | None = None) -> Report:
    """Every CloudFormation template under `directory` (a cloud assembly such as cdk.out)."""
    directory = Path(directory)
    if not any(directory.glob("*.template.json")):
        raise CheckovError(f"no *.template.json in {directory}; synthesise first (golive synth --out {directory})")
    result = subprocess.run(
        [
            str(ensure_checkov(venv)),
            "-d",
            str(directory),
            "--framework",
            "cloudformation",
            "--skip-path",
            SKIP_PATHS,
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
    )
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise CheckovError(
            f"checkov failed (exit {result.returncode}):\n{(result.stderr or result.stdout)[-2000:]}"
        ) from None
    passed, failed, skipped = 0, [], []
    for report in reports if isinstance(reports, list) else [reports]:
        results = report.get("results", {})
        passed += len(results.get("passed_checks", []))
        failed += [_finding(c) for c in results.get("failed_checks", [])]
        skipped += [
            _finding(c, c.get("check_result", {}).get("suppress_comment")) for c in results.get("skipped_checks", [])
        ]
    return Report(passed=passed, failed=failed, skipped=skipped)


def _finding(check: dict, reason: str | None = None) -> Finding:
    return Finding(check["check_id"], check["check_name"], check["resource"], check["file_path"], reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.checkov", description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="cdk.out", help="the cloud assembly (default cdk.out)")
    parser.add_argument("--show-skipped", action="store_true", help="also list the accepted findings and why")
    ns = parser.parse_args(argv)
    try:
        report = scan(ns.directory)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    if ns.show_skipped:
        print("\n".join(f"skipped {f}" for f in report.skipped))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
