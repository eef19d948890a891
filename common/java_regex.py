"""Java's regular expression syntax (`java.util.regex`), translated for the `regex` package.

Where the reference takes a Java pattern (`replace(…, regexp=true)`, a STRING input's `validator`), the
pattern is translated once (cached) and run by `common/regexps.py` with its time limit. What `regex` already
reads as Java does is kept: possessive quantifiers (`a++`), atomic groups (`(?>…)`), named groups
(`(?<name>…)`), look-arounds, `\\p{L}`, `\\p{IsLatin}`, `\\p{InGreek}`, `\\h`, `\\R`, `\\X`, `\\G`. Translated:

- Java's defaults: `\\w`, `\\d`, `\\s` (and `\\W`, `\\D`, `\\S`) and the POSIX classes `\\p{Alpha}`,
  `\\p{Digit}`, `\\p{Punct}`… are ASCII sets, unless the pattern starts with `(?U)`; `\\p{javaLowerCase}`… are
  the Unicode properties they are (`\\b` is Unicode in both);
- `\\Q…\\E` (quoted text), `\\k<name>` (a named back-reference), `\\z` and `\\Z` (Java's `\\Z` also matches before a
  final line terminator), `\\e`, `\\cX`, `\\x{h…h}`, `\\0ooo` (octal), `\\v`/`\\V` (vertical white space);
- nested classes and intersections (`[a-z&&[^aeiou]]`, `[a[bc]]`): the pattern runs in `regex`'s version 1.
- The replacement: `$1`, `${name}`, `\\$` and `\\\\` as `Matcher.replaceAll` reads them; `$` before anything
  else is refused, as Java refuses it.

Not supported (refused, or read as `regex` reads them): `(?i)` without `u` folds every letter here (Java folds
only ASCII: `(?i)É` does not match `é` there), the flag `(?d)` (UNIX_LINES, dropped), `(?x)` with white space
inside a class (Java ignores it there), `\\W`, `\\D`, `\\S` and `\\P{…}` of a POSIX class inside a class (their
Unicode meaning), canonical equivalence, and the `java…` properties not listed in `_JAVA_PROPERTIES` (refused).
"""

from __future__ import annotations

from functools import lru_cache

import regex

_POSIX = {  # Java's POSIX character classes: US-ASCII only (without UNICODE_CHARACTER_CLASS)
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0B\\f\\r",
}
_JAVA_PROPERTIES = {
    "javaLowerCase": "Lowercase",
    "javaUpperCase": "Uppercase",
    "javaAlphabetic": "Alphabetic",
    "javaLetter": "L",
    "javaDigit": "Nd",
    "javaTitleCase": "Lt",
    "javaSpaceChar": "Z",
    "javaWhitespace": "White_Space",
    "javaMirrored": "Bidi_Mirrored",
    "javaIdeographic": "Ideographic",
}
_WORD, _DIGIT, _SPACE = "a-zA-Z_0-9", "0-9", " \\t\\n\\x0B\\f\\r"
_ASCII_CLASSES = {  # Java's \w, \d, \s (and negations): ASCII without UNICODE_CHARACTER_CLASS
    "w": (_WORD, False),
    "W": (_WORD, True),
    "d": (_DIGIT, False),
    "D": (_DIGIT, True),
    "s": (_SPACE, False),
    "S": (_SPACE, True),
}
_VERTICAL = "\\n\\x0B\\f\\r\\x85\\u2028\\u2029"
_TERMINATOR = "(?=(?:\\r\\n|[\\n\\r\\x85\\u2028\\u2029])?\\Z)"


class JavaRegexError(ValueError):
    """A Java pattern or replacement this translation cannot read (its message says what and where)."""


