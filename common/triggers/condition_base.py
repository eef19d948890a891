"""What every trigger condition is: a `Spec` with the reference's type names (canonical first, then the
aliases that still load)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, Union

from pydantic import Discriminator, Tag

from conveyor.common.base import Spec

NEW = "io.kestra.plugin.core.condition."
OLD = "io.kestra.core.models.conditions.types."


def names(name: str) -> tuple[str, ...]:
    """`Name`'s type names: `…condition.Name`, `…condition.NameCondition`, `…conditions.types.NameCondition`."""
    return (f"{NEW}{name}", f"{NEW}{name}Condition", f"{OLD}{name}Condition")


class Condition(Spec):
    type_names: ClassVar[tuple[str, ...]] = ()
    type: str

    @classmethod
    def canonical_type(cls) -> str:
        return cls.type_names[0]


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
