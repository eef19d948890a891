"""Task types: the core set plus any package's, found through the `conveyor.tasks` entry point group.

A plugin package registers its task model class (a `RunnableTask` subclass with `type_names`) as
    [project.entry-points."conveyor.tasks"]
    "com.example.MyTask" = "my_package.tasks:MyTask"
and its runner under `conveyor.runners` (see `conveyor.worker.runners`). Every registered class becomes a
member of `AnyTask`, the union that flows and flowable tasks validate their task lists against, with the
`type` property as its discriminator (aliases included).
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag

from conveyor.common.tasks import core, execution, flowable, kv, subflow
from conveyor.common.tasks.base import Task

log = logging.getLogger(__name__)

CORE: tuple[type[Task], ...] = (
    core.Return,
    core.Log,
    core.Sleep,
    core.Fail,
    core.Commands,
    execution.Labels,
    kv.KvSet,
    kv.KvGet,
    kv.KvDelete,
    flowable.Sequential,
    flowable.Parallel,
    flowable.ForEach,
    flowable.EachSequential,
    flowable.EachParallel,
    flowable.If,
    flowable.Switch,
    flowable.Pause,
    flowable.AllowFailure,
    flowable.Dag,
    flowable.LoopUntil,
    flowable.WorkingDirectory,
    subflow.Subflow,
    subflow.ForEachItem,
)


@cache
def task_classes() -> dict[str, type[Task]]:
    """Every accepted type name (canonical and alias) -> its task class."""
    classes: list[type[Task]] = list(CORE)
    for ep in entry_points(group="conveyor.tasks"):
        try:
            cls = ep.load()
        except Exception:  # a broken plugin must not stop the core types from loading
            log.exception("could not load task plugin %s", ep.value)
            continue
        if cls not in classes:
            classes.append(cls)
    by_name: dict[str, type[Task]] = {}
    for cls in classes:
        for name in cls.type_names:
            by_name[name] = cls
    return by_name


def known_types() -> list[str]:
    """The canonical type names, for error messages."""
    return sorted({cls.canonical_type() for cls in task_classes().values()})


def _discriminate(value: Any) -> str | None:
    if isinstance(value, Task):
        return value.canonical_type()
    if isinstance(value, dict):
        name = value.get("type")
        if not isinstance(name, str):
            return None
        cls = task_classes().get(name)
        return cls.canonical_type() if cls else name
    return None


@cache
def any_task() -> Any:
    members = tuple(Annotated[cls, Tag(cls.canonical_type())] for cls in set(task_classes().values()))
    return Annotated[Union[members], Discriminator(_discriminate)]  # noqa: UP007


@cache
def resolve() -> None:
    """Resolve `AnyTask` in every flowable's child lists and `AnyTrigger` in flows (call before validating flows)."""
    from conveyor.common.triggers.registry import any_trigger

    namespace = {"AnyTask": any_task(), "AnyTrigger": any_trigger()}
    flowable.DagTask.model_rebuild(_types_namespace=namespace)  # a Dag's entries hold tasks too
    for cls in set(task_classes().values()):
        cls.model_rebuild(_types_namespace=namespace)
    from conveyor.common.flow import Flow

    Flow.model_rebuild(_types_namespace=namespace)
