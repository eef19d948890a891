"""The Kestra conformance corpus (`tests/corpus/kestra/`, vendored): its cases and a matcher for them.

`check(case, execution, logs)` evaluates a case's `expect` (and, with `inferred=True`, its `inferred`
block too) against a final Execution JSON (camelCase, as `conveyor run --output json` prints it) and the
execution's log lines (dicts with `taskId`, `taskRunId`, `level`, `message`). It returns the list of
mismatches, empty when the case holds. The format is described in the corpus' README (its origin and
licence in its NOTICE).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor.common.model import Execution
from conveyor.executor.context import whole_outputs
from conveyor.executor.state import ExecutionState

CORPUS = Path(__file__).resolve().parent / "corpus" / "kestra"
LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


@dataclass(frozen=True)
class Case:
    flow: Path
    label: str
    inputs: dict[str, Any]
    inputs_mode: str
    expect: dict[str, Any]
    inferred: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    # Labels given when the execution is created (`conveyor run --label`), as the Java test passes them.
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.label


def load_cases(corpus: Path = CORPUS) -> list[Case]:
    entries = json.loads((corpus / "expectations.json").read_text())
    cases = []
    for entry in entries:
        name = Path(entry["flow"]).stem
        label = f"{name}[{entry['case']}]" if entry.get("case") else name
        cases.append(
            Case(
                flow=corpus / entry["flow"],
                label=label,
                inputs=entry.get("inputs") or {},
                inputs_mode=entry.get("inputsMode", "none"),
                expect=entry.get("expect") or {},
                inferred=entry.get("inferred") or {},
                notes=entry.get("notes", ""),
                labels=entry.get("labels") or {},
            )
        )
    return cases


def check(
    case: Case,
    execution: dict[str, Any],
    logs: list[dict[str, Any]],
    *,
    inferred: bool = False,
    now: datetime | None = None,
) -> list[str]:
    """Every way the execution and its logs differ from the case (empty: the case holds)."""
    view = _View(execution, logs, now or datetime.now(UTC))
    problems = view.check(case.expect, "expect")
    if inferred:
        problems += view.check(case.inferred, "inferred")
    return problems


class _View:
    def __init__(self, execution: dict[str, Any], logs: list[dict[str, Any]], now: datetime) -> None:
        self.ex = execution
        self.runs: list[dict[str, Any]] = execution.get("taskRunList") or []
        self.logs = logs
        self.now = now
        self.state = ExecutionState.create(Execution.model_validate(execution), {})

    def check(self, spec: dict[str, Any], where: str) -> list[str]:
        problems: list[str] = []
        for key, expected in spec.items():
            checker = getattr(self, "_" + key, None)
            if checker is None:
                problems.append(f"{where}: unknown expectation key {key!r}")
                continue
            problems += [f"{where}.{key}: {p}" for p in checker(expected)]
        return problems

    # ---- the expectation keys
    def _state(self, expected: str) -> list[str]:
        actual = self.ex["state"]["current"]
        return [] if actual == expected else [f"execution state {actual}, expected {expected}"]

    def _taskRunCount(self, expected: int) -> list[str]:
        ids = [r["taskId"] for r in self.runs]
        return [] if len(ids) == expected else [f"{len(ids)} task runs, expected {expected}: {ids}"]

    def _taskRuns(self, expected: dict[str, dict[str, Any]]) -> list[str]:
        problems = []
        for task_id, spec in expected.items():
            runs = [r for r in self.runs if r["taskId"] == task_id]
            if "count" in spec and len(runs) != spec["count"]:
                problems.append(f"{task_id}: {len(runs)} task runs, expected {spec['count']}")
            if "states" in spec:
                states = [r["state"]["current"] for r in runs]
                if states != spec["states"]:
                    problems.append(f"{task_id}: states {states}, expected {spec['states']}")
            rest = {k: v for k, v in spec.items() if k not in ("count", "states")}
            if not rest:
                continue
            if not runs:
                problems.append(f"{task_id}: no task run")
                continue
            first = runs[0]
            if "firstState" in rest:
                rest = {**rest, "state": rest.pop("firstState")}
            problems += [f"{task_id}: {p}" for p in self._run(first, rest)]
        return problems

    def _taskRunsByIndex(self, expected: dict[str, dict[str, Any]]) -> list[str]:
        problems = []
        for key, spec in expected.items():
            i = int(key)
            if i >= len(self.runs):
                problems.append(f"[{i}]: no such task run ({len(self.runs)} task runs)")
                continue
            problems += [f"[{i}]: {p}" for p in self._run(self.runs[i], spec)]
        return problems

    def _taskRunsByValuePath(self, expected: list[dict[str, Any]]) -> list[str]:
        problems = []
        for spec in expected:
            run = self._find(spec["taskId"], spec["valuePath"])
            label = f"{spec['taskId']}{spec['valuePath']}"
            if run is None:
                problems.append(f"{label}: no task run")
                continue
            rest = {k: v for k, v in spec.items() if k not in ("taskId", "valuePath")}
            problems += [f"{label}: {p}" for p in self._run(run, rest)]
        return problems

    def _outputs(self, expected: dict[str, Any]) -> list[str]:
        return match(whole_outputs(self.state), expected, "outputs")

    def _labels(self, expected: dict[str, Any]) -> list[str]:
        """The execution's labels, exactly (a value `{"$taskRunIdOf": task}` is that task's first run's id,
        `{"$executionId": true}` the execution's id)."""
        actual = {label["key"]: label["value"] for label in self.ex.get("labels") or []}
        wanted = {key: self._label_value(value) for key, value in expected.items()}
        return [] if actual == wanted else [f"labels {actual}, expected {wanted}"]

    def _label_value(self, value: Any) -> Any:
        if isinstance(value, dict) and "$taskRunIdOf" in value:
            return next((r["id"] for r in self.runs if r["taskId"] == value["$taskRunIdOf"]), None)
        if isinstance(value, dict) and "$executionId" in value:
            return self.ex["id"]
        return value

    def _executionOutputs(self, expected: dict[str, Any] | None) -> list[str]:
        actual = self.ex.get("outputs") or None
        if expected is None:
            return [] if actual is None else [f"expected no outputs, got {actual}"]
        if actual is None:
            return [f"no outputs, expected {expected}"]
        return match(actual, expected, "outputs")

    def _executionOutputsSize(self, expected: int) -> list[str]:
        size = len(self.ex.get("outputs") or {})
        return [] if size == expected else [f"{size} outputs, expected {expected}"]

    def _logs(self, expected: list[dict[str, Any]]) -> list[str]:
        problems = []
        for spec in expected:
            lines = self.logs
            if "taskId" in spec:
                lines = [line for line in lines if line.get("taskId") == spec["taskId"]]
            if "taskRunIndex" in spec:
                run_id = self.runs[spec["taskRunIndex"]]["id"] if spec["taskRunIndex"] < len(self.runs) else None
                lines = [line for line in lines if line.get("taskRunId") == run_id]
            if spec.get("absent"):
                if lines:
                    problems.append(f"{spec}: expected no log line, got {[line['message'] for line in lines]}")
                continue
            if "level" in spec:
                lines = [line for line in lines if line.get("level") == spec["level"]]
            if "message" in spec:
                found = any(line.get("message") == spec["message"] for line in lines)
            else:
                found = any(spec["messageContains"] in str(line.get("message")) for line in lines)
            if not found:
                problems.append(
                    f"{spec}: no such log line in {[(x.get('taskId'), x.get('message')) for x in self.logs]}"
                )
        return problems

    def _logCount(self, expected: dict[str, Any]) -> list[str]:
        floor = LEVELS.index(expected["minLevel"])
        lines = [line for line in self.logs if LEVELS.index(line.get("level", "INFO")) >= floor]
        if len(lines) == expected["count"]:
            return []
        return [f"{len(lines)} lines at {expected['minLevel']}+, expected {expected['count']}: {lines}"]

    def _relations(self, expected: list[dict[str, Any]]) -> list[str]:
        problems = []
        for rel in expected:
            subject = self._find(rel["subject"]["taskId"], rel["subject"]["valuePath"])
            obj = self._find(rel["object"]["taskId"], rel["object"]["valuePath"])
            if subject is None or obj is None:
                problems.append(f"{rel}: task run not found")
                continue
            needle = rel.get("objectPrefix", "") + str((obj.get("outputs") or {}).get("value"))
            haystack = str((subject.get("outputs") or {}).get("value"))
            if needle not in haystack:
                problems.append(f"{haystack!r} does not contain {needle!r}")
        return problems

    # ---- helpers
    def _run(self, run: dict[str, Any], spec: dict[str, Any]) -> list[str]:
        problems = []
        for key, expected in spec.items():
            if key == "taskId" and run["taskId"] != expected:
                problems.append(f"taskId {run['taskId']}, expected {expected}")
            elif key == "state" and run["state"]["current"] != expected:
                problems.append(f"{run['taskId']} state {run['state']['current']}, expected {expected}")
            elif key == "attempts" and len(run.get("attempts") or []) != expected:
                problems.append(f"{run['taskId']} has {len(run.get('attempts') or [])} attempts, expected {expected}")
            elif key == "outputs":
                problems += match(run.get("outputs") or {}, expected, f"{run['taskId']}.outputs", self.now)
            elif key == "historyCounts":
                states = [h["state"] for h in run["state"]["histories"]]
                counts = {state: states.count(state) for state in expected}
                if counts != expected:
                    problems.append(f"{run['taskId']} histories {states}: counts {counts}, expected {expected}")
        return problems

    def _find(self, task_id: str, value_path: list[str]) -> dict[str, Any] | None:
        for run in self.runs:
            if run["taskId"] == task_id and list(self.state.value_path(self.state.runs[run["id"]])) == value_path:
                return run
        return None


