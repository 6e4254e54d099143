"""`golive costs report`: actual spend per stage from Cost Explorer, grouped by the Stage tag.

Spend without a Stage tag is its own `untagged` line, so nothing is silently left out. With --env,
only spend tagged with that Environment is counted (untagged spend can't be attributed to one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from golive.aws_errors import aws_errors
from golive.errors import UserError

UNTAGGED = "untagged"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class SpendRow:
    period_start: str
    stage: str
    usd: float


def parse_period(start: str, end: str) -> tuple[date, date]:
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise UserError(f"dates must be YYYY-MM-DD (got --start {start!r}, --end {end!r})") from None
    if last <= first:
        raise UserError(f"--end ({end}) must be after --start ({start}); Cost Explorer's end date is exclusive")
    if first < date.today().replace(year=date.today().year - 1, day=1):
        raise UserError("Cost Explorer keeps about 12 months of history; choose a --start within the last year")
    return first, last


def fetch_spend(start: str, end: str, environment: str | None, granularity: str, client=None) -> list[SpendRow]:
    import boto3

    first, last = parse_period(start, end)
    with aws_errors("cannot read spend from Cost Explorer", "ce:GetCostAndUsage"):  # the profile is read here
        ce = client or boto3.client("ce", region_name="us-east-1")  # Cost Explorer's one endpoint
    query = {
        "TimePeriod": {"Start": first.isoformat(), "End": last.isoformat()},
        "Granularity": granularity,
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "TAG", "Key": "Stage"}],
    }
    if environment:
        query["Filter"] = {"Tags": {"Key": "Environment", "Values": [environment], "MatchOptions": ["EQUALS"]}}
    rows, token = [], None
    while True:
        with aws_errors("cannot read spend from Cost Explorer", "ce:GetCostAndUsage"):
            page = ce.get_cost_and_usage(**query, **({"NextPageToken": token} if token else {}))
        for period in page.get("ResultsByTime", []):
            for group in period.get("Groups", []):
                stage = group["Keys"][0].split("$", 1)[-1] or UNTAGGED
                rows.append(
                    SpendRow(
                        period["TimePeriod"]["Start"],
                        stage,
                        round(float(group["Metrics"]["UnblendedCost"]["Amount"]), 2),
                    )
                )
        token = page.get("NextPageToken")
        if not token:
            return rows


def totals_by_stage(rows: list[SpendRow]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in rows:
        totals[row.stage] = round(totals.get(row.stage, 0) + row.usd, 2)
    return dict(sorted(totals.items(), key=lambda kv: (kv[0] == UNTAGGED, kv[0])))


def check_png_destination(out: str) -> Path:
    """The file the chart will be written to, checked before any (billed) Cost Explorer call: a .png name, not a
    folder, in a folder that exists or can be made, replacing only a previous PNG or an empty file. Returned resolved, as written."""
    given, path = out, Path(os.path.realpath(out))  # `new/../spend.png` is spend.png once `new` exists
    if path.is_dir():
        raise UserError(f"--out {given} is a folder: pass a file name, such as {Path(given) / 'spend.png'}")
    if path.suffix.lower() != ".png":
        raise UserError(f"--out {given}: the chart is a PNG; pass a file name ending in .png, such as spend.png")
    folder = next(parent for parent in path.parents if parent.exists())
    if not folder.is_dir():
        raise UserError(f"--out {given} cannot be made: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"--out {given} cannot be written: no permission to write in {folder}")
    if path.exists() and path.stat().st_size:  # an empty file (`mktemp --suffix=.png`, `touch`) holds nothing to lose
        with path.open("rb") as file:
            if file.read(len(PNG_MAGIC)) != PNG_MAGIC:
                raise UserError(
                    f"--out {given} exists and is not a PNG; writing the chart there would destroy it: choose "
                    "another file name, or move that file away"
                )
    return path


def write_png(rows: list[SpendRow], path: Path, title: str) -> Path:
    """A stacked bar per period, one colour per stage, for finance to paste into a report; `path` is one
    check_png_destination returned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    periods = sorted({r.period_start for r in rows})
    stages = list(totals_by_stage(rows)) or [UNTAGGED]
    figure, axes = plt.subplots(figsize=(max(6, len(periods) * 0.8), 4))
    bottoms = [0.0] * len(periods)
    for stage in stages:
        values = [sum(r.usd for r in rows if r.period_start == p and r.stage == stage) for p in periods]
        axes.bar(periods, values, bottom=bottoms, label=stage)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    axes.set_ylabel("USD (unblended)")
    axes.set_title(title)
    axes.legend(title="Stage", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, format="png")  # the name's suffix was checked; the format is not guessed from it
    plt.close(figure)
    return path
