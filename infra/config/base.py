"""What every settings block shares: strict (unknown keys are typos) and frozen; the error synth stops with."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from golive.errors import UserError


class ConfigError(UserError):
    pass


class Strict(BaseModel):
    # allow_inf_nan: Python's json reads NaN and Infinity, which no AWS setting takes (a budget of Infinity)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
