"""Deployed flows, kept on the compacted `flows` topic (key `namespace/id`, value a `DeployedFlow`).

The topic is the only store: every server (and `conveyor flows`) reads it into memory and catches up before
each lookup (`TopicTable`), so a flow deployed through any server can be executed through any other, and a
restarted server loses nothing. Deploying a changed source gives the next revision; deploying the same
source again changes nothing. Deleting writes a `deleted` revision. Every revision also goes to the
compacted `flow-revisions` topic (key `namespace/id/revision`), read only when an older revision is asked
for. Two servers deploying the same flow at the same instant may both pick the same revision: the later
message wins on the topic (last writer wins, like the reference's unguarded update).
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from conveyor.common.clock import utcnow
from conveyor.common.deployed import DeployedFlow, flow_key, revision_key
from conveyor.common.flow import Flow
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.table import TopicTable
from conveyor.common.kafka.topics import Topics
from conveyor.common.loader import load_flow
from conveyor.common.settings import KafkaSettings

log = logging.getLogger(__name__)

# What a deployment did: a new flow, a new revision of one, or nothing (the same source is the latest).
CREATED, CHANGED, UNCHANGED = "created", "changed", "unchanged"


@dataclass(frozen=True)
class Deployment:
    deployed: DeployedFlow
    flow: Flow
    outcome: str

    @property
    def created(self) -> bool:
        return self.outcome != UNCHANGED


class FlowCatalog:
    def __init__(self, kafka: KafkaSettings, producer: Producer) -> None:
        topics = Topics.of(kafka)
        self._kafka = kafka
        self._topic = topics.flows
        self._revisions_topic = topics.flow_revisions
        self._table = TopicTable(kafka, self._topic)
        self._revisions: TopicTable | None = None
        self._producer = producer
        self._deploying = threading.Lock()

    def get(self, namespace: str, flow_id: str, revision: int | None = None) -> tuple[DeployedFlow, Flow] | None:
        """The flow's latest revision (or the one asked for) and its definition; None if never deployed,
        deleted, or no such revision."""
        latest = self._latest(namespace, flow_id)
        if latest is None or (latest.deleted and revision is None):
            return None
        found: DeployedFlow | None = latest
        if revision is not None and revision != latest.revision:
            found = self._revision(namespace, flow_id, revision)
        if found is None or found.deleted:
            return None
        return found, _definition(found)

    def list(self, namespace: str | None = None) -> list[DeployedFlow]:
        """The latest revision of every deployed (not deleted) flow whose namespace starts with `namespace`,
        by namespace then id."""
        flows = []
        for key, raw in sorted(self._table.refresh().items()):
            deployed = self._parse(key, raw)
            if deployed is None or deployed.deleted:
                continue
            if not namespace or deployed.namespace.startswith(namespace):
                flows.append(deployed)
        return flows

    def deploy(
        self, source: str, origin: str = "request body", authorize: Callable[[Flow], None] | None = None
    ) -> tuple[DeployedFlow, Flow, bool]:
        """Validate and store the flow; returns it, its definition and whether this made a new revision.
        Raises `FlowError` (naming line and field) for an invalid flow, `KafkaError` if it cannot be stored;
        `authorize` sees the flow before anything is stored (and raises to refuse it)."""
        flow = load_flow(source, origin)
        if authorize is not None:
            authorize(flow)
        done = self.deploy_flow(flow, source)
        return done.deployed, done.flow, done.created

    def deploy_flow(self, flow: Flow, source: str) -> Deployment:
        """Store an already validated flow (its `source` as written)."""
        return self.deploy_batch([(flow, source)])[0]

    def deploy_batch(self, batch: Sequence[tuple[Flow, str]]) -> builtins.list[Deployment]:
        """Store validated flows (each with its source; no flow twice): the topic is read once for the whole
        batch and the producer flushed once after the last, so a batch costs what its flows do."""
        done: builtins.list[Deployment] = []
        with self._deploying:
            table = self._table.refresh()
            for flow, source in batch:
                raw = table.get(flow_key(flow.namespace, flow.id))
                current = None if raw is None else self._parse(flow_key(flow.namespace, flow.id), raw)
                done.append(self._deploy_one(flow, source, current))
            self._producer.flush(30.0)
        return done

    def _deploy_one(self, flow: Flow, source: str, current: DeployedFlow | None) -> Deployment:
        if current is not None and not current.deleted and current.source == source:
            return Deployment(current, flow.model_copy(update={"revision": current.revision}), UNCHANGED)
        revision = current.revision + 1 if current is not None else 1
        deployed = DeployedFlow(
            namespace=flow.namespace, id=flow.id, revision=revision, source=source, deployed_at=utcnow()
        )
        self._store(deployed, flush=False)
        log.info("flow %s deployed as revision %d", deployed.key, revision)
        outcome = CHANGED if current is not None and not current.deleted else CREATED
        return Deployment(deployed, flow.model_copy(update={"revision": revision}), outcome)

    def delete(self, namespace: str, flow_id: str) -> DeployedFlow | None:
        """Write a deleted revision of the flow; None (nothing written) if it is not deployed."""
        with self._deploying:
            current = self._latest(namespace, flow_id)
            if current is None or current.deleted:
                return None
            deleted = current.model_copy(update={"revision": current.revision + 1, "deleted": True})
            deleted = deleted.model_copy(update={"deployed_at": utcnow()})
            self._store(deleted)
        log.info("flow %s deleted (revision %d)", deleted.key, deleted.revision)
        return deleted

    def close(self) -> None:
        self._table.close()
        if self._revisions is not None:
            self._revisions.close()

    def _store(self, deployed: DeployedFlow, *, flush: bool = True) -> None:
        value = deployed.to_json()
        self._producer.send(self._revisions_topic, deployed.revision_key, value)
        self._producer.send(self._topic, deployed.key, value)
        if flush:
            self._producer.flush(10.0)
        else:
            self._producer.poll(0)

    def _latest(self, namespace: str, flow_id: str) -> DeployedFlow | None:
        key = flow_key(namespace, flow_id)
        raw = self._table.get(key)
        return None if raw is None else self._parse(key, raw)

    def _revision(self, namespace: str, flow_id: str, revision: int) -> DeployedFlow | None:
        if self._revisions is None:
            self._revisions = TopicTable(self._kafka, self._revisions_topic)
        key = revision_key(namespace, flow_id, revision)
        raw = self._revisions.get(key)
        return None if raw is None else self._parse(key, raw)

    def _parse(self, key: str, raw: bytes) -> DeployedFlow | None:
        try:
            return DeployedFlow.model_validate_json(raw)
        except ValidationError as exc:
            log.error("unreadable flow %s on %s: %s", key, self._topic, exc)
            return None


def _definition(deployed: DeployedFlow) -> Flow:
    flow = load_flow(deployed.source, f"flows/{deployed.key}")
    return flow.model_copy(update={"revision": deployed.revision})