def _quoted(text: str) -> str:
    return "".join("\\" + c if not c.isalnum() else c for c in text)


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0
        self.out: list[str] = []
        self.depth = 0  # inside how many [...]
        self.nested = False
        self.unicode = False
        # `(?U)` at the start makes the whole pattern Unicode (Java's UNICODE_CHARACTER_CLASS)
        self.unicode_at_start = regex.match(r"\(\?[idmsuxU]*U", pattern) is not None

    def run(self) -> str:
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            if c == "\\":
                self._escape()
            elif c == "[":
                if self.depth:
                    self.nested = True
                self.depth += 1
                self.out.append(c)
                self.pos += 1
                if src.startswith("^", self.pos):
                    self.out.append("^")
                    self.pos += 1
                if src.startswith("]", self.pos):  # `[]a]` and `[^]a]`: a first `]` is a literal
                    self.out.append("\\]")
                    self.pos += 1
            elif c == "]" and self.depth:
                self.depth -= 1
                self.out.append(c)
                self.pos += 1
            elif c == "&" and self.depth and src.startswith("&&", self.pos):
                self.nested = True
                self.out.append("&&")
                self.pos += 2
            elif c == "(" and not self.depth and src.startswith("(?", self.pos):
                self._group_flags()
            else:
                self.out.append(c)
                self.pos += 1
        return ("(?V1)" if self.nested else "") + "".join(self.out)

    def _group_flags(self) -> None:
        """`(?iU)`, `(?i-s:…)`: Java's flag letters; `U` makes the POSIX classes Unicode, `u` (Unicode case) is
        what `regex` always does, `d` (UNIX_LINES) is dropped."""
        m = regex.match(r"\(\?([idmsuxU]*)(?:-([idmsuxU]*))?([:)])", self.src[self.pos :])
        if m is None or not (m.group(1) or m.group(2) is not None):
            self.out.append("(")
            self.pos += 1
            return
        on, off, end = m.group(1), m.group(2), m.group(3)
        if "U" in on:
            self.unicode = True
        on = on.replace("U", "").replace("u", "").replace("d", "")
        off = (off or "").replace("U", "").replace("u", "").replace("d", "")
        self.pos += m.end()
        if not on and not off:
            self.out.append("(?:" if end == ":" else "")
            return
        self.out.append(f"(?{on}{'-' + off if off else ''}{end}")

    def _escape(self) -> None:
        src, i = self.src, self.pos
        if i + 1 >= len(src):
            raise JavaRegexError(f"unexpected end of pattern after '\\' at index {i}")
        c = src[i + 1]
        self.pos = i + 2
        if c == "Q":
            end = src.find("\\E", self.pos)
            literal = src[self.pos :] if end < 0 else src[self.pos : end]
            self.pos = len(src) if end < 0 else end + 2
            self.out.append(_quoted(literal))
        elif c == "E":
            pass  # a `\E` without `\Q` ends nothing, as in Java
        elif c in "pP":
            self._property(c)
        elif c == "k" and src.startswith("<", self.pos):
            end = src.find(">", self.pos)
            if end < 0:
                raise JavaRegexError(f"named back-reference without '>' at index {i}")
            self.out.append(f"(?P={src[self.pos + 1 : end]})")
            self.pos = end + 1
        elif c in "cx0":
            self.out.append(self._code_point(c, i))
        else:
            self.out.append(self._class_escape(c))

    def _class_escape(self, c: str) -> str:
        """`\\z`, `\\Z`, `\\e`, `\\v`, `\\V` and the ASCII `\\w`…; any other escape as it is."""
        if c == "z" and not self.depth:
            return "\\Z"
        if c == "Z" and not self.depth:
            return _TERMINATOR
        if c == "e":
            return "\\x1B"
        if c in _ASCII_CLASSES and not self.unicode_at_start:
            body, negated = _ASCII_CLASSES[c]
            if self.depth:
                return "\\" + c if negated else body
            return f"[{'^' if negated else ''}{body}]"
        if c in "vV":
            if self.depth and c == "v":
                return _VERTICAL
            return f"[{'^' if c == 'V' else ''}{_VERTICAL}]"
        return "\\" + c

    def _code_point(self, c: str, i: int) -> str:
        """`\\cX`, `\\x{h…h}` (and `\\xhh`), `\\0ooo`: the character, as `regex` writes it."""
        src = self.src
        if c == "c":
            if self.pos >= len(src):
                raise JavaRegexError(f"'\\c' without a character at index {i}")
            self.pos += 1
            return f"\\x{ord(src[self.pos - 1]) ^ 64:02X}"
        if c == "x":
            if not src.startswith("{", self.pos):
                return "\\x"
            end = src.find("}", self.pos)
            digits = src[self.pos + 1 : end] if end > 0 else ""
            if not digits or not all(d in "0123456789abcdefABCDEF" for d in digits) or int(digits, 16) > 0x10FFFF:
                raise JavaRegexError(f"bad '\\x{{…}}' escape at index {i}")
            self.pos = end + 1
            return f"\\U{int(digits, 16):08X}"
        m = regex.match(r"[0-3][0-7]{0,2}|[0-7]{1,2}", src[self.pos :])
        if m is None:
            raise JavaRegexError(f"illegal octal escape '\\0' at index {i}")
        self.pos += m.end()
        return f"\\U{int(m.group(0), 8):08X}"

    def _property(self, kind: str) -> None:
        src = self.src
        if src.startswith("{", self.pos):
            end = src.find("}", self.pos)
            if end < 0:
                raise JavaRegexError(f"unclosed character family at index {self.pos - 2}")
            name = src[self.pos + 1 : end]
            self.pos = end + 1
        else:
            name = src[self.pos : self.pos + 1]
            self.pos += 1
        negated = kind == "P"
        bare = name[2:] if name.startswith("Is") and name[2:] in _POSIX else name
        if bare in _POSIX and not (self.unicode or self.unicode_at_start):
            if self.depth:
                self.out.append(f"\\{kind}{{{bare}}}" if negated else _POSIX[bare])
            else:
                self.out.append(f"[{'^' if negated else ''}{_POSIX[bare]}]")
            return
        if name.startswith("java"):
            found = _JAVA_PROPERTIES.get(name)
            if found is None:
                raise JavaRegexError(f"the Java property \\p{{{name}}} is not supported")
            name = found
        self.out.append(f"\\{kind}{{{name}}}")


