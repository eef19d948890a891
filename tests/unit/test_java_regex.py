"""Java patterns (`replace(…, regexp=true)`, an input's `validator`) give what `java.util.regex` gives.

Each row: (pattern, replacement — None for `Pattern.matches`, input, what Java 17 gave). The expected column was
made by running every row through `Pattern.compile(p).matcher(input).replaceAll(r)` and `Pattern.matches(p,
input)` on Java 17 (OpenJDK), `E:` naming the exception Java threw. Where a row fails here, the translation in
`common/java_regex.py` is wrong, or the row names a Java feature docs/flows.md lists as not supported.
"""

from __future__ import annotations

import pytest

from conveyor.common import regexps

JAVA = [
    ("(\\d)", "-$1-", "aa1bb2cc3dd4ee5", "S:aa-1-bb-2-cc-3-dd-4-ee-5-"),
    ("\\p{Alpha}+", "_", "abc été 123", "S:_ é_é 123"),
    ("\\p{Punct}", "", "a!b«c»d,e", "S:ab«c»de"),
    ("[\\p{Digit}x]+", "#", "a1x2 b", "S:a# b"),
    ("\\P{Alnum}", "", "a-b c_d", "S:abcd"),
    ("\\p{L}+", "L", "abc été 123", "S:L L 123"),
    ("\\p{Lu}", "U", "aBcÉ", "S:aUcU"),
    ("\\p{IsAlphabetic}+", "A", "ab1é", "S:A1A"),
    ("\\p{javaLowerCase}+", "l", "abCdé", "S:lCl"),
    ("\\p{InGreek}+", "G", "a\u03b1\u03b2b", "S:aGb"),
    ("\\w+", "w", "été ok_1", "S:éwé w"),
    ("(?U)\\w+", "w", "été ok_1", "S:w w"),
    ("\\d", "d", "1٣2", "S:d٣d"),
    ("\\s+", "_", "a \xa0b\tc", "S:a_\xa0b_c"),
    ("(?i)STRASSE", "x", "strasse Strasse", "S:x x"),
    ("(?i)É", "x", "é É", "S:é x"),
    ("(?iu)É", "x", "é É", "S:x x"),
    ("\\bok\\b", "OK", "ok, éok ok", "S:OK, éok OK"),
    ("a++b", "X", "aaab aab", "S:X X"),
    ("(?>a+)b", "X", "aaab", "S:X"),
    ("(?<year>\\d{4})-(?<month>\\d\\d)", "${month}/${year}", "on 2024-05 and 1999-12", "S:on 05/2024 and 12/1999"),
    ("(\\w)\\1", "<$1$1>", "aabbcd", "S:<aa><bb>cd"),
    ("(?<c>\\w)\\k<c>", "[${c}]", "aabbcd", "S:[a][b]cd"),
    ("\\Qa.b*c\\E", "lit", "a.b*c axbbc", "S:lit axbbc"),
    ("[a-z&&[^aeiou]]+", "C", "hello world", "S:CeCo CoC"),
    ("[a-c[x-z]]+", "S", "abxyzdef", "S:Sdef"),
    ("o", "\\$", "foo", "S:f$$"),
    ("o", "\\\\", "foo", "S:f\\\\"),
    ("(o)", "$1$1", "foo", "S:foooo"),
    ("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)", "$10-$11", "abcdefghij", "S:j-a1"),
    ("(a)", "$12", "a", "S:a2"),
    ("x\\z", "END", "ax\nax", "S:ax\naEND"),
    ("x\\Z", "END", "ax\nax\n", "S:ax\naEND\n"),
    ("^x", "S", "x\nx", "S:S\nx"),
    ("(?m)^x", "S", "x\nx", "S:S\nS"),
    ("\\x{41}\\u0042\\x43", "abc", "ABC", "S:abc"),
    ("\\t\\0101", "T", "\tA1", "S:T1"),
    ("\\cI", "TAB", "a\tb", "S:aTABb"),
    ("\\e", "ESC", "a\x1bb", "S:aESCb"),
    ("\\v", "V", "a\nb\x0bc", "S:aVbVc"),
    ("\\h+", "H", "a \t\xa0b", "S:aHb"),
    ("\\R", "|", "a\r\nb\nc\rd", "S:a|b|c|d"),
    ("[]a]+", "B", "a]b", "S:Bb"),
    ("[^]a]+", "N", "a]bc", "S:a]N"),
    ("(?<=a)b", "X", "ab cb", "S:aX cb"),
    ("(?<!a)b", "X", "ab cb", "S:ab cX"),
    ("(?x) a b # comment", "X", "ab a b", "S:X a b"),
    ("(?s)a.b", "X", "a\nb", "S:X"),
    ("a.b", "X", "a\nb axb", "S:a\nb X"),
    ("(?i:A)b", "X", "ab Ab AB", "S:X X AB"),
    ("x*", "-", "abc", "S:-a-b-c-"),
    ("", "-", "ab", "S:-a-b-"),
    ("\\p{Upper}\\p{Lower}+", "W", "Hello World Été", "S:W W Été"),
    ("\\p{XDigit}+", "h", "cafe babe xyz", "S:h h xyz"),
    ("\\p{Space}+", "_", "a b\xa0c", "S:a_b\xa0c"),
    ("\\p{IsLatin}+", "L", "abc \u03b1\u03b2\u03b3", "S:L \u03b1\u03b2\u03b3"),
    ("\\p{Sc}", "$", "5€ 3£", "E:IllegalArgumentException"),
    ("\\d{2,}+", "N", "1 22 333", "S:1 N N"),
    ("colou?r", "C", "color colour", "S:C C"),
    ("[\\w&&[^\\d]]+", "W", "ab12cd", "S:W12W"),
    ("(a)|b", "[$1]", "ab", "S:[a][]"),
    ("^[A-Z0-9._%+-]+@[A-Z0-9.-]+\\.[A-Z]{2,}$", None, "JOHN@EXAMPLE.COM", "M:true"),
    ("\\d{3}-\\d{4}", None, "555-1234", "M:true"),
    ("\\d{3}-\\d{4}", None, "555-12345", "M:false"),
    ("\\p{Alpha}+", None, "abcé", "M:false"),
    ("(?U)\\p{Alpha}+", None, "abcé", "M:true"),
    ("[a-z&&[^aeiou]]+", None, "bcd", "M:true"),
    ("[a-z&&[^aeiou]]+", None, "bad", "M:false"),
    ("(?i)[a-z]+", None, "ABC", "M:true"),
    ("\\w+", None, "été", "M:false"),
    ("a++a", None, "aaa", "M:false"),
    ("\\Q(x)\\E\\d", None, "(x)1", "M:true"),
    ("[[a-z]&&[^x]]+", None, "abc", "M:true"),
]


