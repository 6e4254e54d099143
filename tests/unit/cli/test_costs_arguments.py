"""`golive costs estimate` refuses amounts no month can have (negative, nan, inf) when it parses them, and
`golive costs report --out` is checked before the billed Cost Explorer call and writes the file it prints."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from cli.main import main
from infra.costs import report
from infra.costs.report import SpendRow


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--storage-gb", "-1", "argument --storage-gb: must be 0 or more, got -1"),
        ("--storage-gb", "nan", "argument --storage-gb: must be a finite number, got nan"),
        ("--storage-gb", "inf", "argument --storage-gb: must be a finite number, got inf"),
        ("--training-hours", "inf", "argument --training-hours: must be a finite number, got inf"),
        ("--training-hours", "0", "argument --training-hours: must be above 0, got 0"),
        ("--requests-per-month", "-5", "argument --requests-per-month: must be 0 or more, got -5"),
        ("--training-runs", "-1", "argument --training-runs: must be 0 or more, got -1"),
        ("--training-runs", "1.5", "argument --training-runs: '1.5' is not a whole number"),
        ("--spot-discount", "nan", "argument --spot-discount: must be a finite number, got nan"),
        ("--active-hours-per-day", "-inf", "argument --active-hours-per-day: must be a finite number, got -inf"),
    ],
)
def test_estimate_refuses_impossible_amounts(option, value, message, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["costs", "estimate", f"{option}={value}", "--format", "json"])  # = lets -inf be a value
    out, err = capsys.readouterr()
    assert raised.value.code == 2 and message in err and out == ""


def test_estimate_takes_zero_storage_and_writes_strict_json(capsys):
    assert main(["costs", "estimate", "--storage-gb", "0", "--training-hours", "2.5", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert payload["assumptions"]["storage_gb"] == 0 and payload["assumptions"]["training_hours"] == 2.5


def _month(offset: int) -> str:
    today = date.today()
    index = today.year * 12 + today.month - 1 - offset
    return date(index // 12, index % 12 + 1, 1).isoformat()


PERIOD = ["--start", _month(1), "--end", _month(0)]


@pytest.fixture()
def cost_explorer(monkeypatch) -> list[tuple]:
    """The Cost Explorer read, replaced: the calls it got (a report that fails its checks must make none)."""
    calls: list[tuple] = []

    def fetch_spend(*args, **kwargs) -> list[SpendRow]:
        calls.append(args)
        return [SpendRow(_month(1), "training", 12.5), SpendRow(_month(1), "api", 3.0)]

    monkeypatch.setattr(report, "fetch_spend", fetch_spend)
    return calls


def _written(out: str, tmp_path: Path) -> Path:
    """The file the command printed, which must be the PNG it wrote."""
    printed = Path(out.strip())
    assert printed.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [printed.name]  # nothing beside it
    return printed


def test_out_alone_writes_the_chart_it_prints(cost_explorer, tmp_path, capsys):
    assert main(["costs", "report", *PERIOD, "--out", str(tmp_path / "spend.png")]) == 0
    assert _written(capsys.readouterr().out, tmp_path) == Path(os.path.realpath(tmp_path / "spend.png"))


def test_out_through_a_missing_folder_prints_the_file_written(cost_explorer, tmp_path, capsys):
    given = tmp_path / "new" / ".." / "Spend.PNG"
    assert main(["costs", "report", *PERIOD, "--format", "png", "--out", str(given)]) == 0
    assert _written(capsys.readouterr().out, tmp_path) == Path(os.path.realpath(tmp_path / "Spend.PNG"))


def test_a_previous_chart_is_replaced(cost_explorer, tmp_path, capsys):
    png = tmp_path / "spend.png"
    assert main(["costs", "report", *PERIOD, "--out", str(png)]) == 0
    first = png.read_bytes()
    png.write_bytes(first[:8] + b"truncated")
    assert main(["costs", "report", *PERIOD, "--out", str(png)]) == 0
    assert png.read_bytes() == first


def test_an_empty_file_made_for_the_chart_is_written(cost_explorer, tmp_path, capsys):
    """`out=$(mktemp --suffix=.png)` or `touch spend.png` first: an empty file holds nothing to lose."""
    png = tmp_path / "spend.png"
    png.touch()
    assert main(["costs", "report", *PERIOD, "--out", str(png)]) == 0
    assert _written(capsys.readouterr().out, tmp_path) == Path(os.path.realpath(png))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--out", "{tmp}/spend.png", "--format", "csv"], "--out writes the spend chart as PNG, but --format csv"),
        (["--out", "{tmp}/spend.png", "--format", "table"], "drop --out to print table, or drop --format table"),
        (["--format", "png", "--out", "{tmp}/spend.txt"], "--out {tmp}/spend.txt: the chart is a PNG; pass a file"),
        (["--format", "png", "--out", "{tmp}/spend"], "--out {tmp}/spend: the chart is a PNG"),
        (["--out", "{tmp}"], "--out {tmp} is a folder: pass a file name, such as {tmp}/spend.png"),
        (["--out", "{tmp}/notes.txt/spend.png"], "cannot be made: {tmp}/notes.txt is a file, not a folder"),
        (["--out", "{tmp}/data.png"], "--out {tmp}/data.png exists and is not a PNG"),
        (["--format", "png"], "--format png needs --out FILE.png"),
    ],
)
def test_out_mistakes_are_refused_before_cost_explorer_is_called(argv, message, cost_explorer, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "data.png").write_text("not a chart; keep me")
    code = main(["costs", "report", *PERIOD, *[a.replace("{tmp}", str(tmp_path)) for a in argv]])
    err = capsys.readouterr().err
    assert code == 2 and message.replace("{tmp}", str(tmp_path)) in err, err
    assert cost_explorer == []  # no billed call
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.png", "notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "data.png").read_text() == "not a chart; keep me"
