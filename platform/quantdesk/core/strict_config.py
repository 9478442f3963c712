"""Configs that are frozen and strict, refuse unknown fields, and are checked on every copy.

Subclass :class:`StrictConfig` and declare fields; every problem is raised as
one :class:`~quantdesk.errors.ConfigurationError` line that names the field
and the fix. Strict means no coercion: a number field takes a number (an int,
a float or a NumPy scalar), never text, and a switch takes ``True`` or
``False``. ``model_copy(update=...)``, ``copy.replace`` and ``model_construct``
all validate, so a config that cannot be used cannot be built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from quantdesk.errors import ConfigurationError, describe_miss

_TYPE_HINTS = {
    "float_type": "give an int or a float, not text or a bool",
    "int_type": "give a whole number, not text, a float or a bool",
    "bool_type": "give True or False",
}


class StrictConfig(BaseModel):
    """A frozen, strict config whose every construction and copy is validated."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def __init__(self, **values: Any) -> None:
        kind = type(self).__name__
        for name in values:
            if name not in type(self).model_fields:
                raise ConfigurationError(
                    describe_miss(f"{kind} field", name, type(self).model_fields)
                )
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ConfigurationError(_one_line(kind, error)) from None
        except ValueError as error:
            raise ConfigurationError(str(error)) from None

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Return a copy with the fields in ``update`` changed, validated like a new config.

        Parameters
        ----------
        update
            New values by field name; unknown names and bad values are refused.
        deep
            Accepted for pydantic's signature; every field is immutable, so
            shallow and deep copies are the same.

        Returns
        -------
        StrictConfig
            The new config, of the same class.

        Raises
        ------
        ConfigurationError
            One line naming the field and the fix.
        """
        return type(self)(**{**self.model_dump(), **(update or {})})

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:
        """Build a config from ``values``, validated: there is no unchecked way in.

        Returns
        -------
        StrictConfig
            The config.

        Raises
        ------
        ConfigurationError
            One line naming the field and the fix.
        """
        return cls(**values)

    @field_validator("*", mode="before")
    @classmethod
    def _python_scalar(cls, value: object) -> object:
        """A NumPy scalar as the Python value it holds, so values from arrays are taken."""
        return value.item() if isinstance(value, np.generic) else value


def _one_line(kind: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        if item["type"] in {"value_error", "assertion_error"}:
            message = str(item["ctx"]["error"]) if "ctx" in item else item["msg"]
            problems.append(message)
        else:
            problem = f"{kind}.{location}: {item['msg']}; got {item['input']!r}"
            hint = _TYPE_HINTS.get(item["type"])
            problems.append(problem if hint is None else f"{problem}; {hint}")
    return "; ".join(problems)