def _ours(pattern: str, replacement: str | None, text: str) -> str:
    try:
        if replacement is None:
            return f"M:{str(regexps.java_fullmatch('t', pattern, text)).lower()}"
        return "S:" + regexps.java_sub("t", pattern, replacement, text)
    except regexps.RegexpError:
        return "E:IllegalArgumentException"


# Rows Conveyor gives otherwise (docs/flows.md says so): xfail (strict), so a row that starts to pass fails here.
DIFFERENT = {
    "(?i)É": "Java's CASE_INSENSITIVE folds ASCII only (without `u`); `regex` folds every letter, é matches É",
}


def _rows() -> list[object]:
    return [
        pytest.param(
            *row, marks=[pytest.mark.xfail(strict=True, reason=DIFFERENT[row[0]])] if row[0] in DIFFERENT else []
        )
        for row in JAVA
    ]


@pytest.mark.parametrize(("pattern", "replacement", "text", "java"), _rows())
def test_java_pattern_gives_what_java_gives(pattern: str, replacement: str | None, text: str, java: str) -> None:
    expected = "E:IllegalArgumentException" if java.startswith("E:") else java
    assert _ours(pattern, replacement, text) == expected


# Java 17's `input.split(pattern, limit)` (Pebble's `split` filter is Java's String.split): pattern, limit, input,
# the parts Java gave ("ERROR": Java threw PatternSyntaxException).
SPLITS = [
    (",", 0, "a,b,,c,,", ["a", "b", "", "c"]),
    (",", -1, "a,b,,c,,", ["a", "b", "", "c", "", ""]),
    (",", 2, "a,b,,c,,", ["a", "b,,c,,"]),
    ("\\.", 0, "a.b.c", ["a", "b", "c"]),
    (".", 0, "a.b", []),
    ("|", 0, "a|b", ["a", "|", "b"]),
    ("", 0, "abc", ["a", "b", "c"]),
    ("(,)", 0, "a,b", ["a", "b"]),
    ("\\s+", 0, " a  b ", ["", "a", "b"]),
    (",", 0, "", [""]),
    (",", 0, ",,,", []),
    ("x*", 0, "axbxxc", ["a", "", "b", "", "c"]),
    ("(?=b)", 0, "abab", ["a", "ba", "b"]),
    ("\\p{Punct}", 3, "a!b?c.d", ["a", "b", "c.d"]),
    ("[", 0, "a[b", "ERROR"),
]


@pytest.mark.parametrize(("pattern", "limit", "text", "java"), SPLITS)
def test_java_split_gives_what_java_gives(pattern: str, limit: int, text: str, java: object) -> None:
    if java == "ERROR":
        with pytest.raises(regexps.RegexpError):
            regexps.java_split("t", pattern, text, limit)
        return
    assert regexps.java_split("t", pattern, text, limit) == java
