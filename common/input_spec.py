"""How a flow declares its inputs and outputs: `inputs: [{id, type, ...}]`, `outputs: [{id, type, value}]`.

One model for every type (as the reference's YAML reads), with the properties each type takes checked
after validation: `validator` on an INT is a mistake the user hears about, with the line of the input.
The values themselves are typed and checked by `conveyor.common.inputs`."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from conveyor.common import regexps
from conveyor.common.base import Spec
from conveyor.common.input_types import ORDERS, InputType
from conveyor.common.storage.uri import is_storage_uri
from conveyor.common.tasks.base import ID_PATTERN

# `BOOL` is what users write as often as `BOOLEAN`; it is read as BOOLEAN.
TYPE_ALIASES = {"BOOL": "BOOLEAN"}

_T = InputType
# The properties only some types take (every input takes id, type, description, displayName, required,
# defaults, dependsOn); as the reference's input classes define them.
TYPE_PROPERTIES: dict[str, frozenset[InputType]] = {
    "validator": frozenset({_T.STRING, _T.SECRET}),
    "min": frozenset({_T.INT, _T.FLOAT, _T.DURATION}),
    "max": frozenset({_T.INT, _T.FLOAT, _T.DURATION}),
    "after": frozenset({_T.DATE, _T.TIME, _T.DATETIME}),
    "before": frozenset({_T.DATE, _T.TIME, _T.DATETIME}),
    "values": frozenset({_T.SELECT, _T.MULTISELECT, _T.ENUM}),
    "expression": frozenset({_T.SELECT, _T.MULTISELECT}),
    "options": frozenset({_T.MULTISELECT}),
    "allow_custom_value": frozenset({_T.SELECT, _T.MULTISELECT}),
    "is_radio": frozenset({_T.SELECT}),
    "item_type": frozenset({_T.ARRAY, _T.MULTISELECT}),
}
# SECRET items would be stored as they are: a list of secrets is refused rather than half sealed.
NO_ITEM_TYPE = frozenset({_T.ARRAY, _T.MULTISELECT, _T.FILE, _T.SECRET})
_CHOICES = frozenset({_T.SELECT, _T.MULTISELECT, _T.ENUM})


class DependsOn(Spec):
    inputs: list[str] = []
    condition: str | None = None


def _normalise_type(data: Any) -> Any:
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        kind = data["type"]
        if kind.upper() in TYPE_ALIASES:
            return {**data, "type": TYPE_ALIASES[kind.upper()]}
    return data


class Input(Spec):
    id: str = Field(pattern=ID_PATTERN)
    type: InputType = InputType.STRING
    description: str | None = None
    display_name: str | None = Field(default=None, max_length=64)
    required: bool = True
    defaults: Any = None
    depends_on: DependsOn | None = None
    validator: str | None = None
    min: int | float | str | None = None
    max: int | float | str | None = None
    after: str | None = None
    before: str | None = None
    values: list[str] | None = None
    expression: str | None = None
    options: list[str] | None = None
    allow_custom_value: bool | None = None
    is_radio: bool | None = None
    item_type: InputType | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        # The reference's deprecated `name` is the id when no id is given.
        if isinstance(data, dict) and "name" in data:
            data = dict(data)
            name = data.pop("name")
            data.setdefault("id", name)
        return _normalise_type(data)

    @field_validator("after", "before", "min", "max", mode="before")
    @classmethod
    def _iso_bound(cls, value: Any) -> Any:
        # YAML reads `after: 2023-01-01` as a date: the bound is kept in its ISO form.
        if isinstance(value, date | time):
            return value.isoformat().replace("+00:00", "Z")
        return value

    @model_validator(mode="after")
    def _properties_fit_the_type(self) -> Input:
        if self.type == InputType.FILE and self.defaults is not None and not is_storage_uri(self.defaults):
            raise _bad(
                "the defaults of a FILE input must be a file: expected a file (an upload, or a kestra:/// storage URI)"
            )
        for name, types in TYPE_PROPERTIES.items():
            if getattr(self, name) is not None and self.type not in types:
                raise _bad(f"property '{_camel(name)}' does not apply to {self.type} inputs")
        self._check_choices()
        self._check_bounds()
        if self.validator is not None:
            try:
                regexps.java_check("validator", self.validator)
            except regexps.RegexpError as exc:
                raise _bad(f"validator is not a regular expression: {exc}") from None
        return self

    def _check_bounds(self) -> None:
        order = ORDERS.get(self.type)
        for name in ("min", "max", "after", "before"):
            bound = getattr(self, name)
            if bound is not None and order is not None:
                try:
                    order(bound)
                except (ValueError, TypeError):
                    raise _bad(f"{name} `{bound}` is not a {self.type}") from None

    def _check_choices(self) -> None:
        if self.type == InputType.ARRAY and self.item_type is None:
            raise _bad("an ARRAY input needs an itemType")
        if self.item_type in NO_ITEM_TYPE:
            raise _bad(f"itemType cannot be {self.item_type}")
        if self.type in _CHOICES and not (self.values or self.options or self.expression):
            needs = "values" if self.type == InputType.ENUM else "values or an expression"
            raise _bad(f"a {self.type} input needs {needs}")
        if self.values is not None and self.options is not None:
            raise _bad("give values or options, not both")


class Output(Spec):
    id: str = Field(pattern=ID_PATTERN)
    type: InputType = InputType.STRING
    value: Any
    description: str | None = None
    display_name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, data: Any) -> Any:
        return _normalise_type(data)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _bad(message: str) -> PydanticCustomError:
    # A custom error reads as its message alone (no "Value error, " before it) in `file:line:col` reports.
    return PydanticCustomError("input_declaration", message)
