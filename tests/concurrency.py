"""What the concurrency tests check from the recorded dates of executions (integration and e2e alike)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from conveyor.common.model import Execution
from conveyor.common.state import StateType

S = StateType


def first(execution: Execution, state: StateType) -> datetime | None:
    return next((h.date for h in execution.state.histories if h.state == state), None)


def most_at_once(executions: Iterable[Execution]) -> int:
    """The most executions that held a slot at one moment: each from its RUNNING date to its end date."""
    edges: list[tuple[datetime, int]] = []
    for execution in executions:
        began, ended = first(execution, S.RUNNING), execution.state.end_date
        if began is None:
            continue
        assert ended is not None, f"execution {execution.id} did not end"
        edges += [(began, 1), (ended, -1)]
    most = running = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # an end before a start at one instant
        running += step
        most = max(most, running)
    return most


def out_of_order(executions: Iterable[Execution]) -> list[tuple[str, str]]:
    """Pairs (a, b) of queued executions where a was queued before b but b started before a."""
    queued = sorted(
        ((first(e, S.QUEUED), first(e, S.RUNNING), e.id) for e in executions if first(e, S.QUEUED) is not None),
        key=lambda item: (item[0], item[1] or item[0]),
    )
    wrong = []
    latest: tuple[datetime, str] | None = None
    for queued_at, began, execution_id in queued:
        assert began is not None, f"queued execution {execution_id} never started"
        if latest is not None and began < latest[0]:
            wrong.append((latest[1], execution_id))
        if latest is None or began > latest[0]:
            latest = (began, execution_id)
        del queued_at
    return wrong
