"""The one reader of runtime settings from environment variables, for the API and the endpoint container.

A settings class is a pydantic model with `EnvSettings` mixed in and its own prefix: field `max_texts` of a class
with `env_prefix = "GOLIVE_"` is read from `GOLIVE_MAX_TEXTS` (any case), or first from the variables `env_aliases`
names for it (SageMaker's own, where it defines one). Arguments win over the environment, then the defaults.

Plain pydantic, not pydantic-settings: FastAPI already imports pydantic, and pydantic-settings would add its own
imports (about 40 ms under the Lambda's Python 3.13, measured) to every cold start for sources (dotenv, secrets
files, cloud stores) nothing here uses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ValidationError

from golive.errors import UserError


class SettingsError(UserError):
    """Settings that do not validate; the message names each variable and what is wrong with it."""


class EnvSettings:
    """Mixed into a pydantic model (`class Settings(EnvSettings, BaseModel)`). Not a model itself: one model class
    fewer to build at every Lambda cold start."""

    env_prefix: ClassVar[str] = ""
    env_aliases: ClassVar[dict[str, tuple[str, ...]]] = {}  # field -> variables read before `<prefix><FIELD>`
    env_title: ClassVar[str] = "settings"  # what the error message calls them

    @classmethod
    def variables(cls, field: str) -> tuple[str, ...]:
        """The variables `field` is read from, first match wins."""
        return (*cls.env_aliases.get(field, ()), f"{cls.env_prefix}{field.upper()}")

    @classmethod
    def environment_values(cls, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The fields set in the environment, by field name, with the value of the variable that set each."""
        by_name = {key.upper(): value for key, value in (os.environ if environ is None else environ).items()}
        found = {}
        for field in cls.model_fields:  # type: ignore[attr-defined]
            variable = next((v for v in cls.variables(field) if v in by_name), None)
            if variable is not None:
                found[field] = by_name[variable]
        return found

    @classmethod
    def load(cls, **arguments: Any):
        """The settings from `arguments` and the environment; SettingsError, naming the variables, if invalid."""
        try:
            return cls(**arguments)
        except ValidationError as exc:
            raise SettingsError(cls.describe(exc, arguments)) from None

    @classmethod
    def describe(cls, exc: ValidationError, arguments: Mapping[str, Any] | None = None) -> str:
        arguments = arguments or {}
        environ = {key.upper() for key in os.environ}
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            if field in cls.model_fields and field not in arguments:  # type: ignore[attr-defined]
                where = next((v for v in cls.variables(field) if v in environ), cls.variables(field)[-1])
                lines.append(f"  {where}={error['input']!r}: {error['msg']}")
            else:  # an argument, or a check across fields (its message names the variables)
                lines.append(f"  {field or '(settings)'}: {error['msg']}")
        return f"the {cls.env_title} from the environment are not valid:\n" + "\n".join(lines)

    def __init__(self, **arguments: Any) -> None:
        super().__init__(**{**self.environment_values(), **arguments})
