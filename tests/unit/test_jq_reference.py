"""The `jq` filter's results checked against the real jq on a corpus of programs.

The real jq is libjq through the `jq` package (a test dependency), else the `jq` command; without either the
comparison is skipped, saying so. Conveyor's jq is its own pure-Python subset (no `env`, `$ENV`, `input`, and
with limits, see `conveyor.common.jq`): every program here must give exactly what jq gives, or fail where jq
fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.common.jq import JqError, jq

DOCS: list[Any] = [
    {
        "name": "conveyor",
        "version": 3,
        "ratio": 0.5,
        "on": True,
        "none": None,
        "tags": ["b", "a", "c", "a"],
        "items": [
            {"id": 1, "kind": "x", "price": 10.5},
            {"id": 2, "kind": "y", "price": 3},
            {"id": 3, "kind": "x", "price": 7},
        ],
        "nested": {"k": "v", "deep": {"n": [1, [2, 3]]}},
        "text": "a,b,,c",
    },
    [3, 1, 2],
    "a string",
    None,
]

PROGRAMS = [
    "reduce .[] as $num (0; .+$num)",
    ".version as $v | .items | map(.id + $v)",
    ".[] as $x | [$x]",
    "[.items[]? as $i | $i.kind]",
    "reduce (.items // [])[] as $i ({}; . + {($i.kind): $i.id})",
    "$undefined",
    ".",
    ".name",
    '."name"',
    '.["name"]',
    ".items[0]",
    ".items[-1].id",
    ".items[1:]",
    ".items[:2] | length",
    ".tags[]",
    ".items[].id",
    "[.items[].price] | add",
    ".missing",
    ".missing.deeper",
    ".nested.deep.n[1][0]",
    ".name, .version",
    '[.tags[] | select(. == "a")]',
    ".items | map(.id * 2)",
    '.items | map(select(.kind == "x")) | length',
    ".tags | sort",
    ".tags | unique",
    ".tags | reverse",
    ".tags | first",
    ".tags | last",
    '.tags | join("-")',
    '.text | split(",")',
    ".name | length",
    ".items | length",
    ".nested | keys",
    ".nested | keys_unsorted",
    ".nested | to_entries",
    '[{key: "a", value: 1}] | from_entries',
    '.nested | has("k")',
    ".tags | has(1)",
    '.name | startswith("con")',
    '.name | endswith("or")',
    '.name | ltrimstr("con")',
    '.name | rtrimstr("or")',
    ".name | ascii_upcase",
    ".version | tostring",
    '"12" | tonumber',
    ".items | tojson",
    '"[1,2]" | fromjson',
    ".items | sort_by(.price) | map(.id)",
    ".items | min_by(.price) | .id",
    ".items | max_by(.price) | .id",
    "[range(5)]",
    "[range(2; 5)]",
    ".version + 1",
    ".version - 1",
    ".version * 2",
    ".version / 2",
    ".version % 2",
    ".ratio * 4",
    "{a: .name, b: .version}",
    "{(.name): 1}",
    "[.tags[] | {t: .}]",
    'if .on then "yes" else "no" end',
    "if .version > 5 then 1 elif .version > 2 then 2 else 3 end",
    '.none // "default"',
    ".on and .none",
    ".on or .none",
    ".on | not",
    ".version == 3",
    ".version != 3",
    ".version < 4",
    '"a" < "b"',
    '[1, null, "a"] | sort',
    ".nested | .. | numbers?",
    '[.. | select(type == "number")]',
    ".tags | map(type)",
    ".items[] | select(.price > 5) | .id",
    ".name.x?",
    "[.items[] | .kind] | unique | length",
    ".nested + {x: 1}",
    "[1,2,3] - [2]",
    "{} | .a.b",
    ".items | map(.price) | max",
    ".items | map(.price) | min",
    "[.items[].price | floor]",
    '.tags | contains(["a"])',
    '"abc" | contains("b")',
    '.nested | contains({k: "v"})',
    ".items | first | keys",
    "[empty]",
    '[.tags[] | select(. != "a")] | length',
    "null | length",
    ".version | length",
    "-1 | length",
    '"a" * 0',
    ".items | add | keys",
    "[1,[2]] | add",
    ".nested.deep | tostring",
    '"x" + null',
    ".items[0] | to_entries | map(.key)",
    "[limit(2; .tags[])]",
    '.tags | index("a")',
    "[.tags[] | ascii_downcase]",
    ".items | group_by(.kind) | length",
    ".items | any(.price > 10)",
    ".items | all(.price > 1)",
    "[.[] | type]",
    '[splits(",")]',
    '.text | test("b")',
    '.name | sub("o"; "0")',
    '.name | gsub("o"; "0")',
    "1 / 3",
    "10 / 4",
    "[.version] | @csv",
    ".tags | @json",
    "[recurse] | length",
    "[paths]",
    '[paths(type == "number")]',
    "[paths(scalars)]",
    "[paths(..)]",
    "[paths] | length",
    "[tostream]",
    "[.[]? | tostream]",
    '[getpath(["items", 0, "id"]), getpath(["nested", "deep", "n", 1, 0]), getpath(["missing", "x"])]',
    "getpath([0])",
    'getpath("a")',
    "[paths as $p | getpath($p)] | length",
]
# What the subset refuses on purpose: the worker's environment (`env`, `$ENV`), inputs beyond the value, the clock.
REFUSED = ["env", "$ENV", "input", "now", "fromstream(tostream)", "input_filename"]


def _library() -> Callable[[str, Any], list[Any]] | None:
    try:
        import jq as libjq  # optional: the comparison is skipped without it
    except ImportError:
        return None
    return lambda program, value: list(libjq.compile(program).input_value(value).all())


def _command() -> Callable[[str, Any], list[Any]] | None:
    binary = shutil.which("jq")
    if binary is None:
        return None

    def run(program: str, value: Any) -> list[Any]:
        done = subprocess.run(
            [binary, "-c", program], input=json.dumps(value), capture_output=True, text=True, check=False, timeout=30
        )
        if done.returncode != 0:
            raise ValueError(done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines() if line]

    return run


REAL = _library() or _command()


def _outcome(run: Callable[[str, Any], list[Any]], program: str, value: Any) -> tuple[str, Any]:
    try:
        return "ok", run(program, value)
    except (JqError, ValueError) as exc:  # the jq package raises ValueError for a jq error
        return "error", type(exc).__name__


@pytest.mark.skipif(REAL is None, reason="neither the jq package (libjq) nor a jq command is installed")
@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("doc", range(len(DOCS)), ids=["object", "array", "string", "null"])
def test_conveyor_jq_gives_what_the_real_jq_gives(program: str, doc: int) -> None:
    assert REAL is not None
    real = _outcome(REAL, program, DOCS[doc])
    ours = _outcome(lambda p, v: jq(v, p), program, DOCS[doc])
    if real[0] == "error":
        assert ours[0] == "error", f"jq fails on {program!r}, Conveyor gives {ours[1]!r}"
    else:
        assert ours == real


@pytest.mark.parametrize("program", REFUSED)
def test_what_the_subset_does_not_have_is_refused_not_guessed(program: str) -> None:
    with pytest.raises(JqError):
        jq({"a": 1}, program)
