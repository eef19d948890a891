"""The flags before the command (`conveyor --bootstrap HOST:PORT run …`): where the servers are and which
topics and indices Conveyor uses.

They win over the `CONVEYOR_*` variables without writing `os.environ`: they reach the settings objects as
init arguments (`kafka()`, `elasticsearch()`), and child processes (the local stack and its services) as
the variables of their environment (`environ()`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor.common.errors import UsageError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from conveyor.common.settings import ElasticsearchSettings, KafkaSettings

S = TypeVar("S", bound="BaseSettings")


def settings_from(cls: type[S], **values: Any) -> S:
    """`cls(**values)` over the environment; a setting that does not validate (a bad variable, flag or
    combination) is the user's to fix: a `UsageError` with pydantic's message."""
    from pydantic import ValidationError

    try:
        return cls(**values)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None


@dataclass(frozen=True)
class GlobalFlags:
    kafka_bootstrap: str | None = None
    kafka_topic_prefix: str | None = None
    elasticsearch_url: str | None = None
    elasticsearch_index_prefix: str | None = None

    @classmethod
    def of(cls, args: argparse.Namespace) -> GlobalFlags:
        return cls(args.bootstrap, args.topic_prefix, args.elasticsearch, args.index_prefix)

    def kafka(self, **values: Any) -> KafkaSettings:
        """Kafka's settings: `values`, else these flags, else `CONVEYOR_KAFKA_*`, else the defaults."""
        from conveyor.common.settings import KafkaSettings

        flags = _given(bootstrap=self.kafka_bootstrap, topic_prefix=self.kafka_topic_prefix)
        return settings_from(KafkaSettings, **{**flags, **values})

    def elasticsearch(self) -> ElasticsearchSettings:
        """Elasticsearch's settings: these flags, else `CONVEYOR_ELASTICSEARCH_*`, else the defaults."""
        from conveyor.common.settings import ElasticsearchSettings

        flags = _given(url=self.elasticsearch_url, index_prefix=self.elasticsearch_index_prefix)
        return settings_from(ElasticsearchSettings, **flags)

    def environ(self) -> dict[str, str]:
        """The variables that give a child process these flags (to add to its environment)."""
        return _given(
            CONVEYOR_KAFKA_BOOTSTRAP=self.kafka_bootstrap,
            CONVEYOR_KAFKA_TOPIC_PREFIX=self.kafka_topic_prefix,
            CONVEYOR_ELASTICSEARCH_URL=self.elasticsearch_url,
            CONVEYOR_ELASTICSEARCH_INDEX_PREFIX=self.elasticsearch_index_prefix,
        )


def _given(**values: str | None) -> dict[str, str]:
    """The values that were given (an empty flag is not given)."""
    return {name: value for name, value in values.items() if value}
