"""The base of every Conveyor model: camelCase JSON with the reference's field names."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Runtime data (executions, task runs, events): tolerant of fields it does not know."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def deep_copy(self) -> Self:
        """A deep copy made by pydantic-core (dump, then validate): about three times faster than
        `model_copy(deep=True)`, which goes through `copy.deepcopy` field by field (the executor's hot path).
        Computed fields are left out of the dump: validation would only drop them."""
        return self.model_validate(self.model_dump(exclude_computed_fields=True))


class Spec(BaseModel):
    """User-written definitions (flows, tasks): a misspelt property is an error, not silently ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
