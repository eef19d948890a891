"""How many replicas Conveyor's topics get, and how many must be in sync for a write to be acknowledged.

Unset (`CONVEYOR_KAFKA_REPLICATION_FACTOR`, `CONVEYOR_KAFKA_MIN_INSYNC_REPLICAS`), they follow the cluster:
3 replicas and `min.insync.replicas` 2 on three brokers or more, so one broker lost loses no write the
producers (`acks=all`, idempotent) saw acknowledged and stops nothing; 1 and 1 on a single broker.
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.common.settings import KafkaSettings

CLUSTER_REPLICAS = 3
CLUSTER_MIN_INSYNC = 2


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int


def replication_for(settings: KafkaSettings, brokers: int) -> Replication:
    """The replication of new topics on a cluster of `brokers` brokers."""
    factor = settings.replication_factor or (CLUSTER_REPLICAS if brokers >= CLUSTER_REPLICAS else 1)
    min_insync = settings.min_insync_replicas or (CLUSTER_MIN_INSYNC if factor >= CLUSTER_REPLICAS else 1)
    return Replication(factor, min(min_insync, factor))
