"""`conveyor kill|restart|pause|resume|replay|change-state ID`: control an execution by its id.

The look-up, the refusals and the request are `common.control`'s, shared with the HTTP API; what cannot be
done (an unknown id, killing an execution that has ended, restarting one that is not FAILED or KILLED) is
refused with its message and exit code 2.

`--wait` follows the execution to its end and exits like `conveyor run`: 0 for SUCCESS or WARNING, 1 else
(`kill --wait` exits 0 once the execution has ended, whatever its state).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from conveyor.cli.output import console, err_console, print_json, state_text
from conveyor.cli.run import execution_table
from conveyor.common import control
from conveyor.common.assemble import Assembler
from conveyor.common.control import Action, BadRequest, ControlError, Params
from conveyor.common.kafka.follow import Follower
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.model import Execution
from conveyor.common.settings import KafkaSettings

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
# How long `conveyor kill` waits for the executor to apply the kill (or to tell it came too late).
KILL_WAIT = 10.0


def kill(kafka: KafkaSettings, execution_id: str, *, wait: bool, timeout: float, output: str) -> int:
    return _control(kafka, execution_id, Action.KILL, wait=wait, timeout=timeout, output=output, ok=lambda _: True)


def restart(kafka: KafkaSettings, execution_id: str, *, wait: bool, timeout: float, output: str) -> int:
    return _control(
        kafka,
        execution_id,
        Action.RESTART,
        wait=wait,
        timeout=timeout,
        output=output,
        ok=lambda e: e.state.current.value in ("SUCCESS", "WARNING"),
    )


def steer(
    kafka: KafkaSettings, execution_id: str, action: Action, params: Params, *, wait: bool, timeout: float, output: str
) -> int:
    """pause, resume, replay, change-state; `--wait` follows the execution (a replay: the new one) to its end."""
    return _control(
        kafka,
        execution_id,
        action,
        wait=wait,
        timeout=timeout,
        output=output,
        ok=lambda e: e.state.current.value in ("SUCCESS", "WARNING"),
        params=params,
    )


def _control(
    kafka: KafkaSettings,
    execution_id: str,
    action: Action,
    *,
    wait: bool,
    timeout: float,
    output: str,
    ok: Callable[[Execution], bool],
    params: Params | None = None,
) -> int:
    """Request `action` (or print why not), and with `wait` follow the execution to its next end. The
    follower starts before the request is sent, so the end cannot be missed."""
    follower = Follower(kafka, [Topics.of(kafka).executions]) if wait else None
    try:
        try:
            found = control.request(kafka, Producer(kafka), action, execution_id, params=params)
            execution = found.execution
            state = execution.state.current.value
            err_console.print(
                f"{action} of execution [bold]{execution_id}[/bold] requested (it was {state_text(state)})"
            )
            if found.replay_id is not None:
                err_console.print(f"replay: new execution [bold]{found.replay_id}[/bold]")
                if follower is None:  # with --wait, stdout is the new execution as it ends
                    print(found.replay_id)
            if action == Action.KILL:
                control.check_kill(found, _applied(kafka, found))
        except BadRequest as exc:
            return _refuse(f"{exc.field}: {exc}")
        except ControlError as exc:
            return _refuse(str(exc))
        if follower is None:
            return EXIT_OK
        followed, after = (found.replay_id, -1) if found.replay_id else (execution_id, execution.revision)
        final = _until_ended(follower, followed, after, timeout)
        execution_id = followed
    finally:
        if follower is not None:
            follower.close()
    if final is not None:
        final = _whole(kafka, final)
    return _report(final, execution_id, timeout, output, ok=ok)


def _applied(kafka: KafkaSettings, found: control.Found) -> Execution | None:
    after = control.outcome(kafka, found, timeout=KILL_WAIT)
    if after is None:
        err_console.print(f"[yellow]the executor has not applied it within {KILL_WAIT:.0f}s[/yellow]")
    elif not after.state.terminal or after.state.current.value == "KILLED":
        err_console.print(f"execution {found.execution.id} is {state_text(after.state.current.value)}")
    return after


def _whole(kafka: KafkaSettings, header: Execution) -> Execution:
    """The ended execution with its task runs (read from `taskruns`)."""
    parts = Assembler({header.id})
    parts.header(header.to_json())
    for raw in control.task_runs(kafka, header.id):
        parts.task_run(raw)
    return parts.execution(header.id) or header


def _refuse(message: str) -> int:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return EXIT_INVALID


def _until_ended(follower: Follower, execution_id: str, after_revision: int, timeout: float) -> Execution | None:
    """The first ended snapshot newer than `after_revision`, None if none came within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    wanted = execution_id.encode()
    while time.monotonic() < deadline:
        for msg in follower.poll(0.2):
            value = msg.value
            if msg.key != wanted or value is None:
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
