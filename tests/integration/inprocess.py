"""What the integration tests share: services in threads of the test process, executions of one small
flow submitted to Kafka, and the newest record of each key of a topic read back."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from conveyor.common.kafka.consumer import Consumer
from conveyor.common.kafka.executions import ExecutionReader
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings

T = TypeVar("T")

FLOW = load_flow("""
id: nap
namespace: conveyor.tests
tasks:
  - {id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.2S}
  - {id: done, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.id }}"}
""")


class Service(Protocol):
    def run(self, stop: threading.Event) -> None: ...


class Assigned(Service, Protocol):
    ready: threading.Event  # set once the service's consumer got its partitions


class InThreads:
    """Each service runs in its own thread until `close()`; whatever one of them raised is in `failures`."""

    def __init__(self, services: Iterable[Service]) -> None:
        self.stop = threading.Event()
        self.failures: list[BaseException] = []
        self._threads = [threading.Thread(target=self._run, args=(s,), daemon=True) for s in services]
        for thread in self._threads:
            thread.start()

    def _run(self, service: Service) -> None:
        try:
            service.run(self.stop)
        except BaseException as exc:  # surfaced by the test
            self.failures.append(exc)

    def close(self, timeout: float = 60.0) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout)

    @property
    def stuck(self) -> list[threading.Thread]:
        """The threads still running (after `close()`: those whose service did not stop)."""
        return [thread for thread in self._threads if thread.is_alive()]


A = TypeVar("A", bound=Assigned)


@contextmanager
def serving(service: A, ready_timeout: float = 30.0) -> Iterator[A]:
    """`service` in a thread of its own, with its partitions assigned, for the `with` block; stopped when the
    block ends, which then asserts that it stopped and raised nothing."""
    threads = InThreads([service])
    try:
        assert service.ready.wait(ready_timeout), f"the {type(service).__name__} got no partitions"
        yield service
    finally:
        threads.close(30.0)
    assert not threads.stuck, f"the {type(service).__name__} did not stop"
    assert not threads.failures, threads.failures


def submit(settings: KafkaSettings, count: int) -> list[str]:
    """Create `count` executions of `FLOW`; returns their ids."""
    producer = Producer(settings)
    ids = []
    for _ in range(count):
        created = new_execution(FLOW)
        producer.send(Topics.of(settings).execution_events, created.execution_id, created.to_json())
        ids.append(created.execution_id)
    producer.flush()
    return ids


def newest(
    settings: KafkaSettings,
    topic: str,
    parse: Callable[[bytes], T],
    done: Callable[[dict[str, T]], bool],
    timeout: float,
) -> dict[str, T]:
    """The newest value of each key of `topic`, read from its start until `done(values)` or `timeout`."""
    consumer = Consumer(settings, f"test-newest-{uuid.uuid4().hex[:8]}", [topic])
    latest: dict[str, T] = {}
    deadline = time.monotonic() + timeout
    try:
        while not done(latest) and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                key, value = msg.key, msg.value
                if key is not None and value is not None:
                    latest[key.decode() if isinstance(key, bytes) else key] = parse(value)
    finally:
        consumer.close()
    return latest


def ended(settings: KafkaSettings, ids: list[str], timeout: float = 150.0) -> dict[str, Execution]:
    """Each execution of `ids` with its task runs (from `executions` and `taskruns`), once all ended (or
    what there is at `timeout`)."""
    reader = ExecutionReader(settings, set(ids))
    try:
        return reader.ended(ids, timeout)
    finally:
        reader.close()
