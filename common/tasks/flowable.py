"""The core flowable tasks. The executor decides them (see `executor.flowables`); no worker runs them.

Child lists are typed `AnyTask`, the union of every registered task type, resolved by
`conveyor.common.tasks.registry` once plugins are loaded.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import AliasChoices, Field, field_validator, model_validator

from conveyor.common.base import Spec
from conveyor.common.clock import Duration, parse_duration
from conveyor.common.input_spec import Input
from conveyor.common.tasks.base import ExecutionUpdatingTask, FlowableTask, Task
from conveyor.common.tasks.script_options import NamespaceFilesOptions

if TYPE_CHECKING:
    AnyTask = Task


class _WithErrors(FlowableTask):
    """A flowable with an `errors` branch (tasks that run when its normal tasks fail) and a `finally` one
    (tasks that run once they and `errors` ended, whatever the outcome: `executor.flowables`)."""

    errors: list[AnyTask] = []
    finally_: list[AnyTask] = Field(default=[], alias="finally")

    def error_tasks(self) -> list[Task]:
        return list(self.errors)

    def finally_tasks(self) -> list[Task]:
        return list(self.finally_)


class _WithTasks(_WithErrors):
    """A flowable whose children are one `tasks` list."""

    tasks: list[AnyTask] = Field(min_length=1)

    def child_lists(self) -> list[list[Task]]:
        return [list(self.tasks)]


class Sequential(_WithTasks):
    type_names = ("io.kestra.plugin.core.flow.Sequential", "io.kestra.core.tasks.flows.Sequential")


class Parallel(_WithTasks):
    type_names = ("io.kestra.plugin.core.flow.Parallel", "io.kestra.core.tasks.flows.Parallel")
    # `concurrent` is the reference's name; `concurrency` is accepted too. 0 = no limit.
    concurrent: int = Field(default=0, ge=0)
    concurrency: int | None = Field(default=None, ge=0)

    @property
    def limit(self) -> int:
        return self.concurrency if self.concurrency is not None else self.concurrent


class ForEach(_WithTasks):
    type_names = ("io.kestra.plugin.core.flow.ForEach",)
    values: str | list[Any]
    # 1 = one value at a time (default), 0 = all at once, N = at most N values at once.
    concurrency_limit: int = Field(default=1, ge=0)


class EachSequential(_WithTasks):
    """Deprecated by the reference since 0.19: a ForEach with concurrencyLimit 1."""

    type_names = ("io.kestra.plugin.core.flow.EachSequential", "io.kestra.core.tasks.flows.EachSequential")
    value: str | list[Any]


class EachParallel(_WithTasks):
    """Deprecated by the reference since 0.19: a ForEach with concurrencyLimit 0 (or `concurrent`)."""

    type_names = ("io.kestra.plugin.core.flow.EachParallel", "io.kestra.core.tasks.flows.EachParallel")
    value: str | list[Any]
    concurrent: int = Field(default=0, ge=0)


class If(_WithErrors):
    type_names = ("io.kestra.plugin.core.flow.If", "io.kestra.core.tasks.flows.If")
    condition: str | bool | int
    then: list[AnyTask] = Field(min_length=1)
    else_: list[AnyTask] = Field(default=[], alias="else")

    @field_validator("else_", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    def child_lists(self) -> list[list[Task]]:
        return [list(self.then), list(self.else_)]


class Switch(_WithErrors):
    type_names = ("io.kestra.plugin.core.flow.Switch", "io.kestra.core.tasks.flows.Switch")
    value: str | int | bool
    cases: dict[str, list[AnyTask]] = {}
    defaults: list[AnyTask] = []

    @field_validator("cases", mode="before")
    @classmethod
    def _keys_are_strings(cls, value: Any) -> Any:
        # YAML case keys such as `1:` or `true:` are compared as strings, as in the reference.
        if isinstance(value, dict):
            return {_case_key(k): v for k, v in value.items()}
        return value

    @field_validator("defaults", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    def child_lists(self) -> list[list[Task]]:
        return [*(list(c) for c in self.cases.values()), list(self.defaults)]


def _case_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


class PauseBehavior(StrEnum):
    """What a Pause does when its `delay` (or `pauseDuration`) or `timeout` runs out without a resume (the
    reference's `behavior`; its states: RESUME goes on, WARN ends the pause WARNING and goes on, FAIL ends it
    FAILED, CANCEL ends the execution CANCELLED)."""

    RESUME = "RESUME"
    WARN = "WARN"
    FAIL = "FAIL"
    CANCEL = "CANCEL"


class Pause(_WithErrors):
    """Pause the execution until it is resumed (`conveyor resume`, `POST …/resume`), or until `delay` has
    passed (it then resumes itself), or `timeout` (the pause then fails, as in the reference). `behavior`
    says otherwise what the end of the delay or timeout does. `onResume` declares inputs given with the
    resume, typed like flow inputs and read as `outputs.<pause>.onResume.<input>`. `tasks` (deprecated by the
    reference) run after the resume, as a Sequential's."""

    type_names = ("io.kestra.plugin.core.flow.Pause", "io.kestra.core.tasks.flows.Pause")
    delay: str | None = Field(default=None, validation_alias=AliasChoices("delay", "pauseDuration"))
    behavior: PauseBehavior | None = None
    on_resume: list[Input] = []
    tasks: list[AnyTask] = []

    @field_validator("delay", mode="before")
    @classmethod
    def _duration_or_expression(cls, value: Any) -> Any:
        if isinstance(value, str) and "{{" not in value:
            parse_duration(value)  # a literal must be a duration (the error names the property)
        return value

    def child_lists(self) -> list[list[Task]]:
        return [list(self.tasks)]


