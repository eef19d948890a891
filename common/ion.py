"""`toIon`: a value in Amazon Ion's text format, as the reference's `toIon` filter writes it.

Own code rather than amazon-ion: that library writes a `$ion_1_0` marker and floats at full binary
precision (`1.1229999999999999982e+0`) where the reference writes `1.123e0`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_SYMBOL = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_KEYWORDS = {"null", "true", "false", "nan"}


def _symbol(key: str) -> str:
    if _SYMBOL.fullmatch(key) and key not in _KEYWORDS:
        return key
    return "'" + json.dumps(key, ensure_ascii=False)[1:-1].replace("'", "\\'") + "'"


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent) if exponent else 0}"


def to_ion(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, datetime):
        return "ZonedDateTime::" + json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_symbol(str(k))}:{to_ion(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_ion(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
