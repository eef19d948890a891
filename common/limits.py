"""Bounds that keep every Kafka record small whatever the size of an execution.

No record Conveyor writes grows with the number of task runs of an execution: the executor's state is
one record per task run plus a small header, a worker job carries only the outputs its task reads, the
`executions` topic carries the header. What a single task run brings (its outputs, the outputs a job
reads) is bounded by `MAX_RECORD_BYTES`: beyond it the task run fails with a message saying so (storage
for large outputs, referenced by URI, comes with internal storage).
"""

from __future__ import annotations

# The largest record a task run may cause: a worker job, a task result, a task run's state.
MAX_RECORD_BYTES = 100_000
