"""Retry policies (`retry:` on a task, a flowable or the flow) and the delay before each new attempt."""

from __future__ import annotations

from datetime import datetime, timedelta
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

    def next_delay(self, tries: int, rand: Random, now: datetime, first_start: datetime) -> timedelta | None:
        """The wait before the next try after `tries` of them, or None when none is left: `maxAttempt`
        reached, or the next try would start past `maxDuration` from the first one's start."""
        delay = self.delay(tries, rand)
        if self.max_attempt is not None and tries >= self.max_attempt:
            return None
        if self.max_duration is not None and now + delay - first_start > self.max_duration:
            return None
        return delay


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
