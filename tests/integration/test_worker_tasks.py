"""The task catalogue on a worker service and the real Kafka broker: jobs of each new type in, final results
and log lines out. An HTTP Request against a loopback server the test starts, OutputValues, a python Script
with outputs, a shell Script with beforeCommands and env, python Commands, and a SECRET input masked in the
log lines a script prints."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from conveyor.common import input_secrets
from conveyor.common.events import LogEntry, TaskResult, WorkerJob
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.settings import KafkaSettings
from conveyor.common.state import StateType
from conveyor.worker.testing import make_job
from tests.httpserver import loopback_server
from tests.integration.test_worker import Tail, ended, of, results, running_worker, send_jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def producer(kafka_settings: KafkaSettings) -> Iterator[Producer]:
    producer = Producer(kafka_settings)
    yield producer
    producer.flush()


def final(items: list[TaskResult], job: WorkerJob) -> TaskResult:
    done = [r for r in of(items, job) if r.state.terminal]
    assert len(done) == 1, of(items, job)
    return done[0]


def test_the_catalogue_runs_on_a_worker(kafka_settings: KafkaSettings, producer: Producer) -> None:
    topics = Topics.of(kafka_settings)
    events = results(kafka_settings)
    logs = Tail(kafka_settings, topics.logs, LogEntry.model_validate_json)
    with loopback_server() as server:
        request = make_job(
            {
                "id": "post",
                "type": "io.kestra.plugin.core.http.Request",
                "uri": server.url + "/echo",
                "method": "POST",
                "body": '{"user": "{{ inputs.user }}"}',
                "options": {"auth": {"type": "BASIC", "username": "{{ inputs.user }}", "password": "{{ inputs.pw }}"}},
            },
            {"inputs": {"user": "ada", "pw": input_secrets.seal("pa55")}},
        )
        missing = make_job(
            {"id": "missing", "type": "io.kestra.plugin.core.http.Request", "uri": server.url + "/status/404"}
        )
        values = make_job(
            {"id": "vals", "type": "io.kestra.plugin.core.output.OutputValues", "values": {"a": "{{ inputs.n * 2 }}"}},
            {"inputs": {"n": 21}},
        )
        python = make_job(
            {
                "id": "py",
                "type": "io.kestra.plugin.scripts.python.Script",
                "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
                "script": "import json\nprint('secret is {{ inputs.pw }}')\n"
                "print('::' + json.dumps({'outputs': {'sum': sum(range(5))}}) + '::')\n",
            },
            {"inputs": {"pw": input_secrets.seal("pa55")}},
        )
        shell = make_job(
            {
                "id": "sh",
                "type": "io.kestra.plugin.scripts.shell.Script",
                "beforeCommands": ["export PREFIX=hi"],
                "env": {"NAME": "{{ inputs.name }}"},
                "script": 'echo "$PREFIX $NAME"',
            },
            {"inputs": {"name": "grace; exit 7"}},
        )
        commands = make_job(
            {
                "id": "pc",
                "type": "io.kestra.plugin.scripts.python.Commands",
                "commands": ["python3 -c 'import os; print(os.environ[\"PYTHONUNBUFFERED\"])'"],
            }
        )
        jobs = (request, missing, values, python, shell, commands)
        with running_worker(kafka_settings, worker_id="worker-tasks"):
            send_jobs(producer, kafka_settings, *jobs)
            items = events.wait_for(ended(*jobs), timeout=90)
            logs.wait_for(lambda got: {e.task_id for e in got} >= {"py", "sh", "pc", "missing"})
        recorded = [r for r in server.requests if r.path == "/echo"]

    posted = final(items, request)
    assert posted.state is StateType.SUCCESS and posted.outputs is not None
    assert posted.outputs["code"] == 200
    assert json.loads(posted.outputs["body"])["body"] == '{"user": "ada"}'
    assert [r.headers["Authorization"] for r in recorded] == ["Basic " + base64.b64encode(b"ada:pa55").decode()]

    failed = final(items, missing)
    assert failed.state is StateType.FAILED and failed.error == "Failed http request with response code '404'"
    assert final(items, values).outputs == {"values": {"a": "42"}}
    assert final(items, python).outputs == {"sum": 10, "exitCode": 0}
    assert final(items, shell).state is StateType.SUCCESS
    assert final(items, commands).state is StateType.SUCCESS

    lines = {(e.task_id, e.message) for e in logs.items}
    assert ("py", "secret is ********") in lines and not any("pa55" in e.message for e in logs.items)
    assert ("sh", "hi grace; exit 7") in lines
    assert ("pc", "true") in lines
    events.close()
    logs.close()
