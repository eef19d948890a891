"""Inputs and outputs in a flow: how declarations are checked when the flow loads, how tasks see the
values (the reference's `inputs` flow run through the executor's decisions), typed flow outputs, and
SECRET values: masked where an execution is indexed, revealed only to expressions, never logged."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.common.errors import FlowError
from conveyor.common.input_secrets import MASK, is_sealed, seal
from conveyor.common.loader import load_flow
from conveyor.common.render import render
from conveyor.common.state import StateType
from conveyor.common.tasks.core import Log
from conveyor.common.tasks.registry import task_classes
from conveyor.indexer.documents import execution_document
from conveyor.worker.runners.core import LogRunner
from conveyor.worker.testing import run_context
from tests.unit.sim import run_flow

S = StateType
LOG = "io.kestra.plugin.core.log.Log"
HERE = Path(__file__).parent
REFERENCE = (HERE / "data" / "inputs-flow.yaml").read_text()
# The values of the reference's InputsTest (its FILE inputs are left out: no internal storage yet).
GIVEN = {
    "string": "myString",
    "enum": "ENUM_VALUE",
    "int": "42",
    "float": "42.42",
    "bool": "false",
    "instant": "2019-10-06T18:27:49Z",
    "date": "2019-10-06",
    "time": "18:27:49",
    "duration": "PT5M6S",
    "json": '{"a": "b"}',
    "uri": "https://www.google.com",
    "nested.string": "a string",
    "nested.more.int": "123",
    "nested.bool": "true",
    "validatedString": "A123",
    "validatedInt": "12",
    "validatedDate": "2023-01-02",
    "validatedDateTime": "2023-01-01T00:00:10Z",
    "validatedDuration": "PT15S",
    "validatedFloat": "0.42",
    "validatedTime": "11:27:49",
    "secret": "secret",
    "array": "[1, 2, 3]",
    "yaml": "some: property\nalist:\n- of\n- values",
}


def bad(declaration: str) -> str:
    """The message of the flow error for an input declared by `declaration` (YAML flow mapping entries)."""
    text = f"id: i\nnamespace: t\ninputs:\n  - {{id: x, {declaration}}}\ntasks: [{{id: a, type: x.Log}}]\n"
    with pytest.raises(FlowError) as caught:
        load_flow(text.replace("x.Log", "io.kestra.plugin.core.log.Log, message: m"), "f.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("type: INT, validator: 'a+'", "f.yaml:4:5: inputs[0]: property 'validator' does not apply to INT inputs"),
        ("type: STRING, colour: red", "inputs[0].colour: unknown property 'colour'"),
        ("type: STRING, min: 1", "property 'min' does not apply to STRING inputs"),
        ("type: DATE, min: 2020-01-01", "property 'min' does not apply to DATE inputs"),
        ("type: NUMBER", "inputs[0].type"),
        ("type: ARRAY", "an ARRAY input needs an itemType"),
        ("type: ARRAY, itemType: ARRAY", "itemType cannot be ARRAY"),
        ("type: ARRAY, itemType: SECRET", "itemType cannot be SECRET"),
        ("type: STRING}\n  - {id: x.y, type: STRING", "inputs: ids conflict at 'x.y': one name is both a value"),
        ("type: SELECT", "a SELECT input needs values"),
        ("type: MULTISELECT, values: [a], options: [b]", "give values or options, not both"),
        ("type: DURATION, min: 5", "min `5` is not a DURATION"),
        ("type: DATE, after: someday", "after `someday` is not a DATE"),
        ("type: STRING, validator: '('", "validator is not a regular expression"),
        ("type: STRING, displayName: " + "d" * 65, "inputs[0].displayName"),
    ],
)
def test_a_bad_declaration_is_a_flow_error_with_its_line(declaration: str, message: str) -> None:
    assert message in bad(declaration)


def test_declarations_take_the_reference_properties() -> None:
    flow = load_flow("""
id: i
namespace: t
inputs:
  - id: region
    type: SELECT
    displayName: Region
    description: where to run
    values: [eu, us]
    allowCustomValue: true
    isRadio: true
  - id: zone
    type: STRING
    required: false
    dependsOn: {inputs: [region], condition: "{{ inputs.region == 'eu' }}"}
  - {id: flag, type: BOOL, defaults: true}
tasks: [{id: a, type: io.kestra.plugin.core.log.Log, message: m}]
""")
    region, zone, flag = flow.inputs
    assert region.display_name == "Region" and region.allow_custom_value and region.values == ["eu", "us"]
    assert zone.depends_on is not None and zone.depends_on.inputs == ["region"]
    assert flag.type == "BOOLEAN"


def test_the_reference_inputs_flow_renders_every_type_optional_and_dotted_inputs() -> None:
    sim = run_flow(REFERENCE, GIVEN)
    assert sim.current() == S.SUCCESS
    value = {run.task_id: (run.outputs or {}).get("value") for run in sim.ex.task_run_list if run.value is None}
    assert value["string"] == "myString"
    assert value["optional"] == ""  # an optional input not given renders empty
    assert value["int"] == "42" and value["float"] == "42.42" and value["instant"] == "2019-10-06T18:27:49Z"
    assert value["secret"] == "secret"  # tasks see the secret itself
    assert value["json"] == '{"a":"b"}' and value["yamlOutput"] == '{"some":"property","alist":["of","values"]}'
    assert value["nested"] == "a string 123 true"
    assert sorted(run.value for run in sim.runs("log") if run.value is not None) == ["1", "2", "3"]
    inputs = sim.ex.inputs or {}
    assert inputs["nested"] == {"string": "a string", "more": {"int": 123}, "bool": True}
    assert inputs["optional"] is None and is_sealed(inputs["secret"])


def test_an_indexed_execution_never_holds_a_secret_value() -> None:
    sim = run_flow(REFERENCE, GIVEN)
    document = execution_document(sim.ex)
    assert document["inputs"]["secret"] == MASK
    assert "secret" not in str(document["inputs"]).replace("'secret'", "")  # only its key remains
    assert document["inputs"]["string"] == "myString"


OUTPUTS = """
id: o
namespace: t
tasks:
  - {id: r, type: io.kestra.plugin.core.debug.Return, format: "VALUE"}
