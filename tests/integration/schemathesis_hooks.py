"""What the API's OpenAPI document names but no JSON Schema can say, taught to schemathesis (loaded through
`SCHEMATHESIS_HOOKS` by `tests/integration/test_api_schema.py`):

- `conveyor-flow-yaml`: the body of `POST /api/v1/flows`, a valid flow's YAML: a flow of `examples/` or of
  the reference corpus under a generated id (malformed flows are fuzzed in `tests/unit/test_loader_fuzz.py`
  and `test_api_schema.py`, which checks that each is answered 4xx naming the field);
- `conveyor-page-cursor`: the `after` of a task-run search, a cursor as the API returns them (the start
  date and the id of the last task run of a page).
"""

from __future__ import annotations

import re
from pathlib import Path

import schemathesis
from hypothesis import strategies as st

from conveyor.indexer.dsl import encode_cursor

ROOT = Path(__file__).resolve().parents[2]
FLOWS = sorted([*(ROOT / "examples").glob("*.yaml"), *(ROOT / "tests/corpus/kestra/flows").glob("*.yaml")])
_SOURCES = [p.read_text(encoding="utf-8") for p in FLOWS]
_ID = re.compile(r"^id: .*$", re.MULTILINE)


def _renamed(source: str, flow_id: str) -> str:
    return _ID.sub(f"id: {flow_id}", source, count=1)


flow_yaml = st.builds(_renamed, st.sampled_from(_SOURCES), st.from_regex(r"\Af[a-z0-9]{0,8}\Z"))
page_cursor = st.builds(
    lambda when, last: encode_cursor([when, last]),
    st.integers(min_value=0, max_value=4_102_444_800_000),
    st.from_regex(r"\A[a-z0-9-]{1,20}\Z"),
)

schemathesis.openapi.format("conveyor-flow-yaml", flow_yaml)
schemathesis.openapi.format("conveyor-page-cursor", page_cursor)
