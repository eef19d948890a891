"""What authentication costs a request: the argon2 hash and check, the memory of a checked password, an API
token's check against the `auth-tokens` topic, and whole requests through `conveyor server` authenticated
each way (on the shared or given Kafka and Elasticsearch).

    .venv/bin/python bench/auth.py [--requests 300]

Prints one table; every figure is the median of its repetitions, in milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import median_ms
from conveyor.api.passwords import Verifier, hash_password
from conveyor.api.tokenstore import TokenStore, digest, new_token
from conveyor.common.auth import ApiToken, Binding, Role
from conveyor.common.clock import utcnow
from conveyor.common.ids import new_id
from conveyor.common.kafka.admin import ensure_topics
from conveyor.common.kafka.producer import Producer
from conveyor.common.settings import ElasticsearchSettings, KafkaSettings
from tests.apiserver import ADMIN_HEADERS, serving


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    prefix = f"bench-auth-{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(topic_prefix=f"{prefix}.", partitions=1)
    es = ElasticsearchSettings(index_prefix=prefix)
    ensure_topics(kafka)
    rows: list[tuple[str, float]] = []
    hashed = hash_password("bench")
    rows.append(("argon2id hash (argon2-cffi defaults)", median_ms(lambda: hash_password("bench"), 10)))
    rows.append(("argon2id check, first time", median_ms(lambda: Verifier().verify("u", "bench", hashed), 10)))
    remembered = Verifier()
    remembered.verify("u", "bench", hashed)
    rows.append(("password check, remembered", median_ms(lambda: remembered.verify("u", "bench", hashed), 1000)))

    producer = Producer(kafka)
    store = TokenStore(kafka, producer)
    token_id = new_id()
    token = new_token(token_id)
    now = utcnow()
    store.create(
        ApiToken(
            id=token_id,
            name="bench",
            owner="admin",
            bindings=(Binding(role=Role.ADMIN),),
            sha256=digest(token),
            created_at=now,
            expires_at=now + timedelta(days=1),
            created_by="admin",
        )
    )
    rows.append(("token check (catch up on auth-tokens + SHA-256)", median_ms(lambda: store.check(token), 200)))
    store.close()
    producer.flush(10)

    with serving(kafka, es) as base, httpx.Client(base_url=base, timeout=30) as http:
        bearer = {"Authorization": f"Bearer {token}"}
        wrong = {"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()}
        ways: tuple[tuple[str, dict[str, str]], ...] = (
            ("Basic (remembered)", ADMIN_HEADERS),
            ("Bearer token", bearer),
            ("none (401)", {}),
        )
        for name, headers in ways:
            http.get("/api/v1/me", headers=headers)

            def once(h: dict[str, str] = headers) -> object:
                return http.get("/api/v1/me", headers=h)

            rows.append((f"GET /api/v1/me, {name}", median_ms(once, args.requests)))
        rows.append(
            ("GET /api/v1/me, wrong password (401)", median_ms(lambda: http.get("/api/v1/me", headers=wrong), 20))
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  median ms")
    for what, ms in rows:
        print(f"{what:<{width}}  {ms:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
