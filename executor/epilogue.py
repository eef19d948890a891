"""The flow's `finally` and `afterExecution` blocks, as the reference runs them.

- `finally`: once `tasks` (and `errors`, after a failure) ended, whatever the outcome, the `finally` tasks run
  one after another while the execution is still RUNNING; the execution's state is the worse of the two
  (a failing `finally` task fails it). A kill stops them like any other task: none starts once killing.
- `afterExecution`: once the execution's state is final (its end date set, a parent told, `{{ execution.state }}`
  the final state), its tasks run one after another; whatever they end in, the execution's state stays as it
  was. Meanwhile the execution is kept (`ExecutionState.after`, in its header record): its final `executions`
  header and its tombstones wait until they end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.common.state import StateType
from conveyor.executor.state import worst

if TYPE_CHECKING:
    from conveyor.executor.rules import Rules


def finally_(d: Rules, result: StateType) -> StateType | None:
    """The execution's state once its `finally` tasks ended (None while they run)."""
    if not d.flow.finally_:
        return result
    state = d.step_list(d.flow.finally_, [], None, None)
    return None if state is None else worst(result, state)


def starts_after(d: Rules) -> bool:
    """The execution just ended: whether it has afterExecution tasks to run now."""
    if not d.flow.after_execution or not d.execution.state.terminal:
        return False
    d.state.after = True
    return True


def after_execution(d: Rules) -> bool:
    """Step the afterExecution tasks; True once they all ended (the execution's state is left as it is)."""
    if d.step_list(d.flow.after_execution, [], None, None) is None:
        return False
    d.state.after = False
    return True


__all__ = ["after_execution", "finally_", "starts_after"]
