"""Flows from YAML: every reference flow loads; bad files name the file, line, field and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.loader import load_flow, load_flow_file
from conveyor.common.tasks import core, flowable

ROOT = Path(__file__).resolve().parents[2]
CORPUS_FLOWS = ROOT / "tests" / "corpus" / "kestra" / "flows"


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    assert load_flow_file(path).namespace == "conveyor.examples"


def test_every_reference_flow_loads() -> None:
    flows = [load_flow_file(p) for p in sorted(CORPUS_FLOWS.glob("*.yaml"))]
    # 40, 3 Pause, 10 Subflow and ForEachItem (subflows.json), runIf, 9 AllowFailure, Dag and WaitFor,
    # 6 finally/afterExecution, 5 flow concurrency (concurrency.json), 3 Labels,
    # 7 finally inside flowables, 1 written for LoopUntil's final state
    assert len(flows) == 85


def problems(text: str) -> FlowError:
    with pytest.raises(FlowError) as caught:
        load_flow(text, "flows/bad.yaml")
    return caught.value


def test_unknown_property_names_file_line_and_field() -> None:
    err = problems(
        "id: x\nnamespace: a\ntasks:\n  - id: t1\n    type: io.kestra.plugin.core.log.Log\n"
        "    message: hi\n    mesage: typo\n"
    )
    (p,) = err.problems
    assert (p.line, p.field) == (7, "tasks[0].mesage") and "unknown property" in p.message
    assert str(err).startswith("invalid flow flows/bad.yaml:") and "flows/bad.yaml:7:" in str(err)


def test_missing_required_property() -> None:
    (p,) = problems("id: x\nnamespace: a\ntasks:\n  - id: t1\n    type: io.kestra.plugin.core.log.Log\n").problems
    assert p.field == "tasks[0].message" and p.message == "required property is missing" and p.line == 4


def test_unknown_type_lists_the_known_ones() -> None:
    (p,) = problems("id: x\nnamespace: a\ntasks:\n  - id: t1\n    type: io.nope.Task\n").problems
    assert "unknown task type 'io.nope.Task'" in p.message
    assert "io.kestra.plugin.core.debug.Return" in p.message and "io.kestra.plugin.core.log.Log" in p.message


def test_wrong_type_says_what_was_expected() -> None:
    (p,) = problems(
        "id: x\nnamespace: a\ntasks:\n  - id: t1\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: soon\n"
    ).problems
    assert p.field == "tasks[0].duration" and "ISO-8601 duration" in p.message and p.line == 6


def test_nested_errors_point_inside_flowables() -> None:
    (p,) = problems(
        "id: x\nnamespace: a\ntasks:\n  - id: if\n    type: io.kestra.plugin.core.flow.If\n"
        "    condition: 'true'\n    then:\n      - id: t\n        type: io.kestra.plugin.core.log.Log\n"
    ).problems
    assert p.field == "tasks[0].then[0].message" and p.line == 8


def test_invalid_yaml_and_non_mapping() -> None:
    (p,) = problems("id: x\nnamespace: [a\n").problems
    assert p.message.startswith("invalid YAML") and p.line == 3
    assert "expected a mapping" in problems("- just\n- a list\n").problems[0].message


def test_duplicate_task_ids_are_rejected() -> None:
    err = problems(
        "id: x\nnamespace: a\ntasks:\n  - {id: t, type: io.kestra.plugin.core.log.Log, message: a}\n"
        "  - {id: t, type: io.kestra.plugin.core.log.Log, message: b}\n"
    )
    assert "duplicate task id 't'" in str(err)


def test_a_duplicate_task_id_is_located_at_its_second_use_even_nested() -> None:
    err = problems(
        "id: x\nnamespace: a\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: a\n"
        "  - id: group\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n"
        "      - {id: t, type: io.kestra.plugin.core.log.Log, message: b}\n"
    )
    assert [p.format("f.yaml") for p in err.problems] == [
        "f.yaml:10:14: tasks[1].tasks[0].id: duplicate task id 't' (first at line 4)"
    ]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("io.kestra.plugin.core.debug.Retrun", "io.kestra.plugin.core.debug.Return"),
        ("io.kestra.plugin.core.flow.Paralel", "io.kestra.plugin.core.flow.Parallel"),
        ("io.kestra.plugin.core.log.log", "io.kestra.plugin.core.log.Log"),
        ("io.kestra.plugin.core.debg.Return", "io.kestra.plugin.core.debug.Return"),
        ("io.kestra.plugin.scripts.shel.Commands", "io.kestra.plugin.scripts.shell.Commands"),
    ],
)
def test_a_typo_in_a_task_type_names_the_type_meant(written: str, meant: str) -> None:
    err = problems(f"id: x\nnamespace: a\ntasks:\n  - id: t\n    type: {written}\n")
    assert f"unknown task type '{written}'; did you mean '{meant}'? known types: " in err.problems[0].message


@pytest.mark.parametrize("written", ["io.kestra.plugin.scripts.node.Commands", "com.example.Foo"])
def test_an_unknown_task_type_with_nothing_close_is_not_given_a_guess(written: str) -> None:
    err = problems(f"id: x\nnamespace: a\ntasks:\n  - id: t\n    type: {written}\n")
    assert err.problems[0].message.startswith(f"unknown task type '{written}'; known types: ")


def test_a_validator_error_is_worded_once() -> None:
    """It read `Value error, expected an ISO-8601 duration …, got '20 seconds' (got '20 seconds')`."""
    err = problems("id: x\nnamespace: a\ntasks:\n  - {id: t, type: io.kestra.plugin.core.flow.Sleep, duration: 20s}\n")
    (problem,) = err.problems
    assert problem.message == "expected an ISO-8601 duration such as PT30S or PT1H, got '20s'"


def test_missing_file_is_a_flow_error() -> None:
    with pytest.raises(FlowError, match="cannot read the file"):
        load_flow_file("does/not/exist.yaml")


def test_aliases_load_as_the_current_types() -> None:
    flow = load_flow(
        "id: x\nnamespace: a\ntasks:\n  - {id: r, type: io.kestra.core.tasks.debugs.Return, format: a}\n"
        "  - id: s\n    type: io.kestra.core.tasks.flows.Sequential\n    tasks:\n"
        "      - {id: l, type: io.kestra.core.tasks.log.Log, message: a}\n"
    )
    assert isinstance(flow.tasks[0], core.Return) and isinstance(flow.tasks[1], flowable.Sequential)
    assert isinstance(flow.tasks[1].tasks[0], core.Log)


def test_durations_accept_the_reference_spellings() -> None:
    flow = load_flow(
        "id: x\nnamespace: a\ntasks:\n  - {id: s, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.25s}\n"
    )
    (sleep,) = flow.tasks
    assert isinstance(sleep, core.Sleep) and sleep.duration.total_seconds() == 0.25


def test_the_tag_of_a_typed_property_is_not_part_of_the_field() -> None:
    """It read `tasks[0].retry.constant.maxAttempts` (pydantic's tag of the `retry` union)."""
    err = problems(
        "id: x\nnamespace: a\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        "    retry: {type: constant, interval: PT1S, maxAttempts: 3}\n"
    )
    assert [p.format("f.yaml") for p in err.problems] == [
        "f.yaml:7:58: tasks[0].retry.maxAttempts: unknown property 'maxAttempts'"
    ]


def test_a_refused_mapping_and_an_empty_list_are_not_repeated_back() -> None:
    empty = problems("id: x\nnamespace: a\ntasks: []\n")
    assert [p.format("f.yaml") for p in empty.problems] == ["f.yaml:3:8: tasks: expected at least 1 item, not 0"]
    cron = problems(
        "id: x\nnamespace: a\ntriggers:\n"
        "  - {id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: '61 * * * *'}\n"
        "tasks:\n  - {id: t, type: io.kestra.plugin.core.log.Log, message: hi}\n"
    )
    refused = [p.format("f.yaml") for p in cron.problems]
    assert refused == ["f.yaml:4:5: triggers[0]: invalid cron expression '61 * * * *'"]


@pytest.mark.parametrize("labels", ["[env, prod]", "[{key: env, value: prod}, {key: team}]"])
def test_a_label_list_item_that_is_no_pair_is_refused_not_dropped(labels: str) -> None:
    """`labels: [env, prod]` loaded as no labels at all; `{key: team}` as the label team=None."""
    task = "{id: t, type: io.kestra.plugin.core.log.Log, message: hi}"
    err = problems(f"id: x\nnamespace: a\nlabels: {labels}\ntasks:\n  - {task}\n")
    (problem,) = err.problems
    assert problem.field == "labels" and problem.line == 3
    assert problem.message in (
        "item 0 is not a {key, value} pair: 'env'",
        "item 1 is not a {key, value} pair: {'key': 'team'}",
    )
