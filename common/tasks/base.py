"""The base of every task definition. Runnable tasks run on workers; flowable tasks are decided by the
executor from their children's states; execution-updating tasks (`ExecutionUpdatingTask`) are runnable
tasks the executor runs itself, because what they change is the execution."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from conveyor.common.base import Spec
from conveyor.common.clock import Duration
from conveyor.common.retry import Retry

ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


class LogLevel(StrEnum):
    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        return list(LogLevel).index(self)


class Task(Spec):
    # The reference's names for this task type: canonical first, then aliases that still load.
    type_names: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[Literal["runnable", "flowable"]] = "runnable"

    id: str = Field(pattern=ID_PATTERN)
    type: str
    description: str | None = None
    retry: Retry | None = None
    timeout: Duration | None = None
    disabled: bool = False
    log_level: LogLevel | None = None
    allow_failure: bool = False
    allow_warning: bool = False
    # The reference's `runIf`: rendered when the task run is created; false (`false`, `0`, `-0`, "") -> SKIPPED.
    run_if: str | bool | None = None

    @classmethod
    def canonical_type(cls) -> str:
        return cls.type_names[0]


class RunnableTask(Task):
    kind: ClassVar[Literal["runnable", "flowable"]] = "runnable"


class ExecutionUpdatingTask(RunnableTask):
    """A runnable task the executor runs itself, inside its decision, because it changes the running execution
    (the reference's `ExecutionUpdatableTask`: Labels). It has one attempt per try, like any runnable task,
    but no worker job; `retry`, `allowFailure` and `runIf` apply as to any task (`executor.updating`)."""


class FlowableTask(Task):
    kind: ClassVar[Literal["runnable", "flowable"]] = "flowable"
    # True for a flowable whose children one worker job runs together (WorkingDirectory).
    on_worker: ClassVar[bool] = False

    def child_lists(self) -> list[list[Task]]:
        """Every list of child tasks this flowable declares (for validation and lookups)."""
        return []

    def error_tasks(self) -> list[Task]:
        return []

    def finally_tasks(self) -> list[Task]:
        """The tasks that run once the flowable's children (and `errors`) ended, whatever the outcome."""
        return []
