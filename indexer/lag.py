"""Per-partition consumer lag, read from librdkafka's statistics.

The consumer is given `statistics.interval.ms` and `stats_cb=Lag.update`; librdkafka then reports,
every interval and from inside `consume`, each partition's end offset and the group's committed
offset. Lag is what the indexer has not yet committed: the end offset (the last stable offset under
`read_committed`) minus the committed offset, or minus the log start when nothing was committed yet.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from conveyor.common.metrics import partition_lag

log = logging.getLogger(__name__)

Partition = tuple[str, int]


class Lag:
    def __init__(self) -> None:
        self._lag: dict[Partition, int] = {}

    def update(self, stats: str) -> None:
        """librdkafka's `stats_cb`: never raises (an exception there would surface inside `consume`)."""
        try:
            self._lag = parse(json.loads(stats))
        except (ValueError, TypeError, AttributeError) as exc:
            log.debug("unreadable consumer statistics: %s", exc)

    def snapshot(self) -> dict[Partition, int]:
        # Replaced whole by `update`, so a reader on another thread always sees one consistent report.
        return dict(self._lag)

    def total(self) -> int:
        return sum(self._lag.values())


def parse(stats: dict[str, Any]) -> dict[Partition, int]:
    """(topic, partition) -> messages not yet committed, for the partitions this consumer holds."""
    return partition_lag(stats, positions=("committed_offset",))


def describe(lag: dict[Partition, int]) -> str:
    """`conveyor.taskruns[0]=12 conveyor.logs[1]=3` for the partitions that are behind."""
    behind = [f"{t}[{p}]={n}" for (t, p), n in sorted(lag.items()) if n]
    return " ".join(behind) or "none"