def match(actual: Any, expected: Any, where: str, now: datetime | None = None) -> list[str]:
    """`expected` as a subset of `actual` (dicts), element-wise (lists), or a `$matcher` at a leaf."""
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        return _matcher(actual, expected, where, now or datetime.now(UTC))
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {actual!r} is not an object"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing (have {sorted(actual)})")
            else:
                problems += match(actual[key], value, f"{where}.{key}", now)
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: {actual!r} != {expected!r}"]
        return [
            p for i, (a, e) in enumerate(zip(actual, expected, strict=True)) for p in match(a, e, f"{where}[{i}]", now)
        ]
    return [] if actual == expected else [f"{where}: {actual!r} != {expected!r}"]


def _matcher(actual: Any, spec: dict[str, Any], where: str, now: datetime) -> list[str]:
    ((name, arg),) = spec.items()
    ok = False
    if name == "$contains":
        ok = isinstance(actual, str) and arg in actual
    elif name == "$regex":
        ok = isinstance(actual, str) and re.fullmatch(arg, actual) is not None
    elif name == "$gte":
        ok = isinstance(actual, int | float) and actual >= arg
    elif name == "$isoDateNear":
        try:
            when = datetime.fromisoformat(str(actual).replace("Z", "+00:00"))
        except ValueError:
            return [f"{where}: {actual!r} is not an ISO-8601 date"]
        ok = when.tzinfo is not None and abs((when - now).total_seconds()) <= arg["withinSeconds"]
    else:
        return [f"{where}: unknown matcher {name}"]
    return [] if ok else [f"{where}: {actual!r} does not match {spec}"]
