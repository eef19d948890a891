"""Retry policies (`retry:` on a task, a flowable or the flow) and the delay before each new attempt."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from random import Random
from typing import Annotated, Literal

from pydantic import Field

from conveyor.common.base import Spec
from conveyor.common.clock import Duration


class RetryBehavior(StrEnum):
    RETRY_FAILED_TASK = "RETRY_FAILED_TASK"
    CREATE_NEW_EXECUTION = "CREATE_NEW_EXECUTION"


class _Retry(Spec):
    max_attempt: int | None = Field(default=None, ge=1)
    max_duration: Duration | None = None
    warning_on_retry: bool = False
    behavior: RetryBehavior = RetryBehavior.RETRY_FAILED_TASK

    def delay(self, attempts_done: int, rand: Random) -> timedelta:  # pragma: no cover - overridden
        raise NotImplementedError


class ConstantRetry(_Retry):
    type: Literal["constant"]
    interval: Duration

    def delay(self, attempts_done: int, rand: Random) -> timedelta:
        return self.interval


class ExponentialRetry(_Retry):
    type: Literal["exponential"]
    interval: Duration
    max_interval: Duration
    delay_factor: float = 2.0

    def delay(self, attempts_done: int, rand: Random) -> timedelta:
        grown = self.interval * (self.delay_factor ** max(attempts_done - 1, 0))
        return min(grown, self.max_interval)


class RandomRetry(_Retry):
    type: Literal["random"]
    min_interval: Duration
    max_interval: Duration

    def delay(self, attempts_done: int, rand: Random) -> timedelta:
        low, high = self.min_interval.total_seconds(), self.max_interval.total_seconds()
        return timedelta(seconds=rand.uniform(low, high))


Retry = Annotated[ConstantRetry | ExponentialRetry | RandomRetry, Field(discriminator="type")]