@lru_cache(maxsize=1024)
def translate(pattern: str) -> str:
    """The `regex` pattern that matches what the Java `pattern` matches."""
    translator = _Translator(pattern)
    found = translator.run()
    if translator.depth:
        raise JavaRegexError(f"unclosed character class near index {len(pattern) - 1}")
    return found


def replacement(text: str, groups: int, names: dict[str, int]) -> str:
    """A Java replacement (`$1`, `${name}`, `\\$`) as a `regex` template (`\\g<1>`), for a pattern of `groups`."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                raise JavaRegexError("character to be escaped is missing at the end of the replacement")
            out.append("\\\\" if text[i + 1] == "\\" else text[i + 1])
            i += 2
        elif c == "$":
            i = _group_reference(text, i, groups, names, out)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _group_reference(text: str, i: int, groups: int, names: dict[str, int], out: list[str]) -> int:
    if i + 1 >= len(text):
        raise JavaRegexError("Illegal group reference: group index is missing")
    if text[i + 1] == "{":
        end = text.find("}", i)
        name = text[i + 2 : end] if end > 0 else ""
        if not name or name not in names:
            raise JavaRegexError(f"No group with name {{{name}}}")
        out.append(f"\\g<{name}>")
        return end + 1
    if not text[i + 1].isdigit():
        raise JavaRegexError(f"Illegal group reference in the replacement at index {i}")
    number, j = int(text[i + 1]), i + 2
    if number > groups:
        raise JavaRegexError(f"No group {number}")
    while j < len(text) and text[j].isdigit() and number * 10 + int(text[j]) <= groups:  # Java's greedy digits
        number, j = number * 10 + int(text[j]), j + 1
    out.append(f"\\g<{number}>")
    return j
