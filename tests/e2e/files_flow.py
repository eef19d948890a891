"""The files flow both storage backends' end-to-end tests run: a FILE input given as `--input data=@file`,
read by Commands through `inputFiles`, an output file stored through `outputFiles` and read by the next task
with `read()`; then `conveyor files get` and `conveyor purge`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Stack

FLOW = """\
id: orders
namespace: company.files
inputs:
  - {id: data, type: FILE}
tasks:
  - id: total
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      orders.csv: "{{ inputs.data }}"
      header.txt: "total of {{ flow.id }}:"
    outputFiles: ["*.txt"]
    commands:
      - "awk -F, 'NR > 1 { sum += $2 } END { print sum }' orders.csv > sum.txt"
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: >-
      {{ read(outputs.total.outputFiles['header.txt']) }}
      {{ read(outputs.total.outputFiles['sum.txt']) | trim }}
"""


def check_files_flow(stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "orders.yaml"
    flow.write_text(FLOW)
    orders = tmp_path / "orders.csv"
    orders.write_text("id,amount\n1,10\n2,32\n")
    execution = stack.run_json(flow, "--input", f"data=@{orders}")
    assert execution["state"]["current"] == "SUCCESS", json.dumps(execution)[:2000] + stack.tail()
    uri = execution["inputs"]["data"]
    assert uri == f"kestra:///company/files/orders/executions/{execution['id']}/inputs/data/orders.csv"
    runs = {run["taskId"]: run for run in execution["taskRunList"]}
    files = runs["total"]["outputs"]["outputFiles"]
    prefix = f"kestra:///company/files/orders/executions/{execution['id']}/tasks/total/{runs['total']['id']}/"
    assert files == {"header.txt": prefix + "header.txt", "sum.txt": prefix + "sum.txt"}
    assert runs["report"]["outputs"]["value"] == "total of orders: 42"

    copy = tmp_path / "copy.csv"
    got = stack.cli("files", "get", uri, "-o", str(copy))
    assert got.returncode == 0, got.stderr
    assert copy.read_text() == orders.read_text()
    assert stack.cli("files", "get", files["sum.txt"]).stdout.strip() == "42"

    purged = stack.cli("purge", "--older-than", "PT0.001S", "--output", "json")
    assert purged.returncode == 0, purged.stderr
    assert f"kestra:///company/files/orders/executions/{execution['id']}/" in json.loads(purged.stdout)["prefixes"]
    gone = stack.cli("files", "get", files["sum.txt"])
    assert gone.returncode == 1 and "no file at" in gone.stderr
    bad = stack.cli("purge", "--older-than", "thirty days")
    assert bad.returncode == 2 and "--older-than" in bad.stderr
