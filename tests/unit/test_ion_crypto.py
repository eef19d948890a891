"""`fromIon` over the Ion text format, and `encrypt`/`decrypt` (AES-GCM) beyond the reference's rows."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from conveyor.common.errors import RenderError
from conveyor.common.expr_context import REVEALED_KEY, Revealed
from conveyor.common.ion_parse import MAX_DEPTH, IonError, from_ion
from conveyor.common.render import render

KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("null", None),
        ("null.struct", None),
        ("true", True),
        ("false", False),
        ("0", 0),
        ("-12_345", -12345),
        ("0x1F", 31),
        ("0b1010", 10),
        ("1.5", 1.5),
        ("1.5d-1", 0.15),
        ("1e0", 1.0),
        ("-2.5e3", -2500.0),
        ("+inf", float("inf")),
        ("-inf", float("-inf")),
        ('"a\\tb\\u00e9\\x41"', "a\tbéA"),
        ("'''ab''' /* c */ '''cd'''", "abcd"),
        ("sym", "sym"),
        ("'quoted sym'", "quoted sym"),
        ("$10", "$10"),
        ("{{ aGVsbG8= }}", "aGVsbG8="),
        ('{{ "clob" }}', "clob"),
        ('[1, two, "3",]', [1, "two", "3"]),
        ("(+ 1 2)", ["+", 1, 2]),
        ("{a: 1, 'b c': [x], \"d\": {e: null}}", {"a": 1, "b c": ["x"], "d": {"e": None}}),
        ("ann::other::{a: 1}", {"a": 1}),
        ("// comment\n{a: 1} // after", {"a": 1}),
        ("2007T", datetime(2007, 1, 1, tzinfo=UTC)),
        ("2007-02-23", datetime(2007, 2, 23, tzinfo=UTC)),
        ("2007-02-23T12:14Z", datetime(2007, 2, 23, 12, 14, tzinfo=UTC)),
        (
            "2007-02-23T12:14:33.079-08:00",
            datetime(2007, 2, 23, 12, 14, 33, 79000, tzinfo=timezone(timedelta(hours=-8))),
        ),
        ("   ", None),
    ],
)
def test_from_ion_values(text: str, expected: object) -> None:
    assert from_ion(text) == expected


@pytest.mark.parametrize(
    "text",
    ["{a: 1", "[1 2]", '"unterminated', "'\\q'", "{1: 2}", "2007-13-01", "@", "{{ !!! }}", "[" * (MAX_DEPTH + 2)],
)
def test_from_ion_refuses(text: str) -> None:
    with pytest.raises(IonError, match="Invalid ion"):
        from_ion(text)


def test_from_ion_reads_what_to_ion_writes() -> None:
    value = {"s": "x'y\"z", "n": [1, 2.5, None, True], "nested": {"keyword null": {}}}
    assert render("{{ fromIon(v | toIon) == v }}", {"v": value}) == "true"


def test_encrypt_is_random_and_round_trips_every_key_size() -> None:
    for size in (16, 24, 32):
        key = base64.b64encode(bytes(size)).decode()
        first = render("{{ encrypt(k, 'été') }}", {"k": key})
        assert first != render("{{ encrypt(k, 'été') }}", {"k": key})  # a new IV each time
        assert render("{{ decrypt(k, e) }}", {"k": key, "e": first}) == "été"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ encrypt('not base64!', 'x') }}", "the key is not base64"),
        ("{{ encrypt('AAAA', 'x') }}", "AES needs 16, 24 or 32"),
        ("{{ decrypt(k, 'AAAA') }}", "too short"),
        ("{{ decrypt(k, '%%%') }}", "not base64"),
        ("{{ decrypt(k, encrypt(other, 'x')) }}", "Tag mismatch"),
    ],
)
def test_crypto_errors_name_the_problem(template: str, message: str) -> None:
    other = base64.b64encode(bytes(16)).decode()
    with pytest.raises(RenderError, match=message):
        render(template, {"k": KEY, "other": other})


def test_a_decrypted_text_is_masked_as_a_secret() -> None:
    revealed = Revealed()
    encrypted = render("{{ encrypt(k, 'hunter2') }}", {"k": KEY})
    assert render("{{ decrypt(k, e) }}", {"k": KEY, "e": encrypted, REVEALED_KEY: revealed}) == "hunter2"
    assert revealed.redact("password=hunter2") == "password=******"
