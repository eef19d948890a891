"""Query building: filters, sort and cursors turned into Elasticsearch DSL (no server needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from conveyor.indexer.dsl import (
    daily_stats_search,
    decode_cursor,
    encode_cursor,
    execution_search,
    log_page_search,
    log_search,
    parse_sort,
    taskrun_search,
)
from conveyor.indexer.errors import QueryError
from conveyor.indexer.filters import ExecutionFilters, LogFilters, Paging, TaskRunFilters, with_fields


def test_no_filter_is_match_all_sorted_by_start_date_then_id() -> None:
    body = taskrun_search()
    assert body == {
        "query": {"match_all": {}},
        "sort": [
            {"state.startDate": {"order": "desc", "missing": "_last"}},
            {"id": {"order": "asc"}},
        ],
        "size": 25,
        "track_total_hits": True,
    }


def test_every_taskrun_filter_becomes_a_filter_clause() -> None:
    body = taskrun_search(
        TaskRunFilters(
            namespace="company.team",
            flow_id="hello",
            state=["FAILED", "WARNING"],
            execution_id="ex1",
            task_id="say",
            q="Sa*y",
            start=datetime(2024, 5, 1, tzinfo=UTC),
            end="2024-05-31T23:59:59Z",
        ),
        Paging(size=10),
    )
    filters = body["query"]["bool"]["filter"]
    assert filters == [
        {
            "bool": {
                "should": [{"term": {"namespace": "company.team"}}, {"prefix": {"namespace": "company.team."}}],
                "minimum_should_match": 1,
            }
        },
        {"term": {"flowId": "hello"}},
        {"terms": {"state.current": ["FAILED", "WARNING"]}},
        {
            "bool": {
                "should": [
                    {"wildcard": {f: {"value": "*Sa\\*y*", "case_insensitive": True}}}
                    for f in ("id", "executionId", "namespace", "flowId", "taskId", "value")
                ],
                "minimum_should_match": 1,
            }
        },
        {"range": {"state.startDate": {"gte": "2024-05-01T00:00:00+00:00", "lte": "2024-05-31T23:59:59Z"}}},
        {"term": {"executionId": "ex1"}},
        {"term": {"taskId": "say"}},
    ]
    assert body["size"] == 10


def test_sort_accepts_friendly_names_and_keeps_id_as_the_tiebreaker() -> None:
    fields = {"duration": "state.durationMs", "taskId": "taskId", "id": "id"}
    assert parse_sort("duration:desc, taskId", fields) == [
        {"state.durationMs": {"order": "desc", "missing": "_last"}},
        {"taskId": {"order": "asc", "missing": "_last"}},
        {"id": {"order": "asc"}},
    ]
    assert parse_sort("id:desc", fields) == [{"id": {"order": "desc", "missing": "_last"}}]
    with pytest.raises(QueryError, match="cannot sort by 'outputs'"):
        parse_sort("outputs", fields)
    with pytest.raises(QueryError, match="asc or desc"):
        parse_sort("id:up", fields)


def test_search_after_cursors_round_trip_and_reject_garbage() -> None:
    values = [1714521600000, "6Fz1cLzHuEdqxYSv4iZmWd"]
    cursor = encode_cursor(values)
    assert "=" not in cursor
    assert decode_cursor(cursor) == values
    assert taskrun_search(paging=Paging(search_after=cursor))["search_after"] == values
    with pytest.raises(QueryError, match="not a page cursor"):
        decode_cursor("!!!")
    with pytest.raises(QueryError, match="not a page cursor"):
        decode_cursor(encode_cursor({"a": 1}))  # type: ignore[arg-type]


def test_page_size_is_bounded() -> None:
    with pytest.raises(QueryError, match="page size"):
        taskrun_search(paging=Paging(size=0))
    with pytest.raises(QueryError, match="page size"):
        taskrun_search(paging=Paging(size=1_001))


def test_execution_labels_are_nested_queries_on_key_and_value() -> None:
    body = execution_search(ExecutionFilters(labels={"env": "prod"}, q="hel"), Paging(sort="taskRunCount:desc"))
    filters = body["query"]["bool"]["filter"]
    assert filters[-1] == {
        "nested": {
            "path": "labels",
            "query": {"bool": {"filter": [{"term": {"labels.key": "env"}}, {"term": {"labels.value": "prod"}}]}},
        }
    }
    assert [next(iter(c["wildcard"])) for c in filters[0]["bool"]["should"]] == ["id", "namespace", "flowId"]
    assert body["sort"][0] == {"taskRunCount": {"order": "desc", "missing": "_last"}}


def test_logs_are_ordered_by_timestamp_then_topic_position() -> None:
    body = log_search("ex1", "say", min_level="warn")
    assert body["query"]["bool"]["filter"] == [
        {"term": {"executionId": "ex1"}},
        {"term": {"taskId": "say"}},
        {"terms": {"level": ["WARN", "ERROR"]}},
    ]
    assert body["sort"] == [{"timestamp": "asc"}, {"offset": "asc"}, {"partition": "asc"}]


def test_daily_stats_histogram_covers_every_day_of_the_range() -> None:
    window = TaskRunFilters(start="2024-05-01T10:00:00Z", end=datetime(2024, 5, 7, tzinfo=UTC), namespace="company")
    body = daily_stats_search(window)
    days = body["aggs"]["days"]
    assert days["date_histogram"]["calendar_interval"] == "day"
    assert days["date_histogram"]["min_doc_count"] == 0
    assert days["date_histogram"]["extended_bounds"] == {"min": "2024-05-01", "max": "2024-05-07"}
    assert days["aggs"]["duration"] == {"stats": {"field": "state.durationMs"}}
    assert days["aggs"]["states"]["terms"]["field"] == "state.current"
    assert body["query"]["bool"]["filter"][-1]["range"]["state.startDate"]["lte"] == "2024-05-07||/d"
    assert body["size"] == 0


def test_keywords_fill_the_filters_and_the_page_each_where_it_belongs() -> None:
    filters, paging = with_fields(TaskRunFilters(q="x"), Paging(size=5), {"task_id": "say", "sort": "taskId"})
    assert filters == TaskRunFilters(q="x", task_id="say")
    assert paging == Paging(size=5, sort="taskId")
    with pytest.raises(TypeError):
        with_fields(ExecutionFilters(), Paging(), {"task_id": "say"})  # executions have no task id


def test_daily_stats_need_the_whole_window() -> None:
    with pytest.raises(QueryError, match="a start and an end"):
        daily_stats_search(TaskRunFilters(start="2024-05-01"))
    body = daily_stats_search(TaskRunFilters(start=date(2024, 5, 1), end=date(2024, 5, 2)), time_zone="Europe/Paris")
    assert body["aggs"]["days"]["date_histogram"]["extended_bounds"] == {"min": "2024-05-01", "max": "2024-05-02"}
    assert body["query"]["bool"]["filter"] == [
        {
            "range": {
                "state.startDate": {
                    "gte": "2024-05-01||/d",
                    "lte": "2024-05-02||/d",
                    "format": "yyyy-MM-dd",
                    "time_zone": "Europe/Paris",
                }
            }
        }
    ]


def test_a_log_search_across_executions_filters_orders_and_pages_on() -> None:
    filters = LogFilters(
        namespace="team", flow_id="etl", min_level="warn", q="disk full", start=date(2024, 5, 1), allowed=("team",)
    )
    body = log_page_search(filters, size=50, sort="timestamp:asc", after=encode_cursor([1714557600000, 1, 42]))
    clauses = body["query"]["bool"]["filter"]
    assert {"term": {"flowId": "etl"}} in clauses
    assert {"terms": {"level": ["WARN", "ERROR"]}} in clauses
    assert {"match": {"message": {"query": "disk full", "operator": "and"}}} in clauses
    assert {"range": {"timestamp": {"gte": "2024-05-01"}}} in clauses
    assert body["sort"] == [{"timestamp": "asc"}, {"partition": "asc"}, {"offset": "asc"}]
    assert body["search_after"] == [1714557600000, 1, 42]
    assert body["track_total_hits"] == 10_000
    assert log_page_search(LogFilters(), size=1)["query"] == {"match_all": {}}
    with pytest.raises(QueryError, match="sort"):
        log_page_search(LogFilters(), size=10, sort="level:asc")
    with pytest.raises(QueryError, match="size"):
        log_page_search(LogFilters(), size=0)
