"""`pluginDefaults` (issue 16): in the flow and from the settings, by type or prefix, forced or not, applied
before validation (a default supplies a required property); errors still name the file, line and field."""

from __future__ import annotations

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.loader import load_flow
from conveyor.common.plugin_defaults import PluginDefault, PluginDefaultsSettings
from conveyor.common.tasks import core
from tests.unit.sim import run_flow

LOG_WARN = """
id: defaults
namespace: t
pluginDefaults:
  - type: io.kestra.plugin.core.log.Log
    values:
      level: WARN
tasks:
  - id: warn
    type: io.kestra.plugin.core.log.Log
    message: careful
  - id: info
    type: io.kestra.plugin.core.log.Log
    message: fine
    level: INFO
"""


def _task(flow_text: str, index: int = 0, defaults: list[PluginDefault] | None = None) -> object:
    return load_flow(flow_text, "flows/d.yaml", defaults=defaults or []).tasks[index]


def test_a_default_level_makes_log_log_at_that_level_and_the_task_own_value_wins() -> None:
    sim = run_flow(LOG_WARN)
    levels = {(line["taskId"], line["level"]) for line in sim.log_lines}
    assert ("warn", "WARN") in levels and ("info", "INFO") in levels


def test_a_default_supplies_a_required_property_and_reaches_nested_tasks_by_prefix() -> None:
    flow = """
id: d
namespace: t
pluginDefaults:
  - type: io.kestra.plugin.core.log
    values: {message: from the default, timeout: PT1M}
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: nested
        type: io.kestra.plugin.core.log.Log
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: x
"""
    seq = _task(flow)
    nested = seq.tasks[0]  # type: ignore[attr-defined]
    assert isinstance(nested, core.Log) and nested.message == "from the default"
    assert nested.timeout is not None and _task(flow, 1).timeout is None  # type: ignore[attr-defined]


def test_forced_wins_over_the_task_and_the_flow_wins_over_the_settings() -> None:
    flow = """
id: d
namespace: t
pluginDefaults:
  - {type: io.kestra.plugin.core.log.Log, values: {level: ERROR}}
  - {type: io.kestra.plugin.core.log.Log, forced: true, values: {message: forced}}
tasks:
  - {id: l, type: io.kestra.plugin.core.log.Log, message: mine}
"""
    settings = [
        PluginDefault(type="io.kestra.plugin.core.log.Log", values={"level": "DEBUG"}),
        PluginDefault(type="io.kestra.plugin.core.log.Log", forced=True, values={"message": "global"}),
    ]
    task = _task(flow, defaults=settings)
    assert (task.message, task.level) == ("forced", "ERROR")  # type: ignore[attr-defined]
    alone = "id: d\nnamespace: t\ntasks:\n  - {id: l, type: io.kestra.core.tasks.log.Log, message: mine}\n"
    task = _task(alone, defaults=settings)  # the alias type gets the canonical type's defaults
    assert (task.message, task.level) == ("global", "DEBUG")  # type: ignore[attr-defined]


def test_global_defaults_come_from_conveyor_plugin_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CONVEYOR_PLUGIN_DEFAULTS", '[{"type": "io.kestra.plugin.core.log.Log", "values": {"level": "WARN"}}]'
    )
    (default,) = PluginDefaultsSettings().defaults
    assert default.type == "io.kestra.plugin.core.log.Log" and default.values == {"level": "WARN"}


def test_a_bad_default_value_names_the_task_line_and_says_where_it_came_from() -> None:
    flow = LOG_WARN.replace("level: WARN", "level: LOUD")
    with pytest.raises(FlowError) as caught:
        load_flow(flow, "flows/d.yaml", defaults=[])
    (problem,) = caught.value.problems
    assert problem.field == "tasks[0].level" and problem.line == 9
    assert "(set by pluginDefaults)" in problem.message and "flows/d.yaml:9:" in str(caught.value)


def test_an_unknown_property_is_an_error_for_an_exact_type_and_left_out_for_a_prefix() -> None:
    exact = LOG_WARN.replace("level: WARN", "lvl: WARN")
    with pytest.raises(FlowError) as caught:
        load_flow(exact, "flows/d.yaml", defaults=[])
    (problem,) = caught.value.problems
    assert problem.field == "pluginDefaults[0].values.lvl" and problem.line == 7
    assert "no property 'lvl' in io.kestra.plugin.core.log.Log" in problem.message
    prefix = LOG_WARN.replace("type: io.kestra.plugin.core.log.Log\n    values", "type: io.kestra\n    values")
    assert _task(prefix).level.value == "WARN"  # type: ignore[attr-defined]


def test_a_malformed_plugin_defaults_entry_is_refused_with_its_line() -> None:
    with pytest.raises(FlowError) as caught:
        load_flow(LOG_WARN.replace("    values:\n      level: WARN\n", "    values: 3\n"), "flows/d.yaml", defaults=[])
    assert any(p.field == "pluginDefaults[0].values" for p in caught.value.problems)
