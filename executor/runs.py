"""An execution's task runs by id, in creation order, each kept as its JSON between decisions.

Between decisions a task run (but a running flowable, which every change beneath it reads) is one `bytes`
object, the JSON it was last published as, which the cyclic garbage collector never visits, instead of a
tree of pydantic models, lists and dicts (about 35 tracked objects each, ~10 KB). CPython's full
collections walk every tracked object, so with task runs as objects the executor's cost per event grew with
the number of task runs it held, and its memory with every run started and not yet ended (a 100,000-value
loop starts them all long before workers end them).

A decision decodes the runs it reads (a result's run, a loop's iteration, the outputs a task reads, every
run for a kill, a restart or the end), and each stays that one object until the decision ends: `freeze`
then turns the runs it changed into the JSON the decision made for publishing, and the runs it only read
back into the JSON they were read from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from conveyor.common.model import TaskRun


class Runs:
    def __init__(self) -> None:
        self._items: dict[str, TaskRun | bytes] = {}
        # Runs decoded since the last `freeze`: id -> the JSON they were decoded from.
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
        """Every run in creation order (decoding them: for what walks every run once)."""
        for run_id in list(self._items):
            yield self[run_id]

    def compacted(self, run_id: str) -> bool:
        """Whether the run is held as its JSON now."""
        return isinstance(self._items.get(run_id), bytes)

    def put(self, run: TaskRun) -> None:
        """A new run, or a run brought back (a recovery, a restore): an object until the next `freeze`."""
        self._items[run.id] = run
        self._thawed.pop(run.id, None)

    def freeze(self, changed: dict[str, bytes], hot: Callable[[TaskRun], bool]) -> None:
        """At the end of a decision: the runs it changed become their JSON (`changed`, id -> JSON), the runs
        it only read go back to the JSON they were read from; but a run `hot` says the next decisions read
        again (a running flowable: every change beneath it reads it) stays an object."""
        for run_id, blob in self._thawed.items():
            item = self._items.get(run_id)
            if run_id not in changed and isinstance(item, TaskRun) and not hot(item):
                self._items[run_id] = blob
        self._thawed.clear()
        for run_id, blob in changed.items():
            item = self._items.get(run_id)
            if isinstance(item, TaskRun) and not hot(item):
                self._items[run_id] = blob

    def compact(self) -> None:
        """Every run as its JSON (after a recovery or a restore added them as objects)."""
        for run_id, item in self._items.items():
            if isinstance(item, TaskRun):
                self._items[run_id] = item.to_json()
        self._thawed.clear()
