"""Flows from YAML, with errors that name the file, line, column, field and what was expected.

Whatever the input, a malformed flow is a `FlowError` whose problems read `file:line:col: field: message`
(never another exception): bytes that are not UTF-8 (a UTF-8 byte order mark is accepted, UTF-16/32 named),
control characters, invalid YAML, duplicate mapping keys (refused rather than letting the last one win),
nesting deeper than `MAX_DEPTH`, aliases that expand past `MAX_NODES` nodes (a "billion laughs" alias
bomb) or refer to themselves, files over `MAX_FLOW_BYTES`, and every schema problem of the flow itself.
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections import Counter
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from conveyor.common import plugin_defaults
from conveyor.common.errors import FlowError, Problem
from conveyor.common.flow import Flow
from conveyor.common.plugin_defaults import PluginDefault
from conveyor.common.task_ids import duplicate_task_ids
from conveyor.common.tasks import registry
from conveyor.common.triggers import registry as triggers
from conveyor.common.triggers.conditions import CONDITION_TYPES

Loc = tuple[int | str, ...]

# The largest flow source, in bytes (the API's request body too).
MAX_FLOW_BYTES = 1024 * 1024
# The deepest nesting of mappings and sequences, aliases followed (the reference's flows stay under 20).
MAX_DEPTH = 64
# The most YAML nodes a flow may expand to once its aliases are followed.
MAX_NODES = 100_000

_MERGE = "tag:yaml.org,2002:merge"
# Checked longest first: a UTF-32 LE mark starts with the UTF-16 LE one.
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
# What PyYAML's reader refuses (`yaml.reader.Reader.NON_PRINTABLE`).
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def load_flow_file(path: str | Path) -> Flow:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FlowError(str(path), [Problem("", f"cannot read the file: {exc.strerror}")]) from exc
    return load_flow(decode_flow(raw, str(path)), str(path))


def decode_flow(raw: bytes, source: str = "<flow>") -> str:
    """The text of a flow file: UTF-8, with or without a byte order mark; anything else is a `FlowError`."""
    if len(raw) > MAX_FLOW_BYTES:
        raise FlowError(source, [Problem("", f"{len(raw)} bytes: a flow may be at most {MAX_FLOW_BYTES} bytes")])
    for bom, name in _FOREIGN_BOMS:
        if raw.startswith(bom):
            raise FlowError(source, [Problem("", f"the file is {name} (byte order mark); save it as UTF-8", 1, 1)])
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        line, column = _position(before, len(before))
        what = f"byte 0x{raw[exc.start]:02x} is not UTF-8 (a binary file, or another encoding?); save it as UTF-8"
        raise FlowError(source, [Problem("", what, line, column)]) from None


def load_flow(text: str, source: str = "<flow>", defaults: Sequence[PluginDefault] | None = None) -> Flow:
    """The flow in `text`, its `pluginDefaults` and then `defaults` (None: the settings' global ones) applied."""
    registry.resolve()
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_FLOW_BYTES:
        raise FlowError(source, [Problem("", f"a flow may be at most {MAX_FLOW_BYTES} bytes")])
    node, data = _parse(text, source)
    if not isinstance(data, dict):
        raise FlowError(source, [Problem("", "expected a mapping with id, namespace and tasks", 1)])
    try:
        data, supplied = plugin_defaults.inject(
            data, plugin_defaults.global_defaults() if defaults is None else defaults
        )
    except plugin_defaults.DefaultError as exc:
        loc = list(exc.path)
        at, _ = _node_at(node, loc)
        line, column = (at.start_mark.line + 1, at.start_mark.column + 1) if at is not None else (None, None)
        raise FlowError(source, [Problem(_field(loc), str(exc), line, column)]) from None
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(err, node, _tags(), supplied) for err in exc.errors()]
        raise FlowError(source, _unique(problems)) from exc
    duplicates = [i for i, n in Counter(t.id for t in flow.all_tasks()).items() if n > 1]
    if duplicates:
        types = {*registry.task_classes(), *(cls.canonical_type() for cls in registry.task_classes().values())}
        raise FlowError(source, duplicate_task_ids(node, duplicates, types))
    twice = [i for i, n in Counter(t.id for t in flow.triggers).items() if n > 1]
    if twice:
        raise FlowError(source, [Problem("triggers", f"duplicate trigger id '{i}'") for i in twice])
    return flow


