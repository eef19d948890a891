"""What every trigger condition is: a `Spec` with the reference's type names (canonical first, then the
aliases that still load)."""

from __future__ import annotations

from typing import ClassVar

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
