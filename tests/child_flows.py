"""The child flows the Subflow and ForEachItem tests call (`tests/unit/test_subflows.py` through the executor
core, `tests/e2e/test_subflows.py` on the services), each in the namespace its tests deploy to; the ForEachItem
parent that calls a child per batch, and the items file it splits.
"""

from __future__ import annotations


def child(namespace: str) -> str:
    """`child`: greets its input `name` and returns the greeting as its output."""
    return f"""
id: child
namespace: {namespace}
inputs:
  - {{id: name, type: STRING, defaults: nobody}}
tasks:
  - {{id: hello, type: io.kestra.plugin.core.debug.Return, format: "hello {{{{ inputs.name }}}}"}}
outputs:
  - {{id: greeting, type: STRING, value: "{{{{ outputs.hello.value }}}}"}}
"""


def failing(namespace: str) -> str:
    """`failing`: fails at once."""
    return f"""
id: failing
namespace: {namespace}
tasks:
  - {{id: boom, type: io.kestra.plugin.core.execution.Fail, errorMessage: "child failed on purpose"}}
"""


def slow(namespace: str) -> str:
    """`slow`: sleeps long enough to be killed meanwhile."""
    return f"""
id: slow
namespace: {namespace}
tasks:
  - {{id: nap, type: io.kestra.plugin.core.flow.Sleep, duration: PT5M}}
"""


def fails_once(namespace: str) -> str:
    """`fails-once`: fails on its first run, succeeds when restarted (the failed task run's next attempt)."""
    return f"""
id: fails-once
namespace: {namespace}
tasks:
  - {{id: first, type: io.kestra.plugin.core.debug.Return, format: one}}
  - {{id: boom, type: io.kestra.plugin.core.execution.Fail, condition: "{{{{ taskrun.attemptsCount == 0 }}}}"}}
outputs:
  - {{id: greeting, type: STRING, value: "{{{{ outputs.first.value }}}}"}}
"""


def flaky(namespace: str, failing_batches: str) -> str:
    """`flaky`, a ForEachItem's child: returns its batch's lines; the batches `failing_batches` (a list, e.g.
    `[2, 5]`) fail on their first run (`ITERATION_INPUT` gives the child its batch's number)."""
    return f"""
id: flaky
namespace: {namespace}
inputs:
  - {{id: items, type: STRING}}
  - {{id: iteration, type: INT}}
tasks:
  - {{id: count, type: io.kestra.plugin.core.debug.Return, format: "{{{{ read(inputs.items) | trim }}}}"}}
  - id: maybe
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ inputs.iteration in {failing_batches} and taskrun.attemptsCount == 0 }}}}"
outputs:
  - {{id: value, type: STRING, value: "{{{{ outputs.count.value }}}}"}}
"""


def for_each_item(namespace: str, flow_id: str, batch: str, child_id: str, extra: str = "") -> str:
    """A parent whose ForEachItem `each` splits its FILE input `file` by `batch` (e.g. `{rows: 4}`) and runs
    `child_id` per batch, the batch's file as its input `items`; `extra`: more of the task's properties."""
    return f"""
id: {flow_id}
namespace: {namespace}
inputs:
  - {{id: file, type: FILE}}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ inputs.file }}}}"
    batch: {batch}
    namespace: {namespace}
    flowId: {child_id}
    inputs:
      items: "{{{{ taskrun.items }}}}"
{extra}
"""


ITEMS_INPUT = '      items: "{{ taskrun.items }}"\n'


def with_iteration(parent: str) -> str:
    """A ForEachItem parent whose children get their batch's number as the input `iteration` too."""
    return parent.replace(ITEMS_INPUT, ITEMS_INPUT + '      iteration: "{{ taskrun.iteration }}"\n')


def items_text(lines: int) -> str:
    """The reference's storageUpload() (102 lines in its tests): the numbers from 0, left-padded to 20."""
    return "".join(f"{i:>20}\n" for i in range(lines))
