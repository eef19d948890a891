"""`conveyor kill ID` and `conveyor restart ID`: control an execution by its id.

Both first read the execution's latest snapshot from the compacted `executions` topic (the executor's own
record, never behind it as Elasticsearch may be), so that what cannot be done is refused with a clear
message and exit code 2: an unknown id, killing an execution that has ended, restarting one that is not
FAILED or KILLED. Then they send `KillRequested` / `RestartRequested` to `execution-events`.

Restart: the executor forgot the execution when it ended. Its final snapshot carries the pinned flow
definition (header `conveyor.flow`); `restart` sends both inside `RestartRequested`, and the executor
rebuilds the execution's working state from them (`executor.restart`).

`--wait` follows the execution to its end and exits like `conveyor run`: 0 for SUCCESS or WARNING, 1 else
(`kill --wait` exits 0 once the execution has ended, whatever its state).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from conveyor.cli.output import console, err_console, print_json, state_text
from conveyor.cli.run import execution_table
from conveyor.common.events import FLOW_HEADER, KillRequested, RestartRequested
from conveyor.common.kafka import lookup
from conveyor.common.kafka.follow import Follower
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import StateType

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
RESTARTABLE = (StateType.FAILED, StateType.KILLED)


class ControlError(Exception):
    """The request cannot be carried out; the message says why."""


def latest_execution(kafka: KafkaSettings, execution_id: str) -> tuple[Execution, dict[str, Any] | None]:
    """The execution's latest snapshot and, once it has ended, its pinned flow definition."""
    record = lookup.latest(kafka, Topics.of(kafka).executions, execution_id)
    if record is None:
        raise ControlError(f"no execution {execution_id} on {kafka.bootstrap} (topic prefix {kafka.topic_prefix!r})")
    execution = Execution.model_validate_json(record.value)
    raw_flow = record.headers.get(FLOW_HEADER)
    return execution, json.loads(raw_flow) if raw_flow else None


def kill(kafka: KafkaSettings, execution_id: str, *, wait: bool, timeout: float, output: str) -> int:
    def request(execution: Execution, _: dict[str, Any] | None) -> bytes:
        state = execution.state.current
        if state.terminal:
            raise ControlError(f"execution {execution_id} has already ended {state.value}: there is nothing to kill")
        return KillRequested(execution_id=execution_id).to_json()

    return _control(kafka, execution_id, "kill", request, wait=wait, timeout=timeout, output=output, ok=lambda _: True)


def restart(kafka: KafkaSettings, execution_id: str, *, wait: bool, timeout: float, output: str) -> int:
    def request(execution: Execution, flow: dict[str, Any] | None) -> bytes:
        state = execution.state.current
        if state not in RESTARTABLE:
            what = "it has not ended" if not state.terminal else "it did not fail"
            raise ControlError(
                f"execution {execution_id} is {state.value} ({what}): "
                "only a FAILED or KILLED execution can be restarted"
            )
        if flow is None:
            raise ControlError(
                f"execution {execution_id}: its final snapshot carries no flow definition to restart with"
            )
        return RestartRequested(execution_id=execution_id, execution=execution, flow=flow).to_json()

    return _control(
        kafka,
        execution_id,
        "restart",
        request,
        wait=wait,
        timeout=timeout,
        output=output,
        ok=lambda e: e.state.current.value in ("SUCCESS", "WARNING"),
    )


def _control(
    kafka: KafkaSettings,
    execution_id: str,
    action: str,
    request: Callable[[Execution, dict[str, Any] | None], bytes],
    *,
    wait: bool,
    timeout: float,
    output: str,
    ok: Callable[[Execution], bool],
) -> int:
    """Look the execution up, let `request` refuse it (ControlError) or build the event, send it, and with
    `wait` follow the execution to its next end. The follower starts before the event is sent, so the end
    cannot be missed."""
    follower = Follower(kafka, [Topics.of(kafka).executions]) if wait else None
    try:
        try:
            execution, flow = latest_execution(kafka, execution_id)
            event = request(execution, flow)
        except ControlError as exc:
            return _refuse(str(exc))
        _send(kafka, execution_id, event)
        state = execution.state.current.value
        err_console.print(f"{action} of execution [bold]{execution_id}[/bold] requested (it was {state_text(state)})")
        if follower is None:
            return EXIT_OK
        final = _until_ended(follower, execution_id, execution.revision, timeout)
    finally:
        if follower is not None:
            follower.close()
    return _report(final, execution_id, timeout, output, ok=ok)


def _refuse(message: str) -> int:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return EXIT_INVALID


def _send(kafka: KafkaSettings, execution_id: str, value: bytes) -> None:
    producer = Producer(kafka)
    producer.send(Topics.of(kafka).execution_events, execution_id, value)
    producer.flush(30)


def _until_ended(follower: Follower, execution_id: str, after_revision: int, timeout: float) -> Execution | None:
    """The first ended snapshot newer than `after_revision`, None if none came within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    wanted = execution_id.encode()
    while time.monotonic() < deadline:
        for msg in follower.poll(0.2):
            value = msg.value()
            if msg.key() != wanted or value is None:
                continue
            snapshot = Execution.model_validate_json(value)
            if snapshot.revision > after_revision and snapshot.state.terminal:
                return snapshot
    return None


def _report(
    final: Execution | None, execution_id: str, timeout: float, output: str, ok: Callable[[Execution], bool]
) -> int:
    if final is None:
        err_console.print(f"[red]execution {execution_id} did not end within {timeout:.0f}s[/red]")
        return EXIT_FAILED
    if output == "json":
        print_json(final.to_dict())
    else:
        console.print(execution_table(final))
        console.print(f"execution {final.id} {state_text(final.state.current.value)}")
    return EXIT_OK if ok(final) else EXIT_FAILED
