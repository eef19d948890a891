"""SECRET inputs encrypted with `CONVEYOR_ENCRYPTION_SECRET_KEY` (AES-GCM), end to end on the real Kafka with
the executor and a worker in-process: the value reaches the tasks that read it (a shell command checks its
SHA-256, a flow output of type SECRET is encrypted again), and no Kafka record holds it in clear or
in base64, only `conveyor-secret:v2:` and the ciphertext."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest

from conveyor.common import encryption, input_secrets
from conveyor.common.kafka.consumer import read_partitions_to_end
from conveyor.common.kafka.producer import Producer
from conveyor.common.kafka.topics import Topics
from conveyor.common.launch import new_execution
from conveyor.common.loader import load_flow
from conveyor.common.settings import ExecutorSettings, KafkaSettings, WorkerSettings
from conveyor.common.state import StateType
from conveyor.executor.service import Executor
from conveyor.worker.service import Worker
from tests.integration.inprocess import InThreads, ended

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SECRET = "hunter2-encrypted-at-rest"
FLOW = """
id: encrypted
namespace: it.encryption
inputs:
  - {id: token, type: SECRET}
tasks:
  - id: check
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ['test "$(printf %s "$TOKEN" | sha256sum | cut -c1-64)" = "$WANT" && echo "token=$TOKEN"']
    env:
      TOKEN: "{{ inputs.token }}"
      WANT: 7d4eec16866573e6ae698ad06e1c305b88d2220eef46c6e0d2642676e8994ae5
  - {id: size, type: io.kestra.plugin.core.debug.Return, format: "{{ inputs.token | length }}"}
outputs:
  - {id: again, type: SECRET, value: "{{ inputs.token }}"}
"""


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    value = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("CONVEYOR_ENCRYPTION_SECRET_KEY", value)
    encryption.default_cipher.cache_clear()
    yield value
    monkeypatch.delenv("CONVEYOR_ENCRYPTION_SECRET_KEY")
    encryption.default_cipher.cache_clear()


def test_an_encrypted_secret_reaches_its_tasks_and_no_record_holds_it(kafka_settings: KafkaSettings, key: str) -> None:
    flow = load_flow(FLOW)
    created = new_execution(flow, {"token": SECRET})
    sealed = (created.execution.inputs or {})["token"]
    assert sealed.startswith(input_secrets.ENCRYPTED)
    services = InThreads(
        [
            Executor(kafka_settings, ExecutorSettings(poll_timeout=0.05)),
            Worker(kafka_settings, WorkerSettings(poll_timeout=0.05, concurrency=2)),
        ]
    )
    try:
        producer = Producer(kafka_settings)
        producer.send(Topics.of(kafka_settings).execution_events, created.execution_id, created.to_json())
        producer.flush()
        execution = ended(kafka_settings, [created.execution_id])[created.execution_id]
    finally:
        services.close()
    assert not services.failures, services.failures

    assert execution.state.current is StateType.SUCCESS, execution.state
    runs = {r.task_id: r for r in execution.task_run_list}
    assert runs["size"].outputs == {"value": str(len(SECRET))}
    again = (execution.outputs or {})["again"]
    assert again.startswith(input_secrets.ENCRYPTED) and again != sealed  # a fresh IV each time
    assert input_secrets.unseal(again) == SECRET

    encoded = base64.urlsafe_b64encode(SECRET.encode())  # what the unencrypted seal would have written
    topics = Topics.of(kafka_settings)
    seen = 0
    for topic in (topics.logs, topics.taskruns, topics.execution_events, topics.executions, topics.worker_jobs):
        for partition in range(2):
            for msg in read_partitions_to_end(kafka_settings, [(topic, partition)]):
                value = msg.value or b""
                assert SECRET.encode() not in value and encoded not in value, topic
                seen += input_secrets.ENCRYPTED.encode() in value
    assert seen >= 3  # the creation, the worker jobs, the execution's snapshots

    # a process with another key cannot read it: the task that would fails, naming the setting
    encryption.default_cipher.cache_clear()
    os.environ["CONVEYOR_ENCRYPTION_SECRET_KEY"] = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(encryption.EncryptionError, match="CONVEYOR_ENCRYPTION_SECRET_KEY"):
        input_secrets.unseal(sealed)
