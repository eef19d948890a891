"""What every trigger condition is: a `Spec` with the reference's type names (canonical first, then the
aliases that still load) that `holds` for a `Check`.

A `Check` is what a condition is evaluated against: the template context (a Schedule's slot variables, or
an ended execution's for a Flow trigger), the time zone a date without an offset is read in, and, for a Flow
trigger, the ended execution itself. A condition that cannot be evaluated raises `ConditionError`.

Three kinds, told apart by their base class: a condition on a Schedule's date (`schedule_conditions`), one on
an ended execution (`ExecutionCondition`, `conditions`), and the logical ones that go with either
(`logical`: Expression, Not, Or). Each trigger type refuses the other kind, also inside a Not or an Or."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Union
from zoneinfo import ZoneInfo

from pydantic import Discriminator, Tag

from conveyor.common.base import Spec
from conveyor.common.errors import ConveyorError
from conveyor.common.render import render

if TYPE_CHECKING:
    from conveyor.common.model import Execution

NEW = "io.kestra.plugin.core.condition."
OLD = "io.kestra.core.models.conditions.types."


class ConditionError(ConveyorError):
    """A condition could not be evaluated (its `date` or `expression` did not render or parse)."""


@dataclass(frozen=True)
class Check:
    """What conditions are checked against: the template context, the time zone of a date rendered without
    an offset, and (a Flow trigger's conditions) the execution that ended."""

    context: dict[str, Any]
    zone: ZoneInfo
    ended: Execution | None = None

    def text(self, template: str, field: str) -> str:
        try:
            return render(template, self.context)
        except ConveyorError as exc:
            raise ConditionError(f"{field}: {exc}") from None

    def local_date(self, template: str) -> date:
        text = self.text(template, "date").strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            return self.date_time(template, text).date()

    def date_time(self, template: str, text: str | None = None) -> datetime:
        text = self.text(template, "date").strip() if text is None else text
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ConditionError(f"date: expected an ISO-8601 date-time, got {text!r}") from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=self.zone)

    def execution(self, condition: str) -> Execution:
        if self.ended is None:
            raise ConditionError(f"{condition} is a condition on an ended execution (a Flow trigger's)")
        return self.ended


def names(name: str) -> tuple[str, ...]:
    """`Name`'s type names: `…condition.Name`, `…condition.NameCondition`, `…conditions.types.NameCondition`."""
    return (f"{NEW}{name}", f"{NEW}{name}Condition", f"{OLD}{name}Condition")


class Condition(Spec):
    type_names: ClassVar[tuple[str, ...]] = ()
    type: str

    @classmethod
    def canonical_type(cls) -> str:
        return cls.type_names[0]

    def holds(self, check: Check) -> bool:
        raise NotImplementedError

    def children(self) -> list[Condition]:
        """The conditions inside this one (a Not's or an Or's)."""
        return []


class ExecutionCondition(Condition):
    """A condition on the execution that ended (a Flow trigger's)."""


def expression_holds(rendered: str) -> bool:
    """The reference's truth of a rendered expression: anything but blank or `false`."""
    return rendered.strip() not in ("", "false")


def leaves(conditions: Iterable[Condition]) -> Iterator[Condition]:
    """Every condition, inside Not and Or too (those themselves left out)."""
    for condition in conditions:
        inner = condition.children()
        if inner:
            yield from leaves(inner)
        else:
            yield condition


def discriminator(types: Mapping[str, type[Condition]]) -> Callable[[Any], str | None]:
    """The union tag of a condition (its canonical type name, also for an alias) among `types`."""

    def tag(value: Any) -> str | None:
        if isinstance(value, Condition):
            return value.canonical_type()
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            cls = types.get(value["type"])
            return cls.canonical_type() if cls else value["type"]
        return None

    return tag


def tagged_union(classes: Iterable[type[Condition]]) -> Any:
    """The union of these condition classes, told apart by their `type` (aliases included)."""
    classes = tuple(classes)
    members = tuple(Annotated[cls, Tag(cls.canonical_type())] for cls in classes)
    types = {name: cls for cls in classes for name in cls.type_names}
    return Annotated[Union[members], Discriminator(discriminator(types))]  # noqa: UP007
