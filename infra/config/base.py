"""What every settings block shares: strict (unknown keys are typos) and frozen; the error synth stops with."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from golive.errors import UserError


class ConfigError(UserError):
    pass


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