def _tags() -> set[str]:
    """The discriminator tags pydantic puts in error locations (task, trigger and condition type names)."""
    names = [*registry.task_classes(), *triggers.trigger_classes(), *CONDITION_TYPES]
    canonical = [
        *(cls.canonical_type() for cls in registry.task_classes().values()),
        *(cls.canonical_type() for cls in triggers.trigger_classes().values()),
        *(cls.canonical_type() for cls in CONDITION_TYPES.values()),
    ]
    return {*names, *canonical}


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses nesting deeper than `MAX_DEPTH` while it composes (its composer
    recurses: an unbounded depth would end in a `RecursionError`)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if not self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.MarkedYAMLError(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _parse(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for positions) and its data, once the tree passed `_Checker`."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, None
        problems = _Checker(loader).check(node)
        if problems:
            raise FlowError(source, problems)
        return node, loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position or 0)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        what = f"control character U+{code:04X} is not allowed in YAML (remove it, or write it escaped)"
        raise FlowError(source, [Problem(_field_at(text, exc.position or 0), what, line, column)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise FlowError(source, [Problem("", f"invalid YAML: {what}", *at)]) from None
    except yaml.YAMLError as exc:
        raise FlowError(source, [Problem("", f"invalid YAML: {exc}")]) from None
    finally:
        if loader is not None:
            loader.dispose()


class _Checker:
    """One walk over the composed tree, aliases followed once: duplicate keys, depth and expanded size."""

    def __init__(self, loader: _Loader) -> None:
        self._loader = loader
        self._sizes: dict[int, int] = {}
        self._open: set[int] = set()
        self.problems: list[Problem] = []

    def check(self, root: yaml.Node) -> list[Problem]:
        try:
            if self._size(root, []) > MAX_NODES:
                self._refuse(root, [], f"expands to more than {MAX_NODES} nodes through its aliases")
        except _Refused as exc:
            return [exc.problem]
        return self.problems

    def _refuse(self, node: yaml.Node, path: list[int | str], message: str) -> None:
        raise _Refused(Problem(_field(path), message, node.start_mark.line + 1, node.start_mark.column + 1))

    def _size(self, node: yaml.Node, path: list[int | str]) -> int:
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in self._open:
            self._refuse(node, path, "an alias refers to a node that contains it (a recursive structure)")
        if len(path) > MAX_DEPTH:
            self._refuse(node, path, f"nested deeper than {MAX_DEPTH} levels (aliases followed)")
        self._open.add(id(node))
        size = 1
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                size += self._size(item, [*path, index])
        elif isinstance(node, yaml.MappingNode):
            self._duplicates(node, path)
            for key, value in node.value:
                size += self._size(key, path) + self._size(value, [*path, _name(key)])
        self._open.discard(id(node))
        if size > MAX_NODES:
            self._refuse(node, path, f"expands to more than {MAX_NODES} nodes through its aliases")
        self._sizes[id(node)] = size
        return size

    def _duplicates(self, node: yaml.MappingNode, path: list[int | str]) -> None:
        first: dict[Any, yaml.Node] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                continue
            try:
                value = self._loader.construct_object(key)
                hash(value)
            except (yaml.YAMLError, TypeError):
                continue  # the constructor names it afterwards
            if value in first:
                line = first[value].start_mark.line + 1
                mark = key.start_mark
                message = f"duplicate key '{key.value}' (first at line {line}): every key may appear once"
                self.problems.append(Problem(_field([*path, key.value]), message, mark.line + 1, mark.column + 1))
            else:
                first[value] = key


def _name(key: yaml.Node) -> int | str:
    return str(key.value) if isinstance(key, yaml.ScalarNode) else "?"


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of the character at `index`."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _field_at(text: str, index: int) -> str:
    """The field whose value holds the character at `index`, found in the text with its control
    characters blanked; "" when that text is no YAML either."""
    loader: _Loader | None = None
    try:
        loader = _Loader(_NON_PRINTABLE.sub(" ", text))
        node = loader.get_single_node()
    except yaml.YAMLError:
        return ""
    finally:
        if loader is not None:
            loader.dispose()
    path: list[int | str] = []
    while node is not None and len(path) <= MAX_DEPTH:
        children: list[tuple[int | str, yaml.Node]] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            children = [(_name(k), v) for k, v in node.value if k.start_mark.index <= index]
        found = [(part, child) for part, child in children if child.start_mark.index <= index < child.end_mark.index]
        if not found:
            break
        part, node = found[-1]
        path.append(part)
    return _field(path)


def _problem(
    err: ErrorDetails, root: yaml.Node | None, tags: set[str], supplied: AbstractSet[Loc] = frozenset()
) -> Problem:
    loc = [part for part in err["loc"] if not (isinstance(part, str) and part in tags)]
    # Pydantic names the member of `str | list` that failed (e.g. "str"); the user wrote one field.
    loc = [p for p in loc if p not in ("str", "list[any]", "int", "bool", "function-after[_labels(), dict[str,str]]")]
    loc = _without_type_tags(root, loc)
    if err["type"] == "union_tag_invalid" and _type_node(root, loc) is not None:
        loc = [*loc, "type"]  # an unknown type is pointed at where it is written, not at its mapping
    node, found = _node_at(root, loc)
    line = node.start_mark.line + 1 if node is not None else None
    column = node.start_mark.column + 1 if node is not None else None
    message = _message(err, loc, found)
    if any(tuple(loc[: len(path)]) == path for path in supplied):
        message += " (set by pluginDefaults)"
    return Problem(_field(loc), message, line, column)


def _without_type_tags(root: yaml.Node | None, loc: list[int | str]) -> list[int | str]:
    """`loc` without the tags of the other discriminated unions (`retry`'s `constant`): where the user wrote a
    mapping whose `type` is that tag and no key of that name, the tag is pydantic's, not a field."""
    node: yaml.Node | None = root
    kept: list[int | str] = []
    for index, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            kind = keys.get("type")
            if part not in keys and isinstance(kind, yaml.ScalarNode) and kind.value == part:
                continue
            node = keys.get(part)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return kept + list(loc[index:])
        kept.append(part)
    return kept


def _type_node(root: yaml.Node | None, loc: list[int | str]) -> yaml.Node | None:
    """The value of `type` in the mapping at `loc`, when it is written there."""
    node, found = _node_at(root, [*loc, "type"])
    return node if found and isinstance(node, yaml.ScalarNode) else None


def _node_at(root: yaml.Node | None, loc: list[int | str]) -> tuple[yaml.Node | None, bool]:
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, _ in node.value if k.value == part), None)
            if match is None:
                return node, False
            node = match if part != loc[-1] else (key if isinstance(match, yaml.MappingNode) else match)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node, False
    return node, True


