"""The conditions that go with any trigger: Expression, Not and Or, as the reference has them.

- Expression (`expression`): holds unless it renders blank or `false`, in the context of what is checked (a
  Schedule's slot variables, or an ended execution's for a Flow trigger: `conditions`);
- Not (`conditions`): none of them holds; Or (`conditions`): at least one does. Their `conditions` may be of
  any kind the trigger takes (the trigger refuses the other kind inside them too).

Their `conditions` are the union of every condition (`conditions.AnyCondition`), filled in by `conditions`
once the union is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from conveyor.common.triggers.condition_base import Check, Condition, expression_holds, names

if TYPE_CHECKING:
    AnyCondition = Condition


class Expression(Condition):
    """The expression renders to something other than blank or `false`."""

    type_names = (*names("Expression"), "io.kestra.core.models.conditions.types.VariableCondition")
    expression: str = Field(min_length=1)

    def holds(self, check: Check) -> bool:
        return expression_holds(check.text(self.expression, "expression"))


class Not(Condition):
    """None of `conditions` holds."""

    type_names = names("Not")
    conditions: list[AnyCondition] = Field(min_length=1)

    def holds(self, check: Check) -> bool:
        return not any(c.holds(check) for c in self.conditions)

    def children(self) -> list[Condition]:
        return list(self.conditions)


class Or(Condition):
    """At least one of `conditions` holds."""

    type_names = names("Or")
    conditions: list[AnyCondition] = Field(min_length=1)

    def holds(self, check: Check) -> bool:
        return any(c.holds(check) for c in self.conditions)

    def children(self) -> list[Condition]:
        return list(self.conditions)


LOGICAL_CONDITIONS: tuple[type[Condition], ...] = (Expression, Not, Or)
