"""An execution's task runs by id, in creation order, with the ended ones kept compact.

A task run that has ended is kept as its JSON (one `bytes` object, which the cyclic garbage collector never
visits) instead of a tree of pydantic models, lists and dicts (about 35 tracked objects each). CPython's full
collections walk every tracked object, so with ended task runs as objects the executor's cost per event grew
with the number of task runs it held; as bytes it does not, and they take a third of the memory.

An ended task run is decoded when a decision reads it (a loop stepping that iteration, a task reading its
outputs, a kill or a restart walking every run) and stays decoded, the same object, until the decision ends:
`freeze` then turns back to bytes the runs that were read and the runs that ended, reusing the JSON the
decision made for publishing.
"""

from __future__ import annotations

from collections.abc import Container, Iterator

from conveyor.common.model import TaskRun


class Runs:
    def __init__(self) -> None:
        self._items: dict[str, TaskRun | bytes] = {}
        # Runs decoded during the current decision: id -> the JSON they were decoded from.
        self._thawed: dict[str, bytes] = {}

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        """The ids, in creation order."""
        return iter(list(self._items))

    def get(self, run_id: str | None) -> TaskRun | None:
        if run_id is None:
            return None
        item = self._items.get(run_id)
        if isinstance(item, bytes):
            run = TaskRun.model_validate_json(item)
            self._items[run_id] = run
            self._thawed[run_id] = item
            return run
        return item

    def __getitem__(self, run_id: str) -> TaskRun:
        run = self.get(run_id)
        if run is None:
            raise KeyError(run_id)
        return run

    def values(self) -> Iterator[TaskRun]:
        """Every run in creation order (decoding the ended ones: for what walks every run once)."""
        for run_id in list(self._items):
            yield self[run_id]

    def compacted(self, run_id: str) -> bool:
        """Whether the run is held as its JSON now."""
        return isinstance(self._items.get(run_id), bytes)

    def put(self, run: TaskRun) -> None:
        self._items[run.id] = run
        self._thawed.pop(run.id, None)

    def freeze(self, changed: Container[str], ended: dict[str, bytes]) -> None:
        """At the end of a decision: the ended runs it changed become their JSON (`ended`, id -> JSON), and
        the ended runs it only read (not in `changed`) go back to the JSON they were read from."""
        for run_id, blob in self._thawed.items():
            if run_id not in changed and isinstance(self._items.get(run_id), TaskRun):
                self._items[run_id] = blob
        self._thawed.clear()
        for run_id, blob in ended.items():
            if run_id in self._items:
                self._items[run_id] = blob

    def compact(self) -> None:
        """Every ended run as its JSON (after a recovery or a restore added them as objects)."""
        self._thawed.clear()
        for run_id, item in self._items.items():
            if isinstance(item, TaskRun) and ended(item):
                self._items[run_id] = item.to_json()


def ended(run: TaskRun) -> bool:
    """Ended for good until a restart: its state is final and no attempt of it is open."""
    return run.state.terminal and (not run.attempts or run.attempts[-1].state.terminal)
