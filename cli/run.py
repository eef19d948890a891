"""`conveyor run FLOW.yaml`: submit an execution, show its progress live, print its task runs and outputs."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.live import Live

from conveyor.cli.files import upload_inputs
from conveyor.cli.output import console, duration_text, err_console, print_json, short, state_text, table
from conveyor.common import input_secrets
from conveyor.common.assemble import Assembler
from conveyor.common.events import LogEntry
from conveyor.common.ids import new_id
from conveyor.common.kafka.follow import Follower
from conveyor.common.kafka.lookup import task_runs
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow_file
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import StateType

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNAVAILABLE = 0, 1, 2, 3


def parse_input_args(pairs: list[str], option: str = "--input", shape: str = "NAME=VALUE") -> dict[str, str]:
    inputs = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"{option} expects {shape}, got {pair!r}")
        inputs[name] = value
    return inputs


def parse_label_args(pairs: list[str]) -> dict[str, str]:
    """`--label KEY=VALUE` (repeatable; a later one wins); a `system.` key is the system's own."""
    labels = parse_input_args(pairs, "--label", "KEY=VALUE")
    reserved = [key for key in labels if key.startswith("system.")]
    if reserved:
        raise ValueError(f"--label {reserved[0]}: labels starting with 'system.' are set by the system")
    return labels


def parse_inputs_json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--inputs-json expects a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"--inputs-json expects a JSON object, got {type(value).__name__}")
    return value


def run(
    path: str,
    inputs: list[str],
    output: str,
    timeout: float,
    kafka: KafkaSettings,
    *,
    inputs_json: str | None = None,
    raw_inputs: bool = False,
    labels: list[str] | None = None,
) -> int:
    final = submit_and_wait(
        path,
        inputs,
        kafka,
        timeout,
        quiet=output == "json",
        inputs_json=inputs_json,
        raw_inputs=raw_inputs,
        labels=parse_label_args(labels or []),
    )
    if final is None:
        return EXIT_FAILED
    if output == "json":
        print_json(input_secrets.mask_execution(final.to_dict()))
    else:
        console.print(execution_table(final))
        if final.outputs:
            console.print("[bold]outputs[/bold]")
            print_json(input_secrets.mask(final.outputs))
        console.print(
            f"execution {final.id} {state_text(final.state.current.value)} in {duration_text(final.state.elapsed)}"
        )
    return EXIT_OK if final.state.current.value in ("SUCCESS", "WARNING") else EXIT_FAILED


def submit_and_wait(
    path: str,
    inputs: list[str],
    kafka: KafkaSettings,
    timeout: float,
    quiet: bool = False,
    *,
    inputs_json: str | None = None,
    raw_inputs: bool = False,
    labels: dict[str, str] | None = None,
) -> Execution | None:
    """Submit an execution of the flow file and follow it to its end (None if it did not end in time).

    `inputs_json` (a JSON object) gives inputs as JSON values, `inputs` (NAME=VALUE) win over it; with
    `raw_inputs` they are passed through unchecked and untyped, as the reference's own tests do."""
    flow = load_flow_file(path)  # FlowError -> exit 2 in main
    given = {**parse_inputs_json(inputs_json), **parse_input_args(inputs)}
    execution_id = new_id()  # drawn first: a FILE input's `@path` is uploaded under the execution's URI
    given = upload_inputs(flow, given, execution_id)
    created = new_execution(
        flow, given, labels=labels, typed=not raw_inputs, execution_id=execution_id
    )  # InputError -> exit 2
    topics = Topics.of(kafka)
    follower = Follower(kafka, [topics.executions, topics.taskruns, topics.logs])
    producer = Producer(kafka)
    try:
        # Sent once, by an idempotent producer (its own retries are deduplicated by the broker); the execution
        # id and the event id are drawn here, before the send, so a creation that still arrived twice would be
        # one execution: the executor ignores a known event id and a creation of a running or ended execution.
        producer.send(topics.execution_events, execution_id, created.to_json())
        producer.flush(30)
        if not quiet:
            err_console.print(f"execution [bold]{execution_id}[/bold] of {flow.namespace}.{flow.id} submitted")
        final = _follow(kafka, follower, execution_id, timeout, live=not quiet and console.is_terminal)
    finally:
        follower.close()
    if final is None:
        err_console.print(f"[red]execution {execution_id} did not finish within {timeout:g} s[/red]")
    return final


def _follow(
    kafka: KafkaSettings, follower: Follower, execution_id: str, timeout: float, live: bool
) -> Execution | None:
    """The execution, assembled from its headers and task runs, until it ends. A flow retried with
    CREATE_NEW_EXECUTION ends RETRIED and a new execution (same `originalId`, next `attemptNumber`) takes
    over: follow it, to the last one."""
    deadline = time.monotonic() + timeout
    current = execution_id
    parts = Assembler({execution_id})
    latest: Execution | None = None
    with Live(console=console, auto_refresh=False, transient=True) if live else _NoLive() as view:
        while time.monotonic() < deadline:
            changed = False
            for msg in follower.poll(0.2):
                topic, value = msg.topic, msg.value
                if value is None:
                    continue
                if topic.endswith("logs"):
                    _print_log(value, current, live)
                elif topic.endswith("taskruns"):
                    changed = parts.task_run(value) == current or changed
                else:
                    changed = parts.header(value).id == current or changed
                    successor = _successor(kafka, parts, current)
                    if successor is not None:
                        current, changed = successor, True
            if changed:
                latest = parts.execution(current)
                if latest is not None:
                    view.update(execution_table(latest), refresh=True)
            if latest is not None and latest.state.current != StateType.RETRIED and parts.complete(current):
                return parts.execution(current)
    return None


def _successor(kafka: KafkaSettings, parts: Assembler, current: str) -> str | None:
    """The execution that retries `current` once it has ended RETRIED and the next one is seen (then followed
    from its task runs so far)."""
    retried = parts.header_of(current)
    if retried is None or retried.state.current != StateType.RETRIED:
        return None
    successor = parts.successor(retried)
    if successor is not None:
        err_console.print(f"retried as execution [bold]{successor}[/bold]")
        parts.want(successor, task_runs(kafka, Topics.of(kafka).taskruns, successor))
    return successor


def _print_log(raw: bytes | None, execution_id: str, live: bool) -> None:
    if not live or raw is None:
        return
    entry = LogEntry.model_validate_json(raw)
    if entry.execution_id == execution_id:
        console.print(f"[dim]{entry.timestamp:%H:%M:%S}[/dim] {entry.level.value:5} {entry.task_id}: {entry.message}")


class _NoLive:
    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *_: Any) -> None:
        return None

    def update(self, *_: Any, **__: Any) -> None:
        return None


def execution_table(execution: Execution) -> Any:
    depth: dict[str, int] = {}
    rows = []
    for run in execution.task_run_list:
        level = depth[run.parent_task_run_id] + 1 if run.parent_task_run_id in depth else 0
        depth[run.id] = level
        rows.append(
            [
                "  " * level + run.task_id,
                run.value or "",
                state_text(run.state.current.value),
                str(len(run.attempts)),
                duration_text(run.state.elapsed),
                short(run.outputs),
            ]
        )
    title = f"{execution.namespace}.{execution.flow_id} {execution.id} {state_text(execution.state.current.value)}"
    return table(title, ["task", "value", "state", "attempts", "duration", "outputs"], rows)
