"""Errors of the worker.

WorkerError (ConveyorError)
└── TaskError            the attempt cannot go on: reported FAILED with this message (runners may raise it)
    ├── UnknownTaskType  no task class, or no runner, for the job's `type`
    └── InvalidTask      the job's task definition does not validate against its task class

Nothing a task does stops the worker: `TaskError`, `RenderError` and any other exception from a runner
become a FAILED attempt. Kafka failures (`conveyor.common.kafka.errors.KafkaError`) do stop it; the jobs
whose offsets were not committed then run again on another worker (at-least-once).
"""

from __future__ import annotations

from conveyor.common.errors import ConveyorError


class WorkerError(ConveyorError):
    """Base of the worker's own errors."""


class TaskError(WorkerError):
    """An attempt failed for a reason its message states in full (no traceback is logged)."""


class UnknownTaskType(TaskError):
    pass


class InvalidTask(TaskError):
    pass
