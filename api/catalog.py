"""Deployed flows, kept on the compacted `flows` topic (key `namespace/id`, value a `DeployedFlow`).

The topic is the only store: every server reads it into memory and catches up before each lookup
(`TopicTable`), so a flow deployed through any server can be executed through any other, and a
restarted server loses nothing. Deploying a changed source gives the next revision; deploying the same
source again changes nothing. Two servers deploying the same flow at the same instant may both pick
the same revision: the later message wins on the topic (last writer wins, like the reference's
unguarded update).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pydantic import ValidationError

from conveyor.common.clock import utcnow
from conveyor.common.deployed import DeployedFlow, flow_key
from conveyor.common.flow import Flow
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.loader import load_flow
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)


class FlowCatalog:
    def __init__(self, kafka: KafkaSettings, producer: Producer) -> None:
        self._topic = Topics.of(kafka).flows
        self._table = TopicTable(kafka, self._topic)
        self._producer = producer
        self._deploying = threading.Lock()

    def get(self, namespace: str, flow_id: str) -> tuple[DeployedFlow, Flow] | None:
        """The latest deployed revision of the flow and its definition, None if never deployed."""
        raw = self._table.get(flow_key(namespace, flow_id))
        if raw is None:
            return None
        try:
            deployed = DeployedFlow.model_validate_json(raw)
        except ValidationError as exc:
            log.error("unreadable flow %s/%s on %s: %s", namespace, flow_id, self._topic, exc)
            return None
        return deployed, _definition(deployed)

    def deploy(self, source: str, authorize: Callable[[Flow], None] | None = None) -> tuple[DeployedFlow, Flow, bool]:
        """Validate and store the flow; returns it, its definition and whether this made a new revision.
        Raises `FlowError` (naming line and field) for an invalid flow, `KafkaError` if it cannot be stored;
        `authorize` sees the flow before anything is stored (and raises to refuse it)."""
        flow = load_flow(source, "request body")
        if authorize is not None:
            authorize(flow)
        with self._deploying:
            current = self.get(flow.namespace, flow.id)
            if current is not None and current[0].source == source:
                return current[0], current[1], False
            revision = current[0].revision + 1 if current is not None else 1
            deployed = DeployedFlow(
                namespace=flow.namespace, id=flow.id, revision=revision, source=source, deployed_at=utcnow()
            )
            self._producer.send(self._topic, deployed.key, deployed.to_json())
            self._producer.flush(10.0)
        log.info("flow %s deployed as revision %d", deployed.key, revision)
        return deployed, flow.model_copy(update={"revision": revision}), True

    def close(self) -> None:
        self._table.close()


def _definition(deployed: DeployedFlow) -> Flow:
    flow = load_flow(deployed.source, f"flows/{deployed.key}")
    return flow.model_copy(update={"revision": deployed.revision})