class AllowFailure(Sequential):
    """A Sequential whose failure is allowed: its tasks run in order, its `errors` branch runs on a failure,
    and then it ends WARNING instead of FAILED, so that the execution goes on (the reference's AllowFailure)."""

    type_names = ("io.kestra.plugin.core.flow.AllowFailure", "io.kestra.core.tasks.flows.AllowFailure")
    allow_failure: bool = True


class DagTask(Spec):
    """One task of a Dag and the ids of the Dag's tasks it waits for."""

    task: AnyTask
    depends_on: list[str] = []


class Dag(_WithErrors):
    """Tasks that start as soon as every task they depend on (`dependsOn`) has ended, at most `concurrent`
    running at once (0: no limit). A dependency on an unknown task, or a cycle, is refused when the flow
    loads. As a Parallel, no new task starts once one failed."""

    type_names = ("io.kestra.plugin.core.flow.Dag", "io.kestra.core.tasks.flows.Dag")
    tasks: list[DagTask] = Field(min_length=1)
    concurrent: int = Field(default=0, ge=0)

    def child_lists(self) -> list[list[Task]]:
        return [[t.task for t in self.tasks]]

    @cached_property
    def dependencies(self) -> dict[str, list[str]]:
        """Each task's id -> the ids it depends on (made once per parsed flow)."""
        return {t.task.id: list(t.depends_on) for t in self.tasks}

    @model_validator(mode="after")
    def _acyclic(self) -> Dag:
        ids = {t.task.id for t in self.tasks}
        unknown = [d for t in self.tasks for d in t.depends_on if d not in ids]
        if unknown:
            raise ValueError(f"{self.id}: Not existing task id in dependency: {', '.join(unknown)}")
        cyclic = dag_cycle(self.dependencies)
        if cyclic:
            raise ValueError(f"{self.id}: Cyclic dependency detected: {', '.join(cyclic)}")
        return self


def dag_cycle(depends: dict[str, list[str]]) -> list[str]:
    """The tasks that depend, directly or not, on themselves (in declaration order); empty when acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    on_cycle: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for dep in depends.get(node, []):
            if state.get(dep) == 1:
                on_cycle.update(path[path.index(dep) :])
            elif dep not in state:
                visit(dep, path)
        path.pop()
        state[node] = 2

    for node in depends:
        if node not in state:
            visit(node, [])
    return [node for node in depends if node in on_cycle]


class CheckFrequency(Spec):
    """How often a LoopUntil checks its condition and when it gives up (the reference's defaults since 0.23:
    every minute, no limits)."""

    max_iterations: int | None = Field(default=None, ge=1)
    max_duration: Duration | None = None
    interval: Duration = timedelta(minutes=1)


class LoopUntil(_WithTasks):
    """Run `tasks` again and again, `checkFrequency.interval` apart, until `condition` renders true (it is
    rendered after each iteration, with that iteration's outputs), or until `maxIterations` iterations or
    `maxDuration` (from the loop's start) are reached: then it ends as its last iteration did, or FAILED with
    `failOnMaxReached`. Its output `iterationCount` is the number of the iteration that runs (1 first). The
    reference's older name `WaitFor` is an alias."""

    type_names = (
        "io.kestra.plugin.core.flow.LoopUntil",
        "io.kestra.plugin.core.flow.WaitFor",
        "io.kestra.core.tasks.flows.WaitFor",
    )
    condition: str | bool | int
    fail_on_max_reached: bool = False
    check_frequency: CheckFrequency = CheckFrequency()


class WorkdirCacheOptions(Spec):
    """A WorkingDirectory's `cache`: the files matching `patterns` (globs, `**` across folders) are kept
    between executions of the flow (`worker/runners/workdir_cache.py`), for `ttl` (ISO-8601) or for good."""

    patterns: list[str] = Field(min_length=1)
    ttl: Duration | None = None


class WorkingDirectory(_WithTasks):
    """Runnable tasks that share one working directory on one worker: the executor sends the whole group as
    one worker job (the job of the WorkingDirectory's task run); the worker makes a fresh directory, runs the
    tasks there one after another (a failure stops them, unless the task allows it), then its `finally` tasks,
    reports each as a task run of its own, then removes the directory. Only runnable tasks can be in it, as in
    the reference."""

    type_names = ("io.kestra.plugin.core.flow.WorkingDirectory", "io.kestra.core.tasks.flows.WorkingDirectory")
    # A worker runs the group (`conveyor.worker.workdir`): its job carries the tasks, their reads are its own.
    on_worker: ClassVar[bool] = True
    # Before the tasks run (the reference's preExecuteTasks): the namespace files `namespaceFiles` selects are
    # copied into the directory, then `inputFiles` written (name -> content, or a kestra:/// URI of a file of
    # the execution; a JSON object in a string too). After them, even when one failed, the files matching the
    # `outputFiles` globs are stored; their URIs are the group's output `outputFiles` (by relative name).
    input_files: dict[str, str | None] | str = {}
    output_files: list[str] = []
    namespace_files: NamespaceFilesOptions | None = None
    cache: WorkdirCacheOptions | None = None

    # Its `finally` tasks run in the same directory, on the same worker, after its tasks (whatever their
    # outcome; none once the group is stopped), so they are runnable tasks only too.

    @model_validator(mode="after")
    def _runnable_only(self) -> WorkingDirectory:
        for where, tasks in (("a WorkingDirectory", self.tasks), ("a WorkingDirectory's `finally`", self.finally_)):
            flowables = [
                f"{t.id} ({t.type})" for t in tasks if t.kind != "runnable" or isinstance(t, ExecutionUpdatingTask)
            ]
            if flowables:
                raise ValueError(f"{self.id}: only tasks a worker runs can be in {where}, not {', '.join(flowables)}")
        return self
