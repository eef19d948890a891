"""Topics follow the cluster: replication 3 and min.insync.replicas 2 on three brokers, 1 and 1 on one,
unless the settings say otherwise."""

from __future__ import annotations

from conveyor.common.kafka.replication import Replication, replication_for
from conveyor.common.settings import KafkaSettings


def test_unset_replication_follows_the_cluster() -> None:
    settings = KafkaSettings(bootstrap="x:1")
    assert replication_for(settings, 1) == Replication(1, 1)
    assert replication_for(settings, 2) == Replication(1, 1)
    assert replication_for(settings, 3) == Replication(3, 2)
    assert replication_for(settings, 5) == Replication(3, 2)


def test_settings_win_and_min_insync_never_exceeds_the_replicas() -> None:
    assert replication_for(KafkaSettings(bootstrap="x:1", replication_factor=2), 3) == Replication(2, 1)
    assert replication_for(KafkaSettings(bootstrap="x:1", min_insync_replicas=3), 3) == Replication(3, 3)
    assert replication_for(KafkaSettings(bootstrap="x:1", replication_factor=1, min_insync_replicas=2), 3) == (
        Replication(1, 1)
    )
