"""How long the tests' OIDC provider takes to start: Keycloak from `conveyor.common.servers.keycloak`.

    .venv/bin/python bench/keycloak_start.py             # cached starts (3)
    .venv/bin/python bench/keycloak_start.py --cold      # first the augmentation cache removed, then cached ones

For each start: from the launch to the realm's discovery document answering (`KeycloakServer.started_in`), and
whether Quarkus' augmentation ran (its line in the console log). `--cold` removes
`~/.cache/conveyor/keycloak-<version>-dev-quarkus/` first, so the first start augments as on a fresh machine
(the distribution itself stays cached: its download is Maven's and depends on the network).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from conveyor.common.servers.keycloak import AUGMENTED, start_keycloak
from conveyor.common.servers.maven import cache_dir, keycloak_home


def one_start() -> tuple[float, bool]:
    server = start_keycloak()
    try:
        augmented = "QuarkusAugmentor" in (server.data_dir / "console.log").read_text(errors="replace")
        return server.started_in, augmented
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="remove the augmentation cache before the first start")
    parser.add_argument("--starts", type=int, default=3, help="starts after the first (default 3)")
    args = parser.parse_args()
    fetched = time.monotonic()
    keycloak_home()
    fetch = time.monotonic() - fetched
    if args.cold:
        shutil.rmtree(cache_dir() / AUGMENTED, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"distribution ready in {fetch:.1f} s (cached: ~0); load average {load:.1f} on {os.cpu_count()} cores")
    print(f"{'start':>6} | {'ready after (s)':>15} | augmented")
    print(f"{'-' * 6}-+-{'-' * 15}-+-{'-' * 9}")
    for number in range(1 + args.starts):
        seconds, augmented = one_start()
        print(f"{number + 1:>6} | {seconds:>15.1f} | {'yes' if augmented else 'no'}", flush=True)


if __name__ == "__main__":
    main()
