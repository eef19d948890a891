"""Kafka → Elasticsearch: the executions, taskruns, logs and metrics topics become searchable documents.

- `service` (`Indexer`) and `main` (`run_indexer`): the loop, poll → buffer → bulk when a size or time
  bound is hit → commit after success
- `batch`: the buffered messages, reduced to the newest version of each entity
- `documents`: the flat documents and their bulk actions (index, `_id`, external version)
- `bulk`: one `streaming_bulk` write, sorted into written / stale / rejected / resend
- `templates`: index templates, monthly index names, read aliases
- `lag`: per-partition consumer lag from librdkafka's statistics
- `queries`: the Task Runs queries the CLI and the API call, built by `dsl`
- `errors`: the indexer's exceptions
"""
