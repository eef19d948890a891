"""Malformed flow files, fuzzed: whatever the bytes, the loader answers a valid `Flow` or a `FlowError` whose
every problem reads `file:line:col: field: message` (never another exception), and `conveyor validate`
exits 2 with that message and no traceback.

The hypothesis tests are bounded and derandomized (the same examples on every run: not flaky on a shared
machine); the named cases pin what fuzzing found or the issue asked for: control characters, binary files,
byte order marks, alias bombs, recursive aliases, deep nesting and duplicate keys.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.common.errors import FlowError
from conveyor.common.flow import Flow
from conveyor.common.loader import MAX_DEPTH, MAX_NODES, decode_flow, load_flow
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
FLOWS = sorted([*(ROOT / "examples").glob("*.yaml"), *(ROOT / "tests/corpus/kestra/flows").glob("*.yaml")])
SOURCES = [p.read_bytes() for p in FLOWS]
SOURCE = "flows/fuzzed.yaml"
# A problem as the CLI prints it: the file, then line and column when known, then the field and message.
PROBLEM = re.compile(rf"^{re.escape(SOURCE)}(:\d+(:\d+)?)?: (\S[^:\n]*: )?\S")

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

HELLO = b"id: hello\nnamespace: a.b\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


def load(raw: bytes) -> Flow | FlowError:
    """The flow, or the `FlowError` it is refused with; any other exception fails the test."""
    try:
        return load_flow(decode_flow(raw, SOURCE), SOURCE)
    except FlowError as exc:
        return exc


def refused(raw: bytes) -> FlowError:
    found = load(raw)
    assert isinstance(found, FlowError), f"accepted: {raw[:200]!r}"
    return found


def assert_clear(err: FlowError) -> None:
    assert err.source == SOURCE and err.problems
    for problem in err.problems:
        assert PROBLEM.match(problem.format(SOURCE)), problem.format(SOURCE)
        assert len(problem.message) < 2_000


# -- mutations of valid flows -------------------------------------------------------------------------------

CONTROL = st.sampled_from([*(chr(c) for c in range(0x20) if c not in (9, 10, 13)), "\x7f", "\ufffe", "\x80"])
NASTY = st.sampled_from(
    [b"&a ", b"*a", b"<<: *a\n", b"!!binary ", b"!!python/object:os.system ", b"{", b"[", b"]", b":", b"- ", b"\t",
     b"'", b'"', b"\\", b"%YAML 1.1\n", b"---\n", b"...\n", b"? ", b"|\n", b">-\n", b"\xef\xbb\xbf", b"\xff\xfe",
     b"\x00", b"\xc3", b"\xed\xa0\x80", b"null", b"~", b"1e999", b"-.inf", b".nan", b"0x1F", b"2024-01-01"]
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["insert", "control", "delete", "duplicate-line", "bytes", "truncate"]))
        if kind == "insert":
            raw[at:at] = draw(NASTY)
        elif kind == "control":
            raw[at:at] = draw(CONTROL).encode("utf-8", "surrogatepass")
        elif kind == "delete":
            del raw[at : at + draw(st.integers(1, 20))]
        elif kind == "duplicate-line":
            lines = bytes(raw).splitlines(keepends=True) or [b""]
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            raw = bytearray(b"".join(lines))
        elif kind == "bytes":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[at:]
    return bytes(raw)


@FUZZ
@given(mutated())
def test_mutated_flows_load_or_are_refused_clearly(raw: bytes) -> None:
    found = load(raw)
    if isinstance(found, FlowError):
        assert_clear(found)


@FUZZ
@given(st.binary(max_size=600))
def test_any_bytes_load_or_are_refused_clearly(raw: bytes) -> None:
    found = load(raw)
    if isinstance(found, FlowError):
        assert_clear(found)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_loads_or_is_refused_clearly(text: str) -> None:
    try:
        load_flow(text, SOURCE)
    except FlowError as exc:
        assert_clear(exc)


# -- the named cases ----------------------------------------------------------------------------------------


def test_every_valid_flow_still_loads() -> None:
    assert all(isinstance(load(raw), Flow) for raw in SOURCES)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x0c", "\x1b", "\x7f", "\ufffe"])
def test_a_control_character_names_line_column_and_field(char: str) -> None:
    (p,) = refused(HELLO.replace(b"message: hi", b"message: h" + char.encode() + b"i")).problems
    assert (p.line, p.column, p.field) == (6, 15, "tasks[0].message")
    assert p.message.startswith(f"control character U+{ord(char):04X} is not allowed")


def test_a_binary_file_is_refused_at_its_first_bad_byte() -> None:
    (p,) = refused(b"id: x\nnamespace: a\nPNG\xff\xd8").problems
    assert (p.line, p.column) == (3, 4) and "byte 0xff is not UTF-8" in p.message


def test_a_utf8_bom_is_accepted_and_utf16_is_named() -> None:
    flow = load(codecs.BOM_UTF8 + HELLO)
    assert isinstance(flow, Flow) and flow.id == "hello"
    assert isinstance(load_flow("\ufeff" + HELLO.decode()), Flow)
    for encoding, name in (("utf-16", "UTF-16"), ("utf-32", "UTF-32")):
        (p,) = refused(HELLO.decode().encode(encoding)).problems
        assert f"the file is {name}" in p.message and "save it as UTF-8" in p.message


def test_a_billion_laughs_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    err = refused(("id: x\nnamespace: a\n" + "\n".join(lines) + "\ntasks: *a9\n").encode())
    (p,) = err.problems
    assert f"more than {MAX_NODES} nodes through its aliases" in p.message and p.line is not None


def test_a_recursive_alias_is_refused() -> None:
    (p,) = refused(b"id: x\nnamespace: a\ntasks: &t\n  - *t\n").problems
    assert "refers to a node that contains it" in p.message and p.field.startswith("tasks")


@pytest.mark.parametrize("opening", ["[", "{a: ", "- "])
def test_deep_nesting_is_refused_not_a_recursion_error(opening: str) -> None:
    depth = 1_000 if opening != "- " else 200
    body = opening * depth if opening != "- " else "\n" + "".join("  " * (i + 1) + "-\n" for i in range(depth))
    (p,) = refused(f"id: x\nnamespace: a\nvariables: {body}".encode()).problems
    assert f"nested deeper than {MAX_DEPTH} levels" in p.message and p.line is not None


def test_aliases_within_the_limits_still_load() -> None:
    raw = HELLO + b"labels: &l {team: data}\nvariables:\n  labels: *l\n  <<: {merged: 1}\n"
    assert isinstance(load(raw), Flow)


def test_a_duplicate_key_is_refused_naming_it_and_where() -> None:
    err = refused(HELLO.replace(b"    message: hi\n", b"    message: hi\n    message: bye\n"))
    (p,) = err.problems
    assert (p.field, p.line, p.column) == ("tasks[0].message", 7, 5)
    assert p.message == "duplicate key 'message' (first at line 6): every key may appear once"
    assert f"{SOURCE}:7:5: tasks[0].message: duplicate key 'message'" in str(err)


def test_every_duplicate_key_is_named_top_level_too() -> None:
    err = refused(HELLO + b"id: again\nnamespace: b\n")
    assert [(p.field, p.line) for p in err.problems] == [("id", 7), ("namespace", 8)]


def test_a_merge_key_may_override_what_it_merges() -> None:
    flow = load(HELLO + b"variables:\n  base: &b {a: 1, b: 2}\n  over:\n    <<: *b\n    a: 3\n")
    assert isinstance(flow, Flow) and flow.variables["over"] == {"a": 3, "b": 2}


def test_a_huge_value_is_quoted_short_in_the_message() -> None:
    (p,) = refused(HELLO.replace(b"- id: t", b"- id: '" + b"x y" * 50_000 + b"'")).problems
    assert p.field == "tasks[0].id" and len(p.message) < 300


# -- the CLI ------------------------------------------------------------------------------------------------

_PAIRS = list(zip("abcdefgh", "bcdefghi", strict=True))
BAD_FILES = {
    "control.yaml": HELLO.replace(b"hi", b"h\x01i"),
    "binary.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8",
    "utf16.yaml": HELLO.decode().encode("utf-16"),
    "bomb.yaml": b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + b"".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n".encode() for p, c in _PAIRS),
    "deep.yaml": b"id: x\nnamespace: a\ntasks: " + b"[" * 3_000,
    "duplicate.yaml": HELLO + b"id: again\n",
    "tab.yaml": b"id: x\n\tnamespace: a\n",
}


def test_validate_names_each_bad_file_and_exits_2_without_a_traceback(tmp_path: Path) -> None:
    for name, raw in BAD_FILES.items():
        (tmp_path / name).write_bytes(raw)
    (tmp_path / "bom.yaml").write_bytes(codecs.BOM_UTF8 + HELLO)
    paths = [str(tmp_path / name) for name in [*BAD_FILES, "bom.yaml"]]
    result = run_cli(dict(os.environ), "validate", *paths, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for name in BAD_FILES:
        assert re.search(rf"{re.escape(str(tmp_path / name))}:\d+(:\d+)?: ", result.stderr), (name, result.stderr)
    assert "duplicate.yaml:7:1: id: duplicate key 'id'" in result.stderr
    assert "bom.yaml: valid flow a.b.hello" in result.stderr
