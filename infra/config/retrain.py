"""When the training pipeline starts by itself (`training.retrain`): on an EventBridge schedule, when the online-accuracy
or label-drift alarm goes to ALARM, or both; never more often than `min_interval_hours`, and only once the feedback
exports hold `min_new_labels` labelled rows the last successful run did not see. Off by default.

A schedule expression is checked here, by shape, so a typo stops synth with the key and the forms EventBridge
takes instead of failing the deployment half-way (EventBridge itself would refuse it only at deploy time).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from infra.config.base import Strict

# rate(<positive integer> <unit>): singular with 1 ("rate(1 day)"), plural above ("rate(7 days)")
RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>minutes?|hours?|days?)\)")
# cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>): the characters each field may use
MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
WEEKDAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
CRON_FIELDS = {
    "minutes": r"[0-9,\-*/]+",
    "hours": r"[0-9,\-*/]+",
    "day-of-month": r"[0-9,\-*?/LW]+",
    "month": rf"(?:[0-9,\-*/]|{MONTHS})+",
    "day-of-week": rf"(?:[0-9,\-*?/L#]|{WEEKDAYS})+",
    "year": r"[0-9,\-*/]+",
}
SCHEDULE_FORMS = (
    "rate(7 days), rate(12 hours) or cron(0 3 ? * MON *) (minutes hours day-of-month month day-of-week year)"
)


def schedule_problem(expression: str) -> str | None:
    """What is wrong with an EventBridge schedule expression's shape, or None when it has the right one."""
    rate = RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate["value"]), rate["unit"]
        if value == 0:
            return f"{expression!r}: the rate must be at least 1"
        if (value == 1) == unit.endswith("s"):
            right = unit.rstrip("s") if value == 1 else f"{unit}s"
            return f"{expression!r}: EventBridge wants rate({value} {right})"
        return None
    cron = re.fullmatch(r"cron\((?P<fields>[^()]*)\)", expression)
    if not cron:
        return f"{expression!r} is not an EventBridge schedule expression; use e.g. {SCHEDULE_FORMS}"
    fields = cron["fields"].split()
    if len(fields) != len(CRON_FIELDS):
        return f"{expression!r} has {len(fields)} fields; cron takes 6: {' '.join(CRON_FIELDS)}"
    for (name, pattern), field in zip(CRON_FIELDS.items(), fields, strict=True):
        if not re.fullmatch(pattern, field.upper()):
            return f"{expression!r}: {field!r} is not a valid {name} field"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return f"{expression!r}: exactly one of day-of-month ({day_of_month}) and day-of-week ({day_of_week}) must be ?"
    return None


class RetrainSettings(Strict):
    # an EventBridge schedule expression; None: no scheduled retraining
    schedule: str | None = None
    # start when the online-accuracy or label-drift alarm goes to ALARM
    on_alarms: bool = False
    # no start within this many hours of the last start (whatever its trigger and outcome)
    min_interval_hours: int = Field(24, ge=1, le=24 * 90)
    # labelled rows exported since the last successful run's start; 0: retrain whenever triggered
    min_new_labels: int = Field(500, ge=0)

    @field_validator("schedule")
    @classmethod
    def _schedule_shape(cls, value: str | None) -> str | None:
        problem = schedule_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @property
    def enabled(self) -> bool:
        """Anything can start the pipeline: a schedule or the alarms."""
        return self.schedule is not None or self.on_alarms
