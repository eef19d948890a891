"""States of executions, task runs and attempts, and the one table of legal transitions.

The states and their meaning are the reference's (Kestra's documentation of executions, states and
task runs; summarised in docs/architecture.md). An illegal transition is a bug: `State.to` raises
`IllegalTransition`, it never silently applies it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import computed_field

from conveyor.common.base import Model
from conveyor.common.clock import iso_duration


class StateType(StrEnum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    RETRYING = "RETRYING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    RETRIED = "RETRIED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def failed(self) -> bool:
        return self in (StateType.FAILED, StateType.KILLED)


S = StateType
TERMINAL = frozenset({S.SUCCESS, S.WARNING, S.FAILED, S.KILLED, S.RETRIED, S.CANCELLED, S.SKIPPED})
# What a restart brings back: an execution (and the task runs in it) that ended FAILED or KILLED.
RESTARTABLE = frozenset({S.FAILED, S.KILLED})

# state -> the states it may move to. Terminal states move only through an explicit restart, retry, replay or a
# change of state by hand (`conveyor change-state`: to SUCCESS, WARNING or FAILED, see `CHANGEABLE`).
TRANSITIONS: dict[StateType, frozenset[StateType]] = {
    S.CREATED: frozenset(
        {S.QUEUED, S.RUNNING, S.KILLING, S.KILLED, S.FAILED, S.SUCCESS, S.WARNING, S.SKIPPED, S.CANCELLED}
    ),
    S.QUEUED: frozenset({S.CREATED, S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED}),
    S.RUNNING: frozenset({S.SUCCESS, S.WARNING, S.FAILED, S.KILLING, S.KILLED, S.RETRYING, S.PAUSED, S.CANCELLED}),
    S.PAUSED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.FAILED, S.WARNING, S.CANCELLED}),
    S.RETRYING: frozenset({S.RUNNING, S.CREATED, S.KILLING, S.KILLED, S.FAILED, S.RETRIED}),
    # QUEUED, CANCELLED: a restart (or a replay) of a flow with `concurrency` waits for a slot, or is refused one.
    S.RESTARTED: frozenset(
        {S.CREATED, S.QUEUED, S.RUNNING, S.KILLING, S.KILLED, S.FAILED, S.SUCCESS, S.WARNING, S.CANCELLED}
    ),
    S.KILLING: frozenset({S.KILLED}),
    S.FAILED: frozenset({S.RESTARTED, S.RETRIED, S.RETRYING}),
    S.KILLED: frozenset({S.RESTARTED}),
    S.WARNING: frozenset({S.RESTARTED}),
    S.SUCCESS: frozenset({S.RESTARTED}),  # a replay of a run under it
    S.RETRIED: frozenset(),
    S.CANCELLED: frozenset(),
    S.SKIPPED: frozenset(),
}
# The states `conveyor change-state` sets by hand (on a task run, or on an ended execution), as the reference
# allows, and the states such a change may start from (`State.changed_to`); outside the table above on purpose.
CHANGEABLE = frozenset({S.SUCCESS, S.WARNING, S.FAILED})
CHANGEABLE_FROM = frozenset(StateType) - {S.RETRIED, S.CANCELLED, S.SKIPPED, S.KILLING}


class IllegalTransition(RuntimeError):
    def __init__(self, current: StateType, target: StateType) -> None:
        super().__init__(f"illegal state transition {current} -> {target}")
        self.current = current
        self.target = target


class StateHistory(Model):
    state: StateType
    date: datetime


class State(Model):
    current: StateType = S.CREATED
    histories: list[StateHistory] = []

    @classmethod
    def new(cls, now: datetime, current: StateType = S.CREATED) -> State:
        return cls(current=current, histories=[StateHistory(state=current, date=now)])

    def to(self, target: StateType, now: datetime) -> State:
        """The state after moving to `target`; raises `IllegalTransition` when the table forbids it."""
        if target not in TRANSITIONS[self.current]:
            raise IllegalTransition(self.current, target)
        return State(current=target, histories=[*self.histories, StateHistory(state=target, date=now)])

    def changed_to(self, target: StateType, now: datetime) -> State:
        """The state after a change by hand (`conveyor change-state`) to SUCCESS, WARNING or FAILED."""
        if target not in CHANGEABLE or self.current not in CHANGEABLE_FROM or target == self.current:
            raise IllegalTransition(self.current, target)
        return State(current=target, histories=[*self.histories, StateHistory(state=target, date=now)])

    @property
    def terminal(self) -> bool:
        return self.current.terminal

    @computed_field  # type: ignore[prop-decorator]
    @property
    def start_date(self) -> datetime | None:
        return self.histories[0].date if self.histories else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end_date(self) -> datetime | None:
        return self.histories[-1].date if self.histories and self.terminal else None

    @property
    def elapsed(self) -> timedelta | None:
        if not self.histories:
            return None
        return self.histories[-1].date - self.histories[0].date

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration(self) -> str | None:
        elapsed = self.elapsed
        return iso_duration(elapsed) if elapsed is not None else None
