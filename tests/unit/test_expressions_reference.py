"""The reference's own expression tests, one row each: (template, context, expected).

Every row comes from a test class of kestra-io/kestra (commit 58c1ca2d, `core/src/test/java/io/kestra/core/
runners/pebble/`): its id is `ClassName.method` (with `#n` for the n-th assertion of a method). The
reference's Java values become their JSON/Python counterparts (a `ZonedDateTime` an aware `datetime`, a
`Float` a float). Rows marked xfail (strict) are the ones Conveyor does not support; docs/flows.md lists
them with why, and strictness makes a row that starts to pass fail here, so its mark is taken off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from conveyor.common.errors import RenderError
from conveyor.common.render import NOW_KEY, render, render_value

# DateFilterTest.NOW: ZonedDateTime.parse("2013-09-08T16:19:12.123456+01")
NOW = datetime(2013, 9, 8, 16, 19, 12, 123456, tzinfo=timezone(timedelta(hours=1)))
# The `date` of the Keys/Values/ToJson/ToIon/Yaml/Jq tests: "2013-09-08T16:19:00+02"
DATE = datetime(2013, 9, 8, 16, 19, tzinfo=timezone(timedelta(hours=2)))
SECOND = {
    "string": "string",
    "int": 1,
    "float": 1.123,
    "list": ["string", 1, 1.123],
    "bool": True,
    "date": DATE,
    "map": {"string": "string", "int": 1, "float": 1.123},
}
VARS = {"vars": {"second": SECOND}}
BLOCK = {"block": {"test": {"child": "awesome"}}, "inner": "test"}
RECURSIVE = {
    "first": "1",
    "second": "{{first}}",
    "third": "{{second}}",
    "fourth": "{{render(third, recursive=false)}}",
    "map": {"third": "{{third}}"},
    "list": ["{{third}}"],
}
YAML_DOC = """# comment
string: string
int: 123
bool: true
float: 1.23
instant: "1918-02-24T00:00:00Z"
date: "1991-08-20"
time: "23:59:59"
duration: "PT5M6S"
'null':
object:
  key: "value"
  child:
    key: "value"
array:
  - string
reference: &ref
    key: reference
