"""Errors of `conveyor.common`.

ConveyorError
├── FlowError          a flow file or definition is invalid (names file, line, field, expectation)
├── InputError         execution inputs do not match the flow's declared inputs
├── UsageError         a command's flags or settings cannot work (names the flag or variable); also a ValueError
├── RenderError        an expression failed to render (names the expression)
└── DecodeError        a message on a topic could not be decoded (goes to the dead-letter topic)
"""

from __future__ import annotations

from dataclasses import dataclass


class ConveyorError(Exception):
    """Base of every error Conveyor raises on purpose."""


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    line: int | None = None
    column: int | None = None

    def format(self, source: str) -> str:
        where = source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class FlowError(ConveyorError):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = [p.format(source) for p in problems]
        super().__init__(f"invalid flow {source}:\n  " + "\n  ".join(lines))


class InputError(ConveyorError):
    pass


class UsageError(ConveyorError, ValueError):
    """What the user asked for cannot work: a flag, a `CONVEYOR_*` variable, a combination of settings. The
    message names it and says what is expected; the CLI prints it and exits 2."""


class RenderError(ConveyorError):
    def __init__(self, expression: str, reason: str, task_id: str | None = None) -> None:
        self.expression = expression
        self.reason = reason
        self.task_id = task_id
        where = f"task '{task_id}': " if task_id else ""
        # A reason that already quotes the expression ("… used in the expression `{{ x }}`") stands alone.
        what = (
            reason if expression.strip() and expression.strip() in reason else f"cannot render {expression!r}: {reason}"
        )
        super().__init__(f"{where}{what}")


class DecodeError(ConveyorError):
    pass
