"""The Webhook trigger: `/api/v1/executions/webhook/{namespace}/{flowId}/{key}` starts an execution."""

from __future__ import annotations

from pydantic import Field

from conveyor.common.triggers.base import Trigger


class Webhook(Trigger):
    type_names = ("io.kestra.plugin.core.trigger.Webhook", "io.kestra.core.models.triggers.types.Webhook")

    # The secret part of the URL: a wrong key answers exactly as an unknown flow does.
    key: str = Field(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9_.~-]+$")
