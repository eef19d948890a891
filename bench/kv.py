"""What the KV store and secret masking cost: a `set` (produce + flush), a `get` right after it (catching the
table up), a `get` with nothing new, a `list` of a namespace as the store grows, and masking the values
`secret()` read in log lines (on the shared or given Kafka).

    .venv/bin/python bench/kv.py [--keys 1000]

Prints one table; every figure is the median of its repetitions, in milliseconds.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import median_ms
from conveyor.common.expr_context import Revealed
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.producer import Producer
from conveyor.common.kv import KvStore
from conveyor.common.settings import KafkaSettings


def masking_rows(lines: int) -> list[tuple[str, float]]:
    rows = []
    text = "INFO request to https://api.example.com/v1/items?page=3 answered 200 in 41 ms " * 2
    for secrets in (1, 10, 100):
        revealed = Revealed()
        for n in range(secrets):
            revealed.add(f"secret-value-{n:04d}-{uuid.uuid4().hex}")
        start = time.perf_counter()
        for _ in range(lines):
            revealed.redact(text)
        rows.append(
            (f"mask one 160-char log line, {secrets} secret(s) read", (time.perf_counter() - start) * 1000 / lines)
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000)
    args = parser.parse_args()
    kafka = KafkaSettings(topic_prefix=f"bench-kv-{uuid.uuid4().hex[:6]}.", partitions=2)
    ensure_topics(kafka)
    writer = KvStore(kafka, Producer(kafka))
    reader = KvStore(kafka, Producer(kafka))
    counter = iter(range(10**9))
    rows: list[tuple[str, float]] = []
    rows.append(("set one key (produce + flush)", median_ms(lambda: writer.put("bench", f"k{next(counter)}", 1), 100)))

    def set_then_get() -> None:
        key = f"k{next(counter)}"
        writer.put("bench", key, {"a": 1})
        assert reader.get("bench", key) is not None

    rows.append(("set, then get on another reader (read-your-writes)", median_ms(set_then_get, 100)))
    rows.append(("get with nothing new on the topic", median_ms(lambda: reader.get("bench", "k1"), 200)))
    for _ in range(args.keys):
        writer.put("bench", f"bulk{next(counter)}", 1)
    total = len(reader.list("bench"))
    rows.append((f"list a namespace of {total} keys", median_ms(lambda: reader.list("bench"), 20)))
    rows.extend(masking_rows(20_000))
    writer.close()
    reader.close()
    print("| operation | median ms |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
