"""Trigger types: the core set plus any package's, found through the `conveyor.triggers` entry point group.

A plugin registers its trigger model class (a `Trigger` subclass with `type_names`) as
    [project.entry-points."conveyor.triggers"]
    "com.example.MyTrigger" = "my_package.triggers:MyTrigger"
Every registered class becomes a member of `AnyTrigger`, the union a flow's `triggers:` validate against,
with the `type` property as its discriminator (aliases included)."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag

from conveyor.common.triggers.base import Trigger
from conveyor.common.triggers.flow import FlowTrigger
from conveyor.common.triggers.schedule import Schedule
from conveyor.common.triggers.webhook import Webhook

log = logging.getLogger(__name__)

CORE: tuple[type[Trigger], ...] = (Schedule, FlowTrigger, Webhook)


@cache
def trigger_classes() -> dict[str, type[Trigger]]:
    """Every accepted type name (canonical and alias) -> its trigger class."""
    classes: list[type[Trigger]] = list(CORE)
    for ep in entry_points(group="conveyor.triggers"):
        try:
            cls = ep.load()
        except Exception:  # a broken plugin must not stop the core types from loading
            log.exception("could not load trigger plugin %s", ep.value)
            continue
        if cls not in classes:
            classes.append(cls)
    return {name: cls for cls in classes for name in cls.type_names}


def known_types() -> list[str]:
    """The canonical type names, for error messages."""
    return sorted({cls.canonical_type() for cls in trigger_classes().values()})


def _discriminate(value: Any) -> str | None:
    if isinstance(value, Trigger):
        return value.canonical_type()
    if isinstance(value, dict):
        name = value.get("type")
        if not isinstance(name, str):
            return None
        cls = trigger_classes().get(name)
        return cls.canonical_type() if cls else name
    return None


@cache
def any_trigger() -> Any:
    members = tuple(Annotated[cls, Tag(cls.canonical_type())] for cls in set(trigger_classes().values()))
    return Annotated[Union[members], Discriminator(_discriminate)]  # noqa: UP007
