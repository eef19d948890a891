"""A deployed flow: the value on the compacted `flows` topic, keyed `namespace/id`.

It carries the YAML source exactly as the user wrote it (comments included) and the revision the
deployment gave it: 1 for a new flow, one more than the previous revision for a changed one.
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

    @property
    def key(self) -> str:
        return flow_key(self.namespace, self.id)


def flow_key(namespace: str, flow_id: str) -> str:
    """The `flows` topic key of a flow."""
    return f"{namespace}/{flow_id}"
