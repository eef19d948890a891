"""The server's parameter checks and the query pieces it added to the indexer's DSL (pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.api.errors import BadParameter, _location
from conveyor.api.params import check_cursor, check_sort, check_time_zone, parse_when
from conveyor.api.settings import ServerSettings
from conveyor.indexer.dsl import MAX_WINDOW, daily_stats_search, encode_cursor, taskrun_search
from conveyor.indexer.errors import QueryError
from conveyor.indexer.filters import Paging, TaskRunFilters


def test_dates_are_iso_and_a_plain_date_is_the_whole_day() -> None:
    assert parse_when("2024-05-02", "startDate") == datetime(2024, 5, 2, tzinfo=UTC)
    end = parse_when("2024-05-02", "endDate", end=True)
    assert end is not None and (end.date().isoformat(), end.hour, end.minute) == ("2024-05-02", 23, 59)
    assert parse_when("2024-05-02T10:00:00", "startDate") == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert parse_when("2024-05-02T10:00:00Z", "startDate") == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert parse_when("", "startDate") is None
    with pytest.raises(BadParameter) as bad:
        parse_when("tomorrow", "endDate")
    assert bad.value.parameter == "endDate" and bad.value.status == 422


@pytest.mark.parametrize(
    ("check", "value", "parameter"),
    [
        (check_sort, "nope:asc", "sort"),
        (check_sort, "taskId:up", "sort"),
        (check_cursor, "%%%", "after"),
        (check_cursor, encode_cursor([1])[:-1] + "{", "after"),
        (check_time_zone, "Nowhere/City", "timeZone"),
    ],
)
def test_bad_values_name_their_parameter(check: object, value: str, parameter: str) -> None:
    with pytest.raises(BadParameter) as bad:
        check(value)  # type: ignore[operator]
    assert bad.value.parameter == parameter and f"'{parameter}'" in bad.value.message


def test_good_values_pass() -> None:
    assert check_sort("state.durationMs:desc") == "state.durationMs:desc"
    assert check_cursor(encode_cursor(["2024-05-01", "x"])) is not None
    assert check_time_zone("Europe/Paris") == "Europe/Paris"


def test_validation_locations_read_as_parameter_names() -> None:
    assert _location(("query", "state", 0)) == ("query", "state")
    assert _location(("body", "state", 1)) == ("body", "state[1]")
    assert _location(("body",)) == ("body", "body")
    assert _location(()) == ("request", "request")
    # pydantic names the member of a union that failed (`NUMBER.value.int`): the caller wrote `NUMBER.value`
    assert _location(("body", "NUMBER", "value", "int")) == ("body", "NUMBER.value")
    assert _location(("body", "JSON", "value", "dict[str,any]")) == ("body", "JSON.value")


def test_the_members_of_a_union_are_one_field_of_one_answer() -> None:
    """`PUT …/kv/K {"value": "x", "type": "NUMBER"}` answered `'NUMBER.value.int': … (and 1 more)`."""
    import json

    from fastapi.exceptions import RequestValidationError

    from conveyor.api.errors import _validation

    failed = [
        {"loc": ("body", "NUMBER", "value", "int"), "msg": "Input should be a valid integer", "type": "int_type"},
        {"loc": ("body", "NUMBER", "value", "float"), "msg": "Input should be a valid number", "type": "float_type"},
    ]
    answer = json.loads(bytes(_validation(None, RequestValidationError(failed)).body))  # type: ignore[arg-type]
    assert answer["message"] == "invalid parameter 'NUMBER.value': expected a valid integer, or a valid number"
    assert answer["errors"] == [
        {"parameter": "NUMBER.value", "in": "body", "message": "expected a valid integer, or a valid number"}
    ]


def test_numbered_pages_are_a_bounded_from_and_exclude_the_cursor() -> None:
    assert taskrun_search(paging=Paging(size=25, offset=50))["from"] == 50
    assert "from" not in taskrun_search(paging=Paging(size=25))
    with pytest.raises(QueryError):
        taskrun_search(paging=Paging(size=25, offset=MAX_WINDOW - 25))
    with pytest.raises(QueryError):
        taskrun_search(paging=Paging(size=25, offset=25, search_after=encode_cursor(["x"])))


def test_daily_stats_take_the_search_filters() -> None:
    body = daily_stats_search(TaskRunFilters(start="2024-05-01", end="2024-05-02", execution_id="ex1", q="Foo"))
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"executionId": "ex1"}} in filters
    assert any("wildcard" in str(f) and "*Foo*" in str(f) for f in filters)


def test_server_settings_defaults_and_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVEYOR_SERVER_HOST", raising=False)
    monkeypatch.delenv("CONVEYOR_SERVER_PORT", raising=False)
    assert ServerSettings().url == "http://127.0.0.1:8080"
    assert ServerSettings(host="::1", port=9000).url == "http://[::1]:9000"
