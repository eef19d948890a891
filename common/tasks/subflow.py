"""The tasks that start other executions: Subflow (one child) and ForEachItem (one child per batch of a file's
lines). The executor decides them (`executor.subflows`): it creates the children as `ExecutionCreated` events
and learns of their end from `SubflowEnded` events. ForEachItem's file work (the split of `items`, the merge
of the children's outputs) runs as worker jobs of its own task run (`on_worker`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from conveyor.common.base import Spec
from conveyor.common.labels import labels_map
from conveyor.common.tasks.base import FlowableTask, Task

if TYPE_CHECKING:
    AnyTask = Task

SUBFLOW_TYPES = (
    "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.core.tasks.flows.Subflow",
    "io.kestra.core.tasks.flows.Flow",
)
FOREACHITEM_TYPES = ("io.kestra.plugin.core.flow.ForEachItem", "io.kestra.core.tasks.flows.ForEachItem")


class _Starts(FlowableTask):
    """What both tasks share: the flow they start, its inputs and labels, and whether they wait for it."""

    namespace: str
    flow_id: str
    inputs: dict[str, Any] = {}
    labels: dict[str, str] = {}
    wait: bool = True
    transmit_failed: bool = True
    inherit_labels: bool = False

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return labels_map(value)


class Subflow(_Starts):
    """Starts one execution of `namespace`.`flowId` (at `revision`, else the latest deployed one). With `wait`,
    ends with the child (its outputs: `executionId`, `state` and the child's flow `outputs`); with
    `transmitFailed`, a FAILED/KILLED/WARNING child makes it end that way, else it ends SUCCESS."""

    type_names: ClassVar[tuple[str, ...]] = SUBFLOW_TYPES
    # Its restart job: on a restart of the parent, a worker restarts the failed child (`worker.runners.subflow`).
    on_worker: ClassVar[bool] = True
    revision: int | None = Field(default=None, ge=1)
    # The reference's: on a restart of the parent, RETRY_FAILED (its default) restarts the failed child
    # execution itself (a worker job reads its snapshot back and sends its restart), NEW_EXECUTION starts a new
    # one (`executor.subflows.restarted`).
    restart_behavior: str = Field(default="RETRY_FAILED", pattern="^(RETRY_FAILED|NEW_EXECUTION)$")
    # The reference's deprecated task `outputs` (rendered against the child); accepted, not used.
    outputs: dict[str, Any] | None = None
    schedule_date: str | None = None


class Batch(Spec):
    """How ForEachItem cuts its file, as the reference: a new batch once one holds `bytes` (`10MB`, `200KB` or
    a number), else `partitions` batches (lines dealt round-robin), else `rows` lines per batch (default 1).
    Each may be an expression."""

    rows: int | str = 1
    bytes: str | int | None = None
    partitions: int | str | None = None
    separator: str = "\n"


class ForEachItem(_Starts):
    """Cuts the file at `items` (a `kestra:///` URI of lines) into batches, each written to the storage, and
    starts one execution of `namespace`.`flowId` per batch, with `{{ taskrun.items }}` the batch's URI and
    `{{ taskrun.iteration }}` its number (1-based) in the rendering of `inputs`."""

    type_names: ClassVar[tuple[str, ...]] = FOREACHITEM_TYPES
    on_worker: ClassVar[bool] = True  # its split and merge jobs (a worker renders `items` and `batch`)
    items: str
    batch: Batch = Batch()
    revision: int | None = Field(default=None, ge=1)
    # On a restart of the parent: RETRY_FAILED (the reference's default) and FAILED_ITEMS restart the failed
    # batches' child executions themselves (a worker job), NEW_EXECUTION and ALL_ITEMS start a new child for every
    # batch (`executor.items.restarted`).
    restart_behavior: str = Field(
        default="RETRY_FAILED", pattern="^(RETRY_FAILED|NEW_EXECUTION|ALL_ITEMS|FAILED_ITEMS)$"
    )
    # The reference's `finally`: tasks run whatever the outcome, after its children and merge ended, once per
    # run of the task; the worse state wins (`executor.flowables.step`).
    finally_: list[AnyTask] = Field(default=[], alias="finally")

    def finally_tasks(self) -> list[Task]:
        return list(self.finally_)


# The stage of a ForEachItem task run, in its outputs (`phase`) while a worker job of it runs: the split of
# `items` into batches, then, once every child ended, the merge of their outputs (`conveyor.worker.items`).
PHASE = "phase"
SPLIT, MERGE, MERGED = "split", "merge", "merged"
# A Subflow's, while a worker restarts its failed child (RETRY_FAILED on a restart of the parent): the job's
# answer is `restarted`, or `refused` with a `reason` (the child cannot be restarted: a new child starts).
RESTART, RESTARTED, REFUSED = "restart", "restarted", "refused"
# A ForEachItem's, on a restart of its parent (RETRY_FAILED, FAILED_ITEMS): the job (`phase: restart`) restarts
# the children of the batches in `restartBatches` (ranges); it answers `phase: restarted` with the batches whose
# child could not be restarted (`refusedBatches`, ranges; null: too many, nothing was sent). `childRun` is the
# generation of the split's children, `replaced` the batches whose child is of another (`common.batches`).
RESTART_BATCHES, REFUSED_BATCHES, CHILD_RUN, REPLACED = "restartBatches", "refusedBatches", "childRun", "replaced"