default: *ref
"""


class Raises:
    """The reference throws `IllegalVariableEvaluationException`: here the render raises `RenderError`."""


RAISES = Raises()


def contains(*parts: str) -> Callable[[str], bool]:
    return lambda out: all(p in out for p in parts)


def matches(pattern: str) -> Callable[[str], bool]:
    return lambda out: re.fullmatch(pattern, out) is not None


Expected = str | Raises | Callable[[str], bool]


def row(id_: str, template: str, context: dict[str, Any], expected: Expected, xfail: str | None = None) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(template, context, expected, id=id_, marks=marks)


# kestra.encryption.secret-key of the reference's core/src/test/resources/application-test.yml (24 bytes: AES-192)
AES_KEY = "I6EGNzRESu3X3pKZidrqCGOHQFUFC0yK"
# "Hello World!" encrypted with AES_KEY by Java 17's javax.crypto, as the reference's EncryptionService does
JAVA_AES = "NseQvf6d25Go55BNDeH1+9PWuQgZsIwIfR0/SisE6ethiTBARVj8oA=="
NO_RECURSIVE_SETTING = (
    "the reference's deprecated `kestra.variables.recursive-rendering: true` (every value rendered again) is not a "
    "setting here: expressions render once, `render()` renders again"
)
NO_FLOAT32 = "Python has no 32-bit float: a reference Float 1.123f is 1.1230000257492065 as a double, 1.123 here"
ROWS = [
    # ChunkFilterTest
    row("ChunkFilterTest.out", "{{ list | chunk(2) }}", {"list": list(range(1, 10))}, "[[1,2],[3,4],[5,6],[7,8],[9]]"),
    row("ChunkFilterTest.exception", "{{ test | chunk(2) }}", {"test": 1}, RAISES),
    # DateFilterTest
    row(
        "DateFilterTest.dateFormat#1",
        "{{ date | date(format='iso', timeZone='Europe/Paris') }}",
        {"date": NOW.replace(microsecond=0)},
        "2013-09-08T17:19:12.000000+02:00",
    ),
    row(
        "DateFilterTest.dateFormat#2",
        '{{ instant | date(format="iso_sec", timeZone="Europe/Paris") }}',
        {"instant": NOW.astimezone(UTC)},
        "2013-09-08T17:19:12+02:00",
    ),
    row(
        "DateFilterTest.dateFormat#3",
        '{{ zoned | date(format="iso", timeZone="Europe/Paris") }}',
        {"zoned": NOW},
        "2013-09-08T17:19:12.123456+02:00",
    ),
    row(
        "DateFilterTest.dateFormat#4",
        '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="Europe/Paris") }}',
        {"local": NOW.replace(tzinfo=None)},
        "2013-09-08 16:19:12.123456+02:00",
    ),
    row(
        "DateFilterTest.dateFormat#5",
        '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="UTC") }}',
        {"local": NOW.replace(tzinfo=None)},
        "2013-09-08 16:19:12.123456Z",
    ),
    row(
        "DateFilterTest.dateStringFormat#1",
        '{{ "July 24, 2001" | date("yyyy-MM-dd", existingFormat="MMMM dd, yyyy") }}',
        {},
        "2001-07-24",
    ),
    row(
        "DateFilterTest.dateStringFormat#2",
        '{{ "2013-09-08T17:19:12+02:00" | date(timeZone="Europe/Paris") }}',
        {},
        "2013-09-08T17:19:12.000000+02:00",
    ),
    row(
        "DateFilterTest.dateStringFormat#3",
        '{{ "2013-09-08T17:19:12" | date(timeZone="Europe/Paris") }}',
        {},
        "2013-09-08T17:19:12.000000+02:00",
    ),
    row(
        "DateFilterTest.dateStringFormat#4",
        '{{ "2013-09-08" | date(timeZone="Europe/Paris") }}',
        {},
        "2013-09-08T00:00:00.000000+02:00",
    ),
    row("DateFilterTest.timestamp", '{{ zoned | timestamp(timeZone="Europe/Paris") }}', {"zoned": NOW}, "1378653552"),
    row(
        "DateFilterTest.timestampCompare",
        "{{ (zoned | timestamp) > (zoned | dateAdd(-1, 'DAYS') | timestamp) }}",
        {"zoned": NOW},
        "true",
    ),
    row(
        "DateFilterTest.dateRfc",
        "{{ 'Tue, 08 Feb 2022 19:38:26 GMT' | date(existingFormat='rfc_1123_date_time', timeZone=\"Europe/Paris\") }}",
        {},
        "2022-02-08T20:38:26.000000+01:00",
    ),
    row(
        "DateFilterTest.instantnano",
        '{{ zoned | timestampNano(timeZone="Europe/Paris") }}',
        {"zoned": NOW},
        "1378653552123456000",
    ),
    row(
        "DateFilterTest.instantmicro",
        '{{ zoned | timestampMicro(timeZone="Europe/Paris") }}',
        {"zoned": NOW},
        "1378653552000123456",
    ),
    row("DateFilterTest.now#1", "{{ now() }}", {NOW_KEY: NOW}, "2013-09-08T15:19:12.123456Z"),
    row(
        "DateFilterTest.now#2",
        '{{ now(timeZone="Europe/Lisbon") }}',
        {NOW_KEY: NOW},
        "2013-09-08T16:19:12.123456+01:00",
    ),
    row("DateFilterTest.now#3", '{{ now(format="iso_local_date") }}', {NOW_KEY: NOW}, "2013-09-08"),
    row("DateFilterTest.now#4", "{{ now() }}", {}, matches(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")),
    row(
        "DateFilterTest.add",
        '{{ zoned | dateAdd(-1,"DAYS",timeZone="Europe/Paris")}}',
        {"zoned": NOW},
        "2013-09-07T17:19:12.123456+02:00",
    ),
    # EndsWithFilterTest, StartsWithFilterTest
    row("EndsWithFilterTest.out", '{{ "Hello World" | endsWith("World") }}', {}, "true"),
    row("StartsWithFilterTest.out", '{{ "Hello World" | startsWith("Hello") }}', {}, "true"),
    # EscapeCharFilterTest
    row(
        "EscapeCharFilterTest.validTypes#1",
        "{{ \"L'eau c'est la vie\" | escapeChar('single') }}",
        {},
        "L\\'eau c\\'est la vie",
    ),
    row("EscapeCharFilterTest.validTypes#2", "{{ '\"Hello\"' | escapeChar('double') }}", {}, '\\"Hello\\"'),
    row(
        "EscapeCharFilterTest.validTypes#3",
        "{{ \"L'eau c'est la vie\" | escapeChar('shell') }}",
        {},
        "L'\\''eau c'\\''est la vie",
    ),
    row("EscapeCharFilterTest.validTypes#4", "{{ '' | escapeChar('single') }}", {}, ""),
    row("EscapeCharFilterTest.validTypes#5", "{{ '' | escapeChar('double') }}", {}, ""),
    row("EscapeCharFilterTest.validTypes#6", "{{ '' | escapeChar('shell') }}", {}, ""),
    row("EscapeCharFilterTest.invalidTypes#1", "{{ 'Hello' | escapeChar('foo') }}", {}, RAISES),
    row("EscapeCharFilterTest.invalidTypes#2", "{{ 'Hello' | escapeChar('') }}", {}, RAISES),
    # FlattenFilterTest
    row(
        "FlattenFilterTest.flatten",
        "{{ nestedList | flatten | first }}",
        {"nestedList": ["You're doing great! Keep it up!", "Sending positive vibes your way!", ["a", "b"], "c"]},
        "You're doing great! Keep it up!",
    ),
    # IndentFilterTest (System.lineSeparator() is "\n" on Linux)
    row("IndentFilterTest.indentNull", "{{ null | indent(2) }}", {}, ""),
    row("IndentFilterTest.indentEmpty", "{{ '' | indent(2) }}", {}, ""),
    row("IndentFilterTest.indentEmptyLines", '{{ "\n\n" | indent(2) }}', {}, "\n  \n  "),
    row("IndentFilterTest.indentString", "{{ 'string' | indent(2) }}", {}, "string"),
    row("IndentFilterTest.indentInteger", "{{ 1 | indent(2) }}", {}, "1"),
    row(
        "IndentFilterTest.indentStringWithCRLF",
        '{{ "first line\r\nsecond line" | indent(2) }}',
        {},
        "first line\r\n  second line",
    ),
    row(
        "IndentFilterTest.indentStringWithLF",
        '{{ "first line\nsecond line" | indent(2) }}',
        {},
        "first line\n  second line",
    ),
    row(
        "IndentFilterTest.indentStringWithCR",
        '{{ "first line\rsecond line" | indent(2) }}',
        {},
        "first line\r  second line",
    ),
    row(
        "IndentFilterTest.indentStringWithSystemNewLine",
        '{{ "first line\nsecond line" | indent(2) }}',
        {},
        "first line\n  second line",
    ),
    row(
        "IndentFilterTest.indentWithTab",
        '{{ "first line\nsecond line" | indent(2, "\t") }}',
        {},
        "first line\n\t\tsecond line",
    ),
    # NindentFilterTest
    row("NindentFilterTest.nindentNull", "{{ null | nindent(2) }}", {}, ""),
    row("NindentFilterTest.nindentEmpty", "{{ '' | nindent(2) }}", {}, ""),
    row("NindentFilterTest.nindentEmptyLines", '{{ "\n\n" | nindent(2) }}', {}, "\n  \n  \n  "),
    row("NindentFilterTest.nindentString", "{{ 'string' | nindent(2) }}", {}, "\n  string"),
    row("NindentFilterTest.nindentInteger", "{{ 1 | nindent(2) }}", {}, "\n  1"),
    row(
        "NindentFilterTest.nindentStringWithCRLF",
        '{{ "first line\r\nsecond line" | nindent(2) }}',
        {},
        "\r\n  first line\r\n  second line",
    ),
    row(
        "NindentFilterTest.nindentStringWithLF",
        '{{ "first line\nsecond line" | nindent(2) }}',
        {},
        "\n  first line\n  second line",
    ),
    row(
        "NindentFilterTest.nindentStringWithCR",
        '{{ "first line\rsecond line" | nindent(2) }}',
        {},
        "\r  first line\r  second line",
    ),
    row(
        "NindentFilterTest.nindentStringWithSystemNewLine",
        '{{ "first line\nsecond line" | nindent(2) }}',
        {},
        "\n  first line\n  second line",
    ),
    row(
        "NindentFilterTest.nindentWithTab",
        '{{ "first line\nsecond line" | nindent(2, "\t") }}',
        {},
        "\n\t\tfirst line\n\t\tsecond line",
    ),
    # KeysFilterTest, ValuesFilterTest
    row("KeysFilterTest.map#1", "{{ vars.second.list | keys }}", VARS, "[0,1,2]"),
    row(
        "KeysFilterTest.map#2",
        "{{ vars.second | keys }}",
        VARS,
        lambda out: '"string"' in out and '"map"' in out and len(out.split(",")) == 7,
    ),
    row(
        "ValuesFilterTest.map#1",
        "{{ vars.second.map | values }}",
        VARS,
        lambda out: {"string", 1.123} <= set(json.loads(out)),
    ),
    row("ValuesFilterTest.map#2", "{{ vars.second | values }}", VARS, contains('"string"', "true")),
    # Md5FilterTest, Sha1FilterTest, Sha512FilterTest (the reference asserts only that the value changed)
    row("Md5FilterTest.out", '{{ "hello" | md5 }}', {}, "5d41402abc4b2a76b9719d911017c592"),
    row("Sha1FilterTest.out", '{{ "hello" | sha1 }}', {}, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
    row("Sha512FilterTest.out", '{{ "hello" | sha512 }}', {}, lambda out: len(out) == 128 and out != "hello"),
    # NumberFilterTest
    row("NumberFilterTest.run#1", '{{ "12.3" | number | className }}', {}, "java.lang.Float"),
    row("NumberFilterTest.run#2", '{{ "2147483647" | number | className }}', {}, "java.lang.Integer"),
    row("NumberFilterTest.run#3", '{{ "9223372036854775807" | number | className }}', {}, "java.lang.Long"),
    row(
        "NumberFilterTest.run#4",
        "{{ \"9223372036854775807\" | number('BIGDECIMAL') | className }}",
        {},
        "java.math.BigDecimal",
    ),
    row(
        "NumberFilterTest.run#5",
        "{{ \"9223372036854775807\" | number('BIGINTEGER') | className }}",
        {},
        "java.math.BigInteger",
    ),
    row(
        "NumberFilterTest.run#6", "{{ \"9223372036854775807\" | number('DOUBLE') | className }}", {}, "java.lang.Double"
    ),
    # ReplaceFilterTest
    row(
        "ReplaceFilterTest.string",
        "{{ 'john doe is john doe' | replace({'john': 'jane'}) }}",
        {},
        "jane doe is jane doe",
    ),
    row(
        "ReplaceFilterTest.regexp",
        "{{ 'aa1bb2cc3dd4ee5' | replace({'(\\d)': '-$1-'}, regexp=true) }}",
        {},
        "aa-1-bb-2-cc-3-dd-4-ee-5-",
    ),
    # ReplaceFilter itself (processMap, processList): every value inside a map or a list, others as text
    row(
        "ReplaceFilter.processMap",
        "{{ m | replace({'(\\d)': '<$1>'}, regexp=true) }}",
        {"m": {"a": "x1", "b": [2, "y3"], "c": {"d": True}}},
        '{"a":"x<1>","b":["<2>","y<3>"],"c":{"d":"true"}}',
    ),
    row("ReplaceFilter.processList", "{{ ['ab', 'cb'] | replace({'b': 'B'}) }}", {}, '["aB","cB"]'),
    row(
        "ReplaceFilter.javaPattern",
        "{{ 'Été 2024-05' | replace({'\\p{Alpha}+|(?<y>\\d{4})-(?<m>\\d++)': '[${m}]'}, regexp=true) }}",
        {},
        "É[]é [05]",
    ),
    # SlugifyFilterTest
    row("SlugifyFilterTest.out", '{{ "Test\t\t\ntest*" | slugify }}', {}, "test-test"),
    # SubstringFilterTest
    row("SubstringFilterTest.substringBefore", "{{ 'a.b.c' | substringBefore('.') }}", {}, "a"),
    row("SubstringFilterTest.substringAfter", "{{ 'a.b.c' | substringAfter(separator='.') }}", {}, "b.c"),
    row("SubstringFilterTest.substringBeforeLast#1", "{{ 'a.b.c' | substringBeforeLast(separator='.') }}", {}, "a.b"),
    row("SubstringFilterTest.substringBeforeLast#2", "{{ 'a.b.c' | substringBeforeLast('.') }}", {}, "a.b"),
    row("SubstringFilterTest.substringAfterLast", "{{ 'a.b.c' | substringAfterLast('.') }}", {}, "c"),
    # ToJsonFilterTest
    row("ToJsonFilterTest.toJsonFilter#string", "{{ vars.second.string | toJson }}", VARS, '"string"'),
    row("ToJsonFilterTest.toJsonFilter#int", "{{ vars.second.int | toJson }}", VARS, "1"),
    row("ToJsonFilterTest.toJsonFilter#float", "{{ vars.second.float | toJson }}", VARS, "1.123"),
    row("ToJsonFilterTest.toJsonFilter#list", "{{ vars.second.list | toJson }}", VARS, '["string",1,1.123]'),
    row("ToJsonFilterTest.toJsonFilter#bool", "{{ vars.second.bool | toJson }}", VARS, "true"),
    row("ToJsonFilterTest.toJsonFilter#date", "{{ vars.second.date | toJson }}", VARS, '"2013-09-08T16:19:00+02:00"'),
    row(
        "ToJsonFilterTest.toJsonFilter#map",
        "{{ vars.second.map | toJson }}",
        VARS,
        lambda out: (
            out.startswith("{") and out.endswith("}") and contains('"int":1', '"float":1.123', '"string":"string"')(out)
        ),
    ),
    row("ToJsonFilterTest.toJsonFilter#empty", '{{ {"empty_object":{}} | toJson }}', {}, '{"empty_object":{}}'),
    row("ToJsonFilterTest.toJsonFilter#null", "{{ null | toJson }}", {}, "null"),
    row("ToJsonFilterTest.exception#1", "{{ | toJson }}", {}, RAISES),
    row("ToJsonFilterTest.exception#2", "{{ {not: json} | toJson }}", {}, RAISES),
    row("ToJsonFilterTest.jsonFilter", "{{ vars.second.string | json }}", VARS, '"string"'),
    # ToIonFilterTest
    row("ToIonFilterTest.toIonFilter#string", "{{ vars.second.string | toIon }}", VARS, '"string"'),
    row("ToIonFilterTest.toIonFilter#int", "{{ vars.second.int | toIon }}", VARS, "1"),
    row(
        "ToIonFilterTest.toIonFilter#float", "{{ vars.second.float | toIon }}", VARS, "1.1230000257492065e0", NO_FLOAT32
    ),
    row("ToIonFilterTest.toIonFilter#float64", "{{ vars.second.float | toIon }}", VARS, "1.123e0"),
    row(
        "ToIonFilterTest.toIonFilter#list",
        "{{ vars.second.list | toIon }}",
        VARS,
        '["string",1,1.1230000257492065e0]',
        NO_FLOAT32,
    ),
    row("ToIonFilterTest.toIonFilter#bool", "{{ vars.second.bool | toIon }}", VARS, "true"),
    row(
        "ToIonFilterTest.toIonFilter#date",
        "{{ vars.second.date | toIon }}",
        VARS,
        lambda out: out.startswith('ZonedDateTime::"2013-09-08T16:19:00+02:00'),
    ),
    row(
        "ToIonFilterTest.toIonFilter#map",
        "{{ vars.second.map | toIon }}",
        VARS,
        lambda out: (
            out.startswith("{") and out.endswith("}") and contains("int:1", 'string:"string"', "float:1.123e0")(out)
        ),
    ),
    row("ToIonFilterTest.toIonFilter#empty", '{{ {"empty_object":{}} | toIon }}', {}, "{empty_object:{}}"),
    row("ToIonFilterTest.toIonFilter#null", "{{ null | toIon }}", {}, "null"),
    row("ToIonFilterTest.exception#1", "{{ | toIon }}", {}, RAISES),
    row("ToIonFilterTest.exception#2", "{{ {not: json} | toIon }}", {}, RAISES),
    # UrlDecodeFilter
    row("UrlDecodeFilter.urldecode", "{{ 'Kestra rulez !' | urlencode | urldecode }}", {}, "Kestra rulez !"),
    # YamlFilterTest
    row("YamlFilterTest.map#string", "{{ vars.second.string | yaml }}", VARS, "string\n"),
    row("YamlFilterTest.map#int", "{{ vars.second.int | yaml }}", VARS, "1\n"),
    row("YamlFilterTest.map#float", "{{ vars.second.float | yaml }}", VARS, "1.123\n"),
    row(
        "YamlFilterTest.map#list",
        "{{ vars.second.list | yaml }}",
        VARS,
        " - string\n - 1\n - 1.123\n",
        "PyYAML writes a top-level list unindented (`- string`), Jackson's writer with one space (` - string`)",
    ),
    row("YamlFilterTest.map#bool", "{{ vars.second.bool | yaml }}", VARS, "true\n"),
    row("YamlFilterTest.map#date", "{{ vars.second.date | yaml }}", VARS, "2013-09-08T16:19:00+02:00\n"),
    row(
        "YamlFilterTest.map#map",
        "{{ vars.second.map | yaml }}",
        VARS,
        contains("int: 1\n", "float: 1.123\n", "string: string\n"),
    ),
    # JqFilterTest
    row("JqFilterTest.fromString#1", '{{ [1, 2, 3] | jq(".[0]") | first }}', {}, "1"),
    row("JqFilterTest.fromString#2", '{{ my_vars | jq(".test[0]") }}', {"my_vars": {"test": [1, 2, 3]}}, "[1]"),
    row(
        "JqFilterTest.simple",
        '{{  render(first) | jq(".second.third") }}',
        {"first": {"second": {"third": "{{third}}"}}, "end": "awesome", "third": "{{end}}"},
        '["awesome"]',
    ),
    row("JqFilterTest.map#1", '{{ vars | jq(".second.string") }}', VARS, '["string"]'),
    row("JqFilterTest.map#2", '{{ vars | jq(".second.string") | first }}', VARS, "string"),
    row("JqFilterTest.map#3", '{{ vars | jq(".second.int") | first }}', VARS, "1"),
    row("JqFilterTest.map#4", '{{ vars | jq(".second.float") | first }}', VARS, "1.123"),
    row("JqFilterTest.map#5", '{{ vars | jq(".second.list") | first }}', VARS, '["string",1,1.123]'),
    row("JqFilterTest.map#6", '{{ vars | jq(".second.bool") | first }}', VARS, "true"),
    row("JqFilterTest.map#7", '{{ vars | jq(".second.date") | first }}', VARS, "2013-09-08T16:19:00+02:00"),
    row(
        "JqFilterTest.map#8",
        '{{ vars | jq(".second.map") | first }}',
        VARS,
        contains('"int":1', '"float":1.123', '"string":"string"'),
    ),
    row("JqFilterTest.list", '{{ vars | jq(".second[]") }}', {"vars": {"second": [1, 2, 3]}}, "[1,2,3]"),
    row(
        "JqFilterTest.typed#string",
        '{{ vars | jq(".string") | first | className }}',
        {"vars": {"string": "s"}},
        "java.lang.String",
    ),
    row(
        "JqFilterTest.typed#int",
        '{{ vars | jq(".int") | first | className }}',
        {"vars": {"int": 1}},
        "java.lang.Integer",
    ),
    row(
        "JqFilterTest.typed#float",
        '{{ vars | jq(".float") | first | className }}',
        {"vars": {"float": 1.123}},
        "java.lang.Float",
    ),
    row(
        "JqFilterTest.typed#bool",
        '{{ vars | jq(".bool") | first | className }}',
        {"vars": {"bool": True}},
        "java.lang.Boolean",
    ),
    row("JqFilterTest.typed#null", '{{ vars | jq(".null") | first | className }}', {"vars": {"null": None}}, ""),
    row(
        "JqFilterTest.object#1",
        '{% set object = vars | jq(".object") %}{{object[0].key}}',
        {"vars": {"object": {"key": "value"}, "array": ["arrayValue"]}},
        "value",
    ),
    row(
        "JqFilterTest.object#2",
        '{% set array = vars | jq(".array") %}{{array[0][0]}}',
        {"vars": {"object": {"key": "value"}, "array": ["arrayValue"]}},
        "arrayValue",
    ),
    # NullCoalescingExpressionTest
    row("NullCoalescingExpressionTest.firstDefined#1", "{{ inner.bla ?? block.test.child }}", BLOCK, "awesome"),
    row("NullCoalescingExpressionTest.firstDefined#2", "{{ block.test.child ?? inner.bla }}", BLOCK, "awesome"),
    row("NullCoalescingExpressionTest.firstDefined#3", "{{ missing ?? missing2 }}", BLOCK, RAISES),
    row("NullCoalescingExpressionTest.firstDefinedEval#1", "{{ block.test.child ?? null }}", BLOCK, "awesome"),
    row("NullCoalescingExpressionTest.firstDefinedEval#2", "{{ block[inner].child ?? null }}", BLOCK, "awesome"),
    row(
        "NullCoalescingExpressionTest.firstDefinedEval#3",
        "{{ block[missing].child ?? block[inner].child }}",
        BLOCK,
        "awesome",
    ),
    row(
        "NullCoalescingExpressionTest.firstDefinedEval#4",
        "{{ block[missing].child ?? block[missing2].child ?? block[inner].child }}",
        BLOCK,
        "awesome",
    ),
    row("NullCoalescingExpressionTest.firstDefinedEval#5", "{{ missing ?? block.test.child }}", BLOCK, "awesome"),
    row("NullCoalescingExpressionTest.firstDefinedEval#6", "{{ missing ?? missing2 }}", BLOCK, RAISES),
    row("NullCoalescingExpressionTest.emptyObject", "{{ block ?? 'UNDEFINED' }}", {"block": {}}, "{}"),
    row("NullCoalescingExpressionTest.nullOrUndefined#1", "{{ null ?? 'IS NULL' }}", {"null": None}, "IS NULL"),
    row(
        "NullCoalescingExpressionTest.nullOrUndefined#2",
        "{{ undefined ?? 'IS UNDEFINED' }}",
        {"null": None},
        "IS UNDEFINED",
    ),
    # UndefinedCoalescingExpressionTest
    row("UndefinedCoalescingExpressionTest.nullOrUndefined#1", "{{ null ??? 'IS NULL' }}", {"null": None}, ""),
    row(
        "UndefinedCoalescingExpressionTest.nullOrUndefined#2",
        "{{ undefined ??? 'IS UNDEFINED' }}",
        {"null": None},
        "IS UNDEFINED",
    ),
    # RenderFunctionTest
    row("RenderFunctionTest.shouldRenderForString", "{{ render(input) }}", {"input": "test"}, "test"),
    row("RenderFunctionTest.shouldRenderForInteger", "{{ render(input) }}", {"input": 42}, "42"),
    row("RenderFunctionTest.shouldRenderForLong", "{{ render(input) }}", {"input": 42}, "42"),
    row("RenderFunctionTest.shouldRenderForBoolean", "{{ render(input) }}", {"input": True}, "true"),
    row("RenderFunctionTest.shouldRenderForNull", "{{ render(input) }}", {"input": None}, ""),
    row(
        "RenderFunctionTest.shouldRenderForDateTime",
        "{{ render(input) }}",
        {"input": datetime(2024, 5, 6, 7, 8, 9, 123456)},
        "2024-05-06T07:08:09.123456",
    ),
    row(
        "RenderFunctionTest.shouldRenderForDuration",
        "{{ render(input) }}",
        {"input": timedelta(seconds=5)},
        "PT5S",
        "context values are JSON: there is no duration type (a duration in a flow is its ISO-8601 string already)",
    ),
    # FromJsonFunctionTest
    row(
        "FromJsonFunctionTest.fronJsonFunction#1",
        '{{ fromJson(\'{"test1": 1, "test2": 2, "test3": 3}\').test1 }}',
        {},
        "1",
    ),
    row(
        "FromJsonFunctionTest.fronJsonFunction#2",
        '{{ fromJson(\'{"test1": [{"test1": 666}, 2, 3], "test2": 2, "test3": 3}\').test1[0].test1 }}',
        {},
        "666",
    ),
    row("FromJsonFunctionTest.fronJsonFunction#3", "{{ fromJson('[1, 2, 3]')[0] }}", {}, "1"),
    row(
        "FromJsonFunctionTest.fronJsonFunction#4", "{{ fromJson('{\"empty_object\":{}}') }}", {}, '{"empty_object":{}}'
    ),
    row("FromJsonFunctionTest.fronJsonFunction#5", "{{ fromJson(null) }}", {}, ""),
    row("FromJsonFunctionTest.exception#1", "{{ fromJson() }}", {}, RAISES),
    row("FromJsonFunctionTest.exception#2", "{{ fromJson('{not: json}') }}", {}, RAISES),
    row("FromJsonFunctionTest.jsonFunction", '{{ json(\'{"test1": 1, "test2": 2, "test3": 3}\').test1 }}', {}, "1"),
    # YamlFunctionTest
    row("YamlFunctionTest.fromString#string", "{{ yaml(yaml).string }}", {"yaml": YAML_DOC}, "string"),
    row("YamlFunctionTest.fromString#int", "{{ yaml(yaml).int }}", {"yaml": YAML_DOC}, "123"),
    row("YamlFunctionTest.fromString#bool", "{{ yaml(yaml).bool }}", {"yaml": YAML_DOC}, "true"),
    row("YamlFunctionTest.fromString#float", "{{ yaml(yaml).float }}", {"yaml": YAML_DOC}, "1.23"),
    row("YamlFunctionTest.fromString#instant", "{{ yaml(yaml).instant }}", {"yaml": YAML_DOC}, "1918-02-24T00:00:00Z"),
    row("YamlFunctionTest.fromString#date", "{{ yaml(yaml).date }}", {"yaml": YAML_DOC}, "1991-08-20"),
    row("YamlFunctionTest.fromString#time", "{{ yaml(yaml).time }}", {"yaml": YAML_DOC}, "23:59:59"),
    row("YamlFunctionTest.fromString#object", "{{ yaml(yaml).object.child.key }}", {"yaml": YAML_DOC}, "value"),
    row("YamlFunctionTest.fromString#array", "{{ yaml(yaml).array[0] }}", {"yaml": YAML_DOC}, "string"),
    # FetchContextFunctionTest
    row(
        "FetchContextFunctionTest.fromString",
        "{{ printContext() }}",
        {"test": "value", "array": ["a", "b", "c"]},
        lambda out: json.loads(out)["test"] == "value" and json.loads(out)["array"] == ["a", "b", "c"],
    ),
    # IDFunctionTest, UUIDFunctionTest
    row("IDFunctionTest.checkIdIsNotEmpty", "{{ id() }}", {}, lambda out: bool(out)),
    row("UUIDFunctionTest.checkUuidIsNotEmpty", "{{ uuid() }}", {}, lambda out: bool(out)),
    # RandomIntFunctionTest
    row("RandomIntFunctionTest.missingParameter#1", "{{randomInt(lower)}}", {"lower": 10}, RAISES),
    row("RandomIntFunctionTest.missingParameter#2", "{{randomInt(upper)}}", {"upper": 1}, RAISES),
    row("RandomIntFunctionTest.missingParameter#3", "{{randomInt()}}", {}, RAISES),
    row(
        "RandomIntFunctionTest.testGenerateNumberPositive",
        "{{ randomInt(lower, upper) }}",
        {"lower": 1, "upper": 10},
        lambda out: 1 <= int(out) <= 10,
    ),
    row(
        "RandomIntFunctionTest.testGenerateNumberPositiveString",
        "{{ randomInt(lower, upper) }}",
        {"lower": "1", "upper": "10"},
        RAISES,
    ),
    row(
        "RandomIntFunctionTest.testGenerateNumberUpperLessThanLower",
        "{{ randomInt(lower, upper) }}",
        {"lower": 10, "upper": 1},
        RAISES,
    ),
    row(
        "RandomIntFunctionTest.testGenerateNumberNegative",
        "{{ randomInt(lower, upper) }}",
        {"lower": -10, "upper": -1},
        lambda out: -10 <= int(out) <= -1,
    ),
    row(
        "RandomIntFunctionTest.testGenerateNumberSame",
        "{{ randomInt(lower, upper) }}",
        {"lower": 10, "upper": 10},
        "10",
    ),
    # RecursivePebbleVariableRendererTest (with the reference's `kestra.variables.recursive-rendering: true`)
    row("RecursivePebbleVariableRendererTest.recursive#1", "{{ third }}", RECURSIVE, "1", NO_RECURSIVE_SETTING),
    row(
        "RecursivePebbleVariableRendererTest.recursive#2", "{{ map }}", RECURSIVE, '{"third":"1"}', NO_RECURSIVE_SETTING
    ),
    row("RecursivePebbleVariableRendererTest.recursive#3", "{{ list }}", RECURSIVE, '["1"]', NO_RECURSIVE_SETTING),
    row(
        "RecursivePebbleVariableRendererTest.renderFunctionNotInjectedIfRecursiveSettingsTrue",
        "{{ render(first) }}",
        RECURSIVE,
        RAISES,
        NO_RECURSIVE_SETTING,
    ),
    row("RecursivePebbleVariableRendererTest.renderFunctionKeepRaw", "{% raw %}{{first}}{% endraw %}", {}, "{{first}}"),
    # EncryptDecryptFunctionTest (the key of the reference's application-test.yml)
    row("EncryptDecryptFunctionTest.missingParameter#1", "{{encrypt('toto')}}", {}, RAISES),
    row("EncryptDecryptFunctionTest.missingParameter#2", "{{decrypt('toto')}}", {}, RAISES),
    row(
        "EncryptDecryptFunctionTest.encryptDecrypt#1",
        "{{encrypt(secretKey, 'toto')}}",
        {"secretKey": AES_KEY},
        lambda out: bool(out) and out != "toto",
    ),
    row(
        "EncryptDecryptFunctionTest.encryptDecrypt#2",
        "{{decrypt(secretKey, encrypt(secretKey, 'toto'))}}",
        {"secretKey": AES_KEY},
        "toto",
    ),
    # EncryptionServiceTest: a text encrypted by Java's javax.crypto (AES/GCM/NoPadding, IV first) decrypts here
    row(
        "EncryptionServiceTest.javaVector",
        "{{decrypt(secretKey, text)}}",
        {"secretKey": AES_KEY, "text": JAVA_AES},
        "Hello World!",
    ),
    row("EncryptionServiceTest.avoidNpeForEmptyOrNullText#1", "{{encrypt(secretKey, '')}}", {"secretKey": AES_KEY}, ""),
    row(
        "EncryptionServiceTest.avoidNpeForEmptyOrNullText#2", "{{decrypt(secretKey, null)}}", {"secretKey": AES_KEY}, ""
    ),
    row("EncryptionServiceTest.wrongKey", "{{decrypt(other, text)}}", {"other": "A" * 32, "text": JAVA_AES}, RAISES),
    # FromIonFunctionTest
    row(
        "FromIonFunctionTest.ionDecodeFunction#1",
        "{{ fromIon('{date:2024-04-21T23:00:00.000Z, title:\"Main_Page\",views:109787}').title }}",
        {},
        "Main_Page",
    ),
    row("FromIonFunctionTest.ionDecodeFunction#2", "{{ fromIon(null) }}", {}, ""),
    row("FromIonFunctionTest.exception#1", "{{ fromIon() }}", {}, RAISES),
    row("FromIonFunctionTest.exception#2", "{{ fromIon('{not: ion') }}", {}, RAISES),
    row(
        "FromIonFunctionTest.roundTrip",
        "{{ fromIon(vars.second.map | toIon) }}",
        VARS,
        contains('"int":1', '"float":1.123', '"string":"string"'),
    ),
    # PebbleVariableRendererTest
    row("PebbleVariableRendererTest.out#string", "{{ string }}", SECOND, "string"),
    row("PebbleVariableRendererTest.out#int", "{{ int }}", SECOND, "1"),
    row("PebbleVariableRendererTest.out#float", "{{ float }}", SECOND, "1.123"),
    row("PebbleVariableRendererTest.out#list", "{{ list }}", SECOND, '["string",1,1.123]'),
    row("PebbleVariableRendererTest.out#bool", "{{ bool }}", SECOND, "true"),
    row(
        "PebbleVariableRendererTest.out#date",
        "{{ date }}",
        SECOND,
        "2013-09-08T16:19+02:00",
        "a date in the context is the JSON string it was sent as; printed, a datetime keeps its seconds (`16:19:00`)",
    ),
    row(
        "PebbleVariableRendererTest.out#map",
        "{{ map }}",
        SECOND,
        contains('"int":1', '"float":1.123', '"string":"string"'),
    ),
    row(
        "PebbleVariableRendererTest.out#escape", "{{ list }} // {{ map }}", SECOND, contains('["string",1,1.123] // {')
    ),
    row("PebbleVariableRendererTest.out#empty", "{{ list[3] is defined ? bla : null }}", SECOND, ""),
    row("PebbleVariableRendererTest.out#concat", '{{ "apple" ~ "pear" ~ "banana" }}', SECOND, "applepearbanana"),
    row(
        "PebbleVariableRendererTest.autoJson#map",
        "{{ map }}",
        {"map": {"a": "1", "b": "2"}},
        contains('"a":"1"', '"b":"2"'),
    ),
    row(
        "PebbleVariableRendererTest.autoJson#collection",
        "{{ collection }}",
        {"collection": ["1", "2", "3"]},
        '["1","2","3"]',
    ),
    row("PebbleVariableRendererTest.autoJson#array", "{{ array }}", {"array": ("1", "2", "3")}, '["1","2","3"]'),
    row("PebbleVariableRendererTest.autoJson#inta", "{{ inta }}", {"inta": [1, 2, 3]}, "[1,2,3]"),
    row("PebbleVariableRendererTest.exception", "{{ missing is defined ? missing : missing2 }}", {}, RAISES),
    row(
        "PebbleVariableRendererTest.macro",
        '{% block "post" %} content {% endblock %}{{ block("post") }}',
        {},
        contains("content"),
    ),
    row(
        "PebbleVariableRendererTest.numberFormat",
        '{{ var | numberFormat("#.##") }}',
        {"var": 1.232654},
        contains("1.23"),
    ),
    row("PebbleVariableRendererTest.recursive#1", "{{ third }}", RECURSIVE, "{{second}}"),
    row("PebbleVariableRendererTest.recursive#2", "{{ render(third, recursive=false) }}", RECURSIVE, "{{first}}"),
    row("PebbleVariableRendererTest.recursive#3", "{{ render(third) }}", RECURSIVE, "1"),
    row("PebbleVariableRendererTest.recursive#4", "{{ render(fourth) }}", RECURSIVE, "1"),
    row("PebbleVariableRendererTest.recursive#5", "{{ map }}", RECURSIVE, '{"third":"{{third}}"}'),
    row(
        "PebbleVariableRendererTest.recursive#6",
        "{{ render(map, recursive=false) }}",
        RECURSIVE,
        '{"third":"{{second}}"}',
    ),
    row("PebbleVariableRendererTest.recursive#7", "{{ render(map) }}", RECURSIVE, '{"third":"1"}'),
    row("PebbleVariableRendererTest.recursive#8", "{{ list }}", RECURSIVE, '["{{third}}"]'),
    row("PebbleVariableRendererTest.recursive#9", "{{ render(list, recursive=false) }}", RECURSIVE, '["{{second}}"]'),
    row("PebbleVariableRendererTest.recursive#10", "{{ render(list) }}", RECURSIVE, '["1"]'),
    # kestra-io/docs, content/docs/expressions/05.operator.md (the examples of each operator)
    row("docs.operator.equals", '{% if name equals "Mitchell" %}yes{% endif %}', {"name": "Mitchell"}, "yes"),
    row("docs.operator.concat", '{{ "apple" ~ "pear" ~ "banana" }}', {}, "applepearbanana"),
    row(
        "docs.operator.contains#list", '{% if ["apple", "pear", "banana"] contains "apple" %}yes{% endif %}', {}, "yes"
    ),
    row(
        "docs.operator.contains#map",
        '{% if {"apple":"red", "banana":"yellow"} contains "banana" %}yes{% endif %}',
        {},
        "yes",
    ),
    row(
        "docs.operator.contains#many",
        '{{ ["apple", "pear", "banana", "peach"] contains ["apple", "peach"] }}',
        {},
        "true",
    ),
    row("docs.operator.is", "{% if 2 is even %}yes{% endif %}{% if 3 is not even %}!{% endif %}", {}, "yes!"),
    row("docs.operator.logic", "{{ (3 is not even) and (2 is odd or 3 is even) }}", {}, "false"),
    row("docs.operator.math#divide", "{{ 1 / 2 }}", {}, "0.5"),
    row("docs.operator.math#modulo", "{{ 11 % 7 }}", {}, "4"),
    row("docs.operator.null-coalescing#1", '{% set baz = "baz" %}{{ foo ?? bar ?? baz }}', {}, "baz"),
    row("docs.operator.null-coalescing#2", "{{ foo ?? bar ?? raise }}", {}, RAISES),
    row("docs.operator.ternary", "{{ foo == null ? bar : baz }}", {"foo": None, "bar": "b", "baz": "z"}, "b"),
    # kestra-io/docs, content/docs/expressions/04.function.md
    row("docs.function.range", "{% for i in range(0, 3) %}{{ i }},{% endfor %}", {}, "0,1,2,3,"),
    row("docs.function.range#step", "{% for i in range(0, 6, 2) %}{{ i }},{% endfor %}", {}, "0,2,4,6,"),
    row("docs.function.range#operator", "{% for i in 0..3 %}{{ i }},{% endfor %}", {}, "0,1,2,3,"),
    row("docs.function.range#printed", "{{ range(1, 3) }}", {}, "[1,2,3]"),
    row("docs.function.fromJson#unicode", '{{ fromJson(\'{"bar": "\\u0063\\u0327"}\').bar }}', {}, "c\u0327"),
    row("docs.function.yaml", "{{ yaml('foo: [666, 1, 2]').foo[0] }}", {}, "666"),
    row("docs.function.max", "{{ max(user.age, 80) }}", {"user": {"age": 90}}, "90"),
    row("docs.function.min", "{{ min(user.age, 80) }}", {"user": {"age": 90}}, "80"),
    row("docs.function.now", '{{ now(timeZone="Europe/Paris") }}', {NOW_KEY: NOW}, "2013-09-08T17:19:12.123456+02:00"),
    row(
        "docs.function.block",
        '{% block "post" %} content {% endblock %}{{ block("post") }}',
        {},
        " content  content ",
    ),
    row(
        "docs.function.parent#no-parent",
        '{% block "content" %}child {{ parent() }}{% endblock %}',
        {},
        RAISES,
    ),
    # kestra-io/docs, content/docs/expressions/07.test.md
    row("docs.test.defined", "{% if missing is not defined %}yes{% endif %}", {}, "yes"),
    row(
        "docs.test.empty",
        "{{ user.email is empty }} {{ '' is empty }} {{ [] is empty }} {{ {} is empty }}",
        {"user": {"email": None}},
        "true true true true",
    ),
    row("docs.test.even", "{{ 2 is even }} {{ 3 is even }}", {}, "true false"),
    row("docs.test.odd", "{{ 3 is odd }} {{ 2 is odd }}", {}, "true false"),
    row("docs.test.iterable", "{{ users is iterable }} {{ 'abc' is iterable }}", {"users": [1]}, "true false"),
    row("docs.test.json", "{{ '{\"test\": 1}' is json }}", {}, "true"),
    row("docs.test.map", '{{ {"apple":"red", "banana":"yellow"} is map }} {{ [1] is map }}', {}, "true false"),
    row("docs.test.null", "{{ user.email is null }}", {"user": {"email": None}}, "true"),
    # kestra-io/docs, content/docs/expressions/03.filter/json.md and object.md
    row("docs.filter.jq#identity", "{{ [1, 2, 3] | jq('.') }}", {}, "[[1,2,3]]"),
    row(
        "docs.filter.jq#outputs",
        "{{ outputs | jq('.task1.value') | first }}",
        {"outputs": {"task1": {"value": 1}}},
        "1",
    ),
    row(
        "docs.filter.jq#reduce",
        "{{ inputs.payload.score | values | jq('reduce .[] as $num (0; .+$num)') | first }}",
        {"inputs": {"payload": {"score": {"English": 72, "Maths": 88, "French": 95, "Spanish": 85, "Science": 91}}}},
        "431",
    ),
    row("docs.filter.toJson", '{{ true | toJson }} {{ "foo" | toJson }}', {}, 'true "foo"'),
    row("docs.filter.className", '{{ "12.3" | number | className }}', {}, "java.lang.Float"),
    row("docs.filter.first", "{{ 'Mitch' | first }} {{ [4, 5] | first }}", {}, "M 4"),
    row("docs.filter.last", "{{ 'Mitch' | last }} {{ [4, 5] | last }}", {}, "h 5"),
    row("docs.filter.join", "{{ names | join(',') }}", {"names": ["Alex", "Joe", "Bob"]}, "Alex,Joe,Bob"),
    row("docs.filter.keys#map", "{{ {'this': 'foo', 'that': 'bar'} | keys }}", {}, '["this","that"]'),
    row("docs.filter.keys#list", "{{ [0, 1, 3] | keys }}", {}, "[0,1,2]"),
    row("docs.filter.values", "{{ {'this': 'foo', 'that': 'bar'} | values }}", {}, '["foo","bar"]'),
    row("docs.filter.length", "{{ users | length > 1 }} {{ 'abc' | length }}", {"users": [1, 2]}, "true 3"),
    row("docs.filter.merge", "{{ [1, 2] | merge([3, 4]) }}", {}, "[1,2,3,4]"),
    row("docs.filter.reverse", "{% for u in users | reverse %}{{ u }}{% endfor %}", {"users": [1, 2, 3]}, "321"),
    row("docs.filter.rsort", "{{ [2, 3, 1] | rsort }}", {}, "[3,2,1]"),
    row("docs.filter.sort", "{{ [2, 3, 1] | sort }}", {}, "[1,2,3]"),
    row("docs.filter.slice#list", "{{ ['apple', 'peach', 'pear', 'banana'] | slice(1,3) }}", {}, '["peach","pear"]'),
    row("docs.filter.slice#string", "{{ 'Mitchell' | slice(1,3) }}", {}, "it"),
    row("docs.filter.split", "{{ \"one,two,three\" | split(',') }}", {}, '["one","two","three"]'),
    row(
        "docs.filter.split#limit",
        "{{ \"one,two,three,four,five\" | split(',', 3) }}",
        {},
        '["one","two","three,four,five"]',
    ),
    row(
        "docs.filter.split#zero",
        "{{ \"a,b,,\" | split(',', 0) }} {{ \"a,b,,\" | split(',', -1) }}",
        {},
        '["a","b"] ["a","b","",""]',
    ),
    row(
        "docs.filter.dateAdd",
        "{{ d | dateAdd(1, 'MONTHS', format='iso_local_date') }}",
        {"d": "2024-01-31T10:00:00Z"},
        "2024-02-29",
    ),
    # kestra-io/docs, content/docs/expressions/index.md (literals, object and string filters)
    row("docs.index.literals", "{{ 100 + 10l * 2.5 }}", {}, "125.0"),
    row("docs.index.distinct", "{{ ['1', '1', '2', '3'] | distinct }}", {}, '["1","2","3"]'),
    row("docs.index.string", "{{ 123 | string }}", {}, "123"),
    row("docs.index.split#regex", "{{ 'a.b' | split('\\\\.') }}", {}, '["a","b"]'),
    row("docs.index.filter-tag", "{% filter lower | title %}hello WORLD{% endfilter %}", {}, "Hello World"),
    row(
        "docs.index.macro",
        '{% macro input(type, name) %}{{ name }} is of type {{ type }}{% endmacro %}{{ input("text", "example") }}',
        {},
        "example is of type text",
    ),
    row(
        "docs.index.macro#defaults",
        '{% macro input(type="text", name, value="") %}{{ type }} {{ name }} [{{ value }}]{% endmacro %}'
        '{{ input(name="country") }}',
        {},
        "text country []",
        "Jinja2 refuses a macro argument without a default after one with a default; Pebble allows it",
    ),
    row(
        "docs.index.date#locale",
        "{{ '2024-01-02T10:00:00Z' | date('EEEE d MMMM', locale='fr') }}",
        {},
        "mardi 2 janvier",
    ),
    row(
        "docs.index.date#locale-abbreviated",
        "{{ d | date('EEE d MMM a', locale='de-DE') }}",
        {"d": "2024-03-05T15:00:00Z"},
        "Di. 5 März PM",
    ),
    row("docs.index.date#bad-locale", "{{ d | date('EEEE', locale='xx-!!') }}", {"d": "2024-03-05T15:00:00Z"}, RAISES),
    # kestra-io/docs, content/docs/expressions/04.function.md (render): `??` binds tighter than `|` and `~`
    row(
        "docs.function.render#coalesce-then-filter",
        "{{ trigger.date ?? execution.startDate | date('yyyy-MM-dd') }}",
        {"trigger": {"date": "2024-02-24T22:00:00.000Z"}, "execution": {"startDate": "2025-01-01T00:00:00Z"}},
        "2024-02-24",
    ),
    row(
        "docs.function.render#concat",
        "{{ vars.day ~ ', the ' ~ (trigger.date ?? inputs.date | date('yyyy-MM-dd')) }}",
        {"vars": {"day": "Saturday"}, "inputs": {"date": "2024-02-24T22:00:00.000Z"}},
        "Saturday, the 2024-02-24",
    ),
    # kestra-io/docs, content/docs/expressions/04.function.md (printContext)
    row("docs.function.printContext", "{{ printContext() }}", {"a": 1, "vars": {"b": [2]}}, '{"a":1,"vars":{"b":[2]}}'),
    # RenderOncerFunctionTest
    row("RenderOncerFunctionTest.noRenderNeeded", "{{ renderOnce(input) }}", {"input": "test"}, "test"),
    row(
        "RenderOncerFunctionTest.oneLayerRender",
        "{{ renderOnce(input) }}",
        {"input": "{{someOtherVar}}", "someOtherVar": "test"},
        "test",
    ),
    row(
        "RenderOncerFunctionTest.twoLayerRender",
        "{{ renderOnce(input) }}",
        {"input": "{{someOtherVar}}", "someOtherVar": "{{yetAnotherVar}}", "yetAnotherVar": "test"},
        "{{yetAnotherVar}}",
    ),
    # PebbleVariableRendererTest (continued)
    row(
        "PebbleVariableRendererTest.recursiveRenderingAmountLimit",
        "{{ render(first) }}",
        {"first": "{{second}}", "second": "{{first}}"},
        RAISES,
    ),
    row(
        "PebbleVariableRendererTest.raw#1",
        "See some code {% raw %}{{ var }}{% endraw %}",
        {"var": "1"},
        "See some code {{ var }}",
    ),
    row(
        "PebbleVariableRendererTest.raw#2",
        "See some code {%raw%}{{ var }}{%endraw%}",
        {"var": "1"},
        "See some code {{ var }}",
    ),
    row(
        "PebbleVariableRendererTest.raw#3",
        "See some code {%-  raw%}{{ var }}{%endraw -%}",
        {"var": "1"},
        "See some code {{ var }}",
    ),
    row(
        "PebbleVariableRendererTest.raw#4",
        "See some code {% raw %}{{ var }}{% endraw %} and some other code {% raw %}{{ var2 }}{% endraw %}",
        {"var": "1"},
        "See some code {{ var }} and some other code {{ var2 }}",
    ),
    row("PebbleVariableRendererTest.eval", "{{ block[inner].child }}", BLOCK, "awesome"),
    row(
        "PebbleVariableRendererTest.firstDefined#1",
        "{{ inner.bla is not defined ? block.test.child : null }}",
        BLOCK,
        "awesome",
    ),
    row(
        "PebbleVariableRendererTest.firstDefined#2",
        "{{ block.test.child is defined ? block.test.child : inner.bla }}",
        BLOCK,
        "awesome",
    ),
    row("PebbleVariableRendererTest.firstDefined#3", "{{ missing is defined ? missing : missing2 }}", BLOCK, RAISES),
    row(
        "PebbleVariableRendererTest.firstDefinedEval#1",
        "{{ block.test.child is defined ? block.test.child : null }}",
        BLOCK,
        "awesome",
    ),
    row(
        "PebbleVariableRendererTest.firstDefinedEval#2",
        "{{ block[inner].child is defined ? block[inner].child : null }}",
        BLOCK,
        "awesome",
    ),
    row(
        "PebbleVariableRendererTest.firstDefinedEval#3",
        "{{ block[missing].child is defined ? null : block[inner].child }}",
        BLOCK,
        "awesome",
    ),
    row(
        "PebbleVariableRendererTest.firstDefinedEval#4",
        "{{ block[missing].child is not defined"
        " ? (block[missing2].child is not defined ? block[inner].child : null) : null }}",
        BLOCK,
        "awesome",
    ),
    row(
        "PebbleVariableRendererTest.firstDefinedEval#5",
        "{{ missing is defined ? null : block.test.child }}",
        BLOCK,
        "awesome",
    ),
    row(
        "PebbleVariableRendererTest.firstDefinedEval#6", "{{ missing is defined ? missing : missing2 }}", BLOCK, RAISES
    ),
    row("PebbleVariableRendererTest.get#1", "{{ block['test'] }}", BLOCK, '{"child":"awesome"}'),
    row("PebbleVariableRendererTest.get#2", "{{ block['test']['child'] }}", BLOCK, "awesome"),
    row("PebbleVariableRendererTest.get#3", "{{ block[inner]['child'] }}", BLOCK, "awesome"),
    row("PebbleVariableRendererTest.get#4", "{{ get missing }}", BLOCK, RAISES),
    # Pebble's operator precedence (its CoreExtension: `|` 100, `~` 110, `..` 120; Kestra's `??` 120)
    row("precedence.concat-then-filter", "{{ 'a' ~ x | upper }}", {"x": "b"}, "AB"),
    row("precedence.filter-then-concat", "{{ 'a' ~ x | upper ~ 'c' }}", {"x": "b"}, "ABc"),
    row("precedence.math-then-filter", "{{ 1 - 3 | abs }}", {}, "-2"),
    row("precedence.coalesce-then-filter", "{{ x ?? 'fallback' | upper }}", {"x": "set"}, "SET"),
]


@pytest.mark.parametrize(("template", "context", "expected"), ROWS)
def test_reference_expression(template: str, context: dict[str, Any], expected: Expected) -> None:
    if isinstance(expected, Raises):
        with pytest.raises(RenderError):
            render(template, context)
        return
    out = render(template, context)
    if isinstance(expected, str):
        assert out == expected
    else:
        assert expected(out), out


def test_reference_map_with_nested_number_list() -> None:
    """PebbleVariableRendererTest.mapWithNestedNumberList: a map of numbers renders to itself."""
    assert render_value({"numbers": [1, 2, 3]}, {}) == {"numbers": [1, 2, 3]}


def test_reference_map_rendering() -> None:
    """PebbleVariableRendererTest.map: every string inside a map or list is rendered, other values kept."""
    rendered = render_value(
        {"string": "{{test}}", "list": ["{{test}}", "{{test2}}"], "int": 1}, {"test": "top", "test2": "awesome"}
    )
    assert rendered == {"string": "top", "list": ["top", "awesome"], "int": 1}
