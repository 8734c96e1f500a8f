"""The base of every mode a widget picks (metric, precision, centre, projection …)."""

from __future__ import annotations

import re
from enum import Enum
from typing import Self

from core.errors import ExplorerError


class Mode(str, Enum):
    """A ``str`` Enum whose values come from selectboxes and URLs; coerce them once, at the
    boundary, with :meth:`coerce`."""

    @classmethod
    def coerce(cls, value: str | Self) -> Self:
        """The member with this value, or an error naming the allowed values."""
        try:
            return cls(value)
        except ValueError:
            what = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()
            allowed = ", ".join(m.value for m in cls)
            raise ExplorerError(f"Unknown {what} {value!r}; choose one of: {allowed}.") from None
