"""Reading whole executions from Kafka: the `executions` headers and the `taskruns` changes of a group
consumer, read from the beginning and assembled (`common.assemble`). For tests, benchmarks and tools that
wait for executions to end; `conveyor run` follows the same topics from their end."""

from __future__ import annotations

import time
import uuid

from conveyor.common.assemble import Assembler
from conveyor.common.kafka import names
from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings


class ExecutionReader:
    def __init__(self, settings: KafkaSettings, wanted: set[str] | None = None) -> None:
        self.topics = Topics.of(settings)
        self.assembler = Assembler(wanted)
        self._consumer = Consumer(
            settings,
            names.READER.id(settings.topic_prefix, uuid.uuid4().hex[:12]),
            [self.topics.executions, self.topics.taskruns],
        )

    def poll(self, timeout: float = 0.5) -> set[str]:
        """Read what arrived; the ids of the executions it changed."""
        touched: set[str] = set()
        for msg in self._consumer.consume(1000, timeout):
            value = msg.value
            if value is None:
                continue
            if msg.topic == self.topics.executions:
                touched.add(self.assembler.header(value).id)
            else:
                execution_id = self.assembler.task_run(value)
                if execution_id is not None:
                    touched.add(execution_id)
        return touched

    def execution(self, execution_id: str) -> Execution | None:
        return self.assembler.execution(execution_id)

    def ended(self, ids: list[str], timeout: float) -> dict[str, Execution]:
        """The executions of `ids` once all ended with all their task runs (or what is there at `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(self.assembler.complete(i) for i in ids):
            self.poll()
        found = {i: self.assembler.execution(i) for i in ids}
        return {i: e for i, e in found.items() if e is not None}

    def close(self) -> None:
        self._consumer.close()