def _field(loc: list[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: ErrorDetails, loc: list[int | str], found: bool) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _type_message(kind, loc, ctx)
    if kind == "missing":
        return "required property is missing"
    if kind == "extra_forbidden":
        return f"unknown property '{loc[-1] if loc else ''}'"
    if kind == "string_pattern_mismatch":
        return f"expected an identifier matching {ctx.get('pattern')}, got {_short(err['input'])}"
    # A validator's own ValueError already says what it got: no "Value error, " prefix, no second "(got …)".
    text = err["msg"].removeprefix("Value error, ").replace("Input should be", "expected")
    text = text.replace("List should have", "expected").replace(" after validation", "")
    got = _short(err["input"])
    # a whole mapping (a trigger its validator refused) is where the problem is, not a value worth repeating
    shown = found and got not in text and not isinstance(err["input"], dict) and err["type"] != "too_short"
    shown = shown and not (err["type"] == "value_error" and ": " in text)  # the validator said what it got
    return f"{text} (got {got})" if shown else text


def _type_message(kind: str, loc: list[int | str], ctx: dict[str, Any]) -> str:
    """An unknown or missing `type`, named for what it types: a task, a trigger, a condition, or a property's
    object (e.g. `options.auth`)."""
    if "conditions" in loc:
        what, known = "condition", sorted({cls.canonical_type() for cls in CONDITION_TYPES.values()})
    elif loc and loc[0] == "triggers":
        what, known = "trigger", triggers.known_types()
    elif kind == "union_tag_invalid" and ctx.get("discriminator") not in (None, "_discriminate()"):
        return f"unknown type '{ctx.get('tag')}'; expected one of {ctx.get('expected_tags')}"
    else:
        what, known = "task", registry.known_types()
    if kind == "union_tag_not_found":
        return f"missing 'type': every {what} needs a type"
    tag = str(ctx.get("tag"))
    return f"unknown {what} type '{tag}'; {_did_you_mean(tag, known)}known types: {', '.join(known)}"


def _did_you_mean(tag: str, known: list[str]) -> str:
    """`did you mean 'io.kestra.plugin.core.debug.Return'? ` for a name that differs from a known one by a typo
    in its class (`…debug.Retrun`), by case, or only in its package when one known class has that name
    (`…core.debg.Return`); empty otherwise (`…scripts.node.Commands` is not `…shell.Commands`)."""
    package, _, name = tag.lower().rpartition(".")
    split = {k: k.lower().rpartition(".") for k in known}
    typo = [k for k, (pkg, _, n) in split.items() if pkg == package and _ratio(n, name) >= 0.8]
    same = [k for k, (_, _, n) in split.items() if n == name]
    close = typo or (same if len(same) == 1 else difflib.get_close_matches(tag, same, n=1, cutoff=0.95))
    return f"did you mean '{close[0]}'? " if close else ""


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: dict[tuple[str, str], Problem] = {}
    for p in problems:
        seen.setdefault((p.field, p.message), p)
    return list(seen.values())


def flow_to_dict(flow: Flow) -> dict[str, Any]:
    return flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