outputs:
  - {id: out, type: TYPE, value: "{{ outputs.r.value }}"}
"""


@pytest.mark.parametrize(
    ("kind", "value", "typed"),
    [
        ("INT", "42", 42),
        ("FLOAT", "1.5", 1.5),
        ("BOOLEAN", "true", True),
        ("BOOL", "false", False),
        ("JSON", '{"a": 1}', {"a": 1}),
        ("YAML", "a: 1", {"a": 1}),
        ("DATE", "2024-01-02", "2024-01-02"),
        ("DURATION", "PT60S", "PT1M"),
        ("URI", "https://example.com/x", "https://example.com/x"),
        ("STRING", "hi", "hi"),
    ],
)
def test_flow_outputs_are_typed(kind: str, value: str, typed: object) -> None:
    sim = run_flow(OUTPUTS.replace("TYPE", kind).replace("VALUE", value.replace('"', '\\"')))
    assert sim.current() == S.SUCCESS and sim.ex.outputs == {"out": typed}


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("INT", "many", "output 'out': expected an integer (INT), got `many`"),
        ("DATETIME", "noon", "output 'out': expected an ISO-8601 date-time (DATETIME)"),
        ("EMAIL", "nobody", "output 'out': expected an email address (EMAIL)"),
    ],
)
def test_a_flow_output_that_does_not_fit_its_type_fails_the_execution(kind: str, value: str, message: str) -> None:
    sim = run_flow(OUTPUTS.replace("TYPE", kind).replace("VALUE", value))
    assert sim.current() == S.FAILED and sim.ex.outputs is None
    assert any(message in line["message"] for line in sim.log_lines)


def test_a_secret_flow_output_is_masked_when_indexed() -> None:
    sim = run_flow(OUTPUTS.replace("TYPE", "SECRET").replace("VALUE", "hunter2"))
    assert sim.current() == S.SUCCESS
    assert is_sealed((sim.ex.outputs or {})["out"])
    assert execution_document(sim.ex)["outputs"] == {"out": MASK}


def test_a_secret_is_revealed_only_where_an_expression_reads_it() -> None:
    sealed = seal("hunter2")
    context = {"inputs": {"token": sealed, "deep": {"list": [sealed]}}}
    assert render("{{ inputs.token }}|{{ inputs['token'] }}|{{ inputs.deep.list[0] }}", context) == (
        "hunter2|hunter2|hunter2"
    )
    assert "hunter2" not in render("{{ inputs }}", context)  # the whole map shows the seal, not the value


def test_a_worker_never_logs_a_secret_value() -> None:
    """The reference's input-log-secret flow: a Log of `This is my secret: {{inputs.secret}}`."""
    spec = {"id": "log-secret", "type": LOG, "message": ["This is my secret: {{inputs.secret}}", "{{ inputs.n }}"]}
    ctx, logs = run_context(spec, {"inputs": {"secret": seal("password"), "n": "password-less"}})
    task = task_classes()[LOG].model_validate(spec)
    assert isinstance(task, Log)
    LogRunner().run(task, ctx)
    assert [e.message for e in logs] == ["This is my secret: ********", "********-less"]


# The reference's invalid flows about inputs (core/src/test/resources/flows/invalids) and what FlowTest and
# YamlParserTest expect of them.
REFERENCE_INVALID = [
    (
        "inputs:\n  - {id: first_input, required: true, type: STRING}\n"
        "  - {id: first_input, required: true, type: STRING}\n",
        "f.yaml:4:3: inputs: duplicate input id [first_input]",
    ),
    ('inputs:\n  - id: "wrong one"\n    type: FOO\n', "inputs[0].id"),
    ('inputs:\n  - id: "wrong one"\n    type: FOO\n', "inputs[0].type"),
    ("inputs:\n  - id: badValidatorSyntax\n    type: STRING\n    validator: \\\n", "not a regular expression"),
    (
        "inputs:\n  - {id: file, type: FILE, defaults: something}\n",
        "expected a file (an upload, or a kestra:/// storage URI)",
    ),
    ("inputs:\n  - {id: array, type: ARRAY, itemType: ARRAY}\n", "itemType cannot be ARRAY"),
    (
        "outputs:\n  - {id: o, type: STRING, value: a}\n  - {id: o, type: INT, value: '1'}\n",
        "outputs: duplicate output id [o]",
    ),
]


@pytest.mark.parametrize(("declaration", "message"), REFERENCE_INVALID)
def test_the_reference_invalid_input_flows_are_refused(declaration: str, message: str) -> None:
    text = f"id: empty\nnamespace: io.kestra.tests\n{declaration}tasks:\n  - {{id: t, type: {LOG}, message: m}}\n"
    with pytest.raises(FlowError) as caught:
        load_flow(text, "f.yaml")
    assert message in str(caught.value)
