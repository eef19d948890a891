"""Every filter, test and function of the reference's expression language, by the name flows use.

Jinja2's own filters and tests stay where the reference has none of that name (`lower`, `upper`, `trim`,
`abs`, `round`, `list`…); where both have one, the reference's meaning wins (`first`, `last`, `replace`,
`capitalize`, `title`, `indent`, `slice`, `split`, `join`, `length`, `sort`, `urlencode`, `range`…).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import escape

from conveyor.common import expr_dates as dates
from conveyor.common import expr_files as files
from conveyor.common import expr_functions as fn
from conveyor.common import expr_strings as text
from conveyor.common import expr_values as values
from conveyor.common.ion import to_ion
from conveyor.common.ion_parse import from_ion

FILTERS: dict[str, Callable[..., Any]] = {
    # dates
    "date": dates.date,
    "dateAdd": dates.date_add,
    "timestamp": dates.timestamp,
    "timestampMicro": dates.timestamp_micro,
    "timestampNano": dates.timestamp_nano,
    # strings
    "replace": text.replace,
    "substringBefore": text.substring_before,
    "substringAfter": text.substring_after,
    "substringBeforeLast": text.substring_before_last,
    "substringAfterLast": text.substring_after_last,
    "escapeChar": text.escape_char,
    "slugify": text.slugify,
    "urlencode": text.urlencode,
    "urldecode": text.urldecode,
    "startsWith": text.starts_with,
    "endsWith": text.ends_with,
    "numberFormat": text.number_format,
    "numberformat": text.number_format,
    "indent": text.indent,
    "nindent": text.nindent,
    "base64encode": text.base64_encode,
    "base64decode": text.base64_decode,
    "abbreviate": text.abbreviate,
    "capitalize": text.capitalize,
    "title": text.title,
    "split": text.split,
    "escape": lambda v, strategy="html": str(escape("" if v is None else v)),
    "raw": lambda v: v,
    **text.HASHES,
    # lists, maps, numbers
    "chunk": values.chunk,
    "distinct": values.distinct,
    "flatten": values.flatten,
    "first": values.first,
    "last": values.last,
    "length": values.length,
    "sort": values.sort,
    "rsort": values.rsort,
    "reverse": values.reverse,
    "slice": values.slice_,
    "join": values.join,
    "merge": values.merge,
    "keys": values.keys,
    "values": values.values,
    "number": values.number,
    "className": values.class_name,
    "toIon": to_ion,
    "yaml": values.to_yaml,
    "fromJson": fn.from_json,
    "from_json": fn.from_json,
}

TESTS: dict[str, Callable[..., bool]] = {
    "null": lambda v: v is None,
    "even": values.is_even,
    "odd": values.is_odd,
    "iterable": values.is_iterable,
    "map": values.is_map,
}

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "range": fn.inclusive_range,
    "min": fn.minimum,
    "max": fn.maximum,
    "fromJson": fn.from_json,
    "json": fn.from_json,
    "yaml": fn.from_yaml,
    "fromYaml": fn.from_yaml,
    "fromIon": from_ion,
    "uuid": fn.uuid,
    "id": fn.short_id,
    "randomInt": fn.random_int,
    # the internal storage
    "read": files.read,
    "fileURI": files.file_uri,
    "fileSize": files.file_size,
}
