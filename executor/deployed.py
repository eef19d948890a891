"""The deployed flows the executor starts as children (Subflow, ForEachItem): read from the compacted
`flows` topic (the latest revision of each) and `flow-revisions` (a given revision), caught up at each look-up
so that a flow deployed just before its parent ran is found. Parsed flows are kept by (key, revision)."""

from __future__ import annotations

from collections import OrderedDict

from conveyor.common.deployed import DeployedFlow, flow_key, revision_key
from conveyor.common.errors import ConveyorError
from conveyor.common.flow import Flow
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.loader import load_flow
from conveyor.common.settings import KafkaSettings

PARSED_KEPT = 256


class DeployedFlows:
    def __init__(self, kafka: KafkaSettings) -> None:
        topics = Topics.of(kafka)
        self._latest = TopicTable(kafka, topics.flows)
        self._revisions = TopicTable(kafka, topics.flow_revisions)
        self._parsed: OrderedDict[tuple[str, int], Flow] = OrderedDict()

    def find(self, namespace: str, flow_id: str, revision: int | None) -> Flow:
        key = flow_key(namespace, flow_id)
        if revision is None:
            raw = self._latest.get(key)
        else:
            raw = self._revisions.get(revision_key(namespace, flow_id, revision))
        at = "" if revision is None else f" at revision {revision}"
        if raw is None:
            raise LookupError(f"no flow {namespace}.{flow_id} is deployed{at}")
        deployed = DeployedFlow.model_validate_json(raw)
        if deployed.deleted:
            raise LookupError(f"flow {namespace}.{flow_id} is deleted{at}")
        cached = self._parsed.get((key, deployed.revision))
        if cached is not None:
            self._parsed.move_to_end((key, deployed.revision))
            return cached
        try:
            flow = load_flow(deployed.source, f"flows/{key}").model_copy(update={"revision": deployed.revision})
        except ConveyorError as exc:
            raise LookupError(f"flow {namespace}.{flow_id} is not valid any more: {exc}") from None
        self._parsed[(key, deployed.revision)] = flow
        while len(self._parsed) > PARSED_KEPT:
            self._parsed.popitem(last=False)
        return flow

    def close(self) -> None:
        self._latest.close()
        self._revisions.close()
