"""A deployed flow: the value on the compacted `flows` topic, keyed `namespace/id`.

It carries the YAML source exactly as the user wrote it (comments included) and the revision the
deployment gave it: 1 for a new flow, one more than the previous revision for a changed one. Deleting a flow
writes one more revision with `deleted: true` (the last source kept): readers of the topic (the API servers,
the scheduler's trigger index) see the deletion as a value, and a flow deployed again afterwards goes on from
the next revision. Every revision is also kept on `flow-revisions`, keyed `namespace/id/revision`.
"""

from __future__ import annotations

from datetime import datetime

from conveyor.common.base import Model


class DeployedFlow(Model):
    namespace: str
    id: str
    revision: int
    source: str
    deployed_at: datetime
    deleted: bool = False

    @property
    def key(self) -> str:
        return flow_key(self.namespace, self.id)

    @property
    def revision_key(self) -> str:
        return revision_key(self.namespace, self.id, self.revision)


def flow_key(namespace: str, flow_id: str) -> str:
    """The `flows` topic key of a flow."""
    return f"{namespace}/{flow_id}"


def revision_key(namespace: str, flow_id: str, revision: int) -> str:
    """The `flow-revisions` topic key of one revision of a flow."""
    return f"{namespace}/{flow_id}/{revision}"
