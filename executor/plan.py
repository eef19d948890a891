"""What the executor looks up in a flow, computed once per flow (the shell keeps one `Plan` per flow
definition; the executions of one flow revision share it, read-only).

- `tasks` by id, the flowable `parents` of each task, each task's JSON for worker jobs;
- `reads(task)`: the task ids whose outputs the task's expressions can read (`outputs.x`, `outputs['x']`),
  or None when an expression reads `outputs` in a way that names no task (then it may read them all). A
  worker job carries only those outputs, so a job's size does not grow with the execution's;
- `reads_errors(task)`: whether it calls `errorLogs()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from conveyor.common.flow import Flow
from conveyor.common.tasks import flowable as f
from conveyor.common.tasks.base import FlowableTask, Task

_OUTPUTS = re.compile(r"\boutputs\b")
# `tasks.<id>.state` (`tasks['id'].state`): the states a task reads (a word `tasks` after a dot is a key).
_TASKS = re.compile(r"(?<![.\w])tasks\b")
_NAMED = re.compile(r"""\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(['"])([^'"]+)\2\s*\])""")
# An index that follows the reading task run's own iterations: `[taskrun.value]`, `[parent.taskrun.value]`,
# `[parents[0].taskrun.value]`; or the whole read wrapped in `currentEachOutput(...)`.
_OWN_INDEX = re.compile(r"\s*\[\s*(?:taskrun|parent|parents\s*\[\s*\d+\s*\])(?:\.taskrun)?\.value\s*\]")
_CURRENT_EACH = re.compile(r"currentEachOutput\s*\(\s*$")

# A task's reads: task id -> whether every read follows the reader's own iterations (then a job carries
# only the outputs of those iterations); None: `outputs` is read without naming a task (all of them, whole).
Reads = dict[str, bool] | None


def output_reads(text: str) -> Reads:
    """The task ids `text` reads outputs of, and whether each read only follows the reader's iterations."""
    reads: dict[str, bool] = {}
    for match in _OUTPUTS.finditer(text):
        named = _NAMED.match(text, match.end())
        if named is None:
            return None
        name = named.group(1) or named.group(3)
        own = bool(_OWN_INDEX.match(text, named.end())) or bool(_CURRENT_EACH.search(text, 0, match.start()))
        reads[name] = reads.get(name, True) and own
    return reads


def state_reads(text: str) -> set[str] | None:
    """The task ids whose state `text` reads through `tasks.<id>`; None when it reads `tasks` whole."""
    names: set[str] = set()
    for match in _TASKS.finditer(text):
        named = _NAMED.match(text, match.end())
        if named is None:
            return None
        names.add(named.group(1) or named.group(3))
    return names


def is_loop(task: Task) -> bool:
    """A flowable whose children run once per value (each run of a child carries its iteration's value)."""
    return isinstance(task, f.ForEach | f.EachSequential | f.EachParallel)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@dataclass
class Plan:
    flow: Flow
    tasks: dict[str, Task] = field(default_factory=dict)
    parents: dict[str, FlowableTask] = field(default_factory=dict)
    _task_json: dict[str, dict[str, Any]] = field(default_factory=dict)
    _task_blob: dict[str, bytes] = field(default_factory=dict)
    _reads: dict[str, Reads] = field(default_factory=dict)
    _reads_errors: dict[str, bool] = field(default_factory=dict)
    _reads_states: dict[str, set[str] | None] = field(default_factory=dict)
    # task id -> the loops (ForEach and the like) around it, outermost first: those whose `tasks` hold it.
    loops: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, flow: Flow) -> Plan:
        plan = cls(flow)
        plan.tasks = {task.id: task for task in flow.all_tasks()}
        for task in plan.tasks.values():
            if isinstance(task, FlowableTask):
                for children in [*task.child_lists(), task.error_tasks(), task.finally_tasks()]:
                    for child in children:
                        plan.parents[child.id] = task
        for task_id in plan.tasks:
            plan.loops[task_id] = plan._loops_around(task_id)
        return plan

    def _loops_around(self, task_id: str) -> list[str]:
        chain: list[str] = []
        child = self.tasks[task_id]
        parent = self.parents.get(task_id)
        while parent is not None:
            in_body = any(c is child for children in parent.child_lists() for c in children)
            if in_body and is_loop(parent):
                chain.append(parent.id)
            child, parent = parent, self.parents.get(parent.id)
        chain.reverse()
        return chain

    def shared_loops(self, a: str, b: str) -> int:
        """How many loops, from the outermost, tasks `a` and `b` are both inside."""
        shared = 0
        for x, y in zip(self.loops.get(a, []), self.loops.get(b, []), strict=False):
            if x != y:
                break
            shared += 1
        return shared

    def task_json(self, task: Task) -> dict[str, Any]:
        """The task's JSON for a worker job, dumped once (read-only: a job is serialised as soon as it is made)."""
        cached = self._task_json.get(task.id)
        if cached is None:
            cached = self._task_json[task.id] = task.model_dump(mode="json", by_alias=True, exclude_none=True)
        return cached

    def task_blob(self, task: Task) -> bytes:
        """The task's JSON as bytes, made once."""
        blob = self._task_blob.get(task.id)
        if blob is None:
            blob = self._task_blob[task.id] = orjson.dumps(self.task_json(task))
        return blob

    def _text(self, task: Task) -> str:
        own = self.task_json(task)
        if isinstance(task, FlowableTask) and not task.on_worker:  # its children's properties are theirs
            own = {k: v for k, v in own.items() if not isinstance(v, list | dict) or k in ("values", "value")}
        text = "\n".join(_strings(own))
        if "render" in text or "vars" in text:  # a variable may hold an expression rendered in place
            text += "\n" + orjson.dumps(self.flow.variables).decode()
        return text

    def reads(self, task: Task) -> Reads:
        if task.id not in self._reads:
            self._reads[task.id] = output_reads(self._text(task))
        return self._reads[task.id]

    def reads_states(self, task: Task) -> set[str] | None:
        """The task ids of `tasks.<id>.state` in the task's expressions (None: `tasks` whole)."""
        if task.id not in self._reads_states:
            self._reads_states[task.id] = state_reads(self._text(task))
        return self._reads_states[task.id]

    def reads_errors(self, task: Task) -> bool:
        if task.id not in self._reads_errors:
            self._reads_errors[task.id] = "errorLogs" in self._text(task)
        return self._reads_errors[task.id]

    def inherited_retry(self, task: Task) -> Any:
        parent = self.parents.get(task.id)
        while parent is not None:
            if parent.retry is not None:
                return parent.retry
            parent = self.parents.get(parent.id)
        return self.flow.retry
