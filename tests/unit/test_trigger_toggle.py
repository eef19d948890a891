"""Enable/disable of every trigger type, pure: `apply_control` on the state of a Flow or a Webhook trigger
(disabled and enabled again, recorded like a Schedule's; no backfill), `stopAfter` on them, the raw
`trigger-state` check the Flow trigger loop and webhooks use (`disabled_in`), and a Flow trigger's key as
the loop looks it up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.common.loader import load_flow
from conveyor.common.model import Execution, ExecutionTrigger
from conveyor.common.state import State, StateType
from conveyor.common.triggers.base import Trigger
from conveyor.common.triggers.state import Action, TriggerControl, disabled_in
from conveyor.scheduler.control import apply_control, first_state
from conveyor.scheduler.flow_index import FlowTriggerIndex
from conveyor.scheduler.stop_after import StopAfterIndex

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 2, 10, 5, tzinfo=UTC)

FLOW = load_flow("""
id: f
namespace: ns
tasks:
  - {id: t, type: io.kestra.plugin.core.debug.Return, format: x}
triggers:
  - id: after
    type: io.kestra.plugin.core.trigger.Flow
    conditions: [{type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: up, flowId: a}]
  - {id: hook, type: io.kestra.plugin.core.trigger.Webhook, key: k3y, stopAfter: [FAILED]}
""")
FLOW_TRIGGER, WEBHOOK = FLOW.triggers


def control(action: Action, trigger_id: str = "after", **extra: object) -> TriggerControl:
    return TriggerControl.model_validate(
        {"namespace": "ns", "flowId": "f", "triggerId": trigger_id, "action": action, "requested": T0, **extra}
    )


@pytest.mark.parametrize("trigger", [FLOW_TRIGGER, WEBHOOK], ids=["flow", "webhook"])
def test_a_flow_or_webhook_trigger_is_disabled_then_enabled_in_its_state(trigger: Trigger) -> None:
    state = first_state("ns", "f", trigger, T0)
    assert (state.key, state.type, state.disabled) == (f"ns/f/{trigger.id}", trigger.canonical_type(), False)
    off = apply_control(state, trigger, control(Action.DISABLE, trigger.id), T1)
    assert off.disabled and off.disabled_at == T1 and disabled_in(off.to_json())
    assert apply_control(off, trigger, control(Action.DISABLE, trigger.id), T1) == off  # twice: the first date
    on = apply_control(off, trigger, control(Action.ENABLE, trigger.id), T1)
    assert not on.disabled and on.disabled_at is None and not disabled_in(on.to_json())
    assert on.next is None and on.last is None  # no slots: nothing to recover


def test_only_a_schedule_is_backfilled() -> None:
    state = first_state("ns", "f", WEBHOOK, T0)
    with pytest.raises(ValueError, match="only a Schedule can be backfilled"):
        apply_control(state, WEBHOOK, control(Action.BACKFILL, "hook", start=T0), T1)


def test_stop_after_disables_a_webhook_trigger_after_an_execution_it_started_failed() -> None:
    index = StopAfterIndex()
    index.update("ns/f", FLOW, T0)
    ended = Execution(
        id="ex-1", namespace="ns", flow_id="f", flow_revision=1,
        state=State(current=StateType.FAILED, histories=State.new(T1).histories),
        trigger=ExecutionTrigger(id="hook", type=WEBHOOK.canonical_type()),
    )  # fmt: skip
    notice = index.notice(ended, T1, T1)
    assert notice is not None and (notice.key, notice.action) == ("ns/f/hook", Action.STOP_AFTER)
    stopped = apply_control(first_state("ns", "f", WEBHOOK, T0), WEBHOOK, notice, T1)
    assert stopped.disabled and stopped.stopped_after is not None and stopped.stopped_after.execution_id == "ex-1"
    succeeded = ended.model_copy(update={"state": State(current=StateType.SUCCESS, histories=ended.state.histories)})
    assert index.notice(succeeded, T1, T1) is None


@pytest.mark.parametrize(
    ("raw", "disabled"),
    [
        (None, False),
        (b'{"namespace": "ns", "disabled": true}', True),
        (b'{"disabled":false}', False),
        (b'{"disabled": "true"}', False),  # only a JSON true
        (b"not json", False),
        (b"[true]", False),
    ],
)
def test_disabled_in_reads_a_raw_state_record(raw: bytes | None, disabled: bool) -> None:
    assert disabled_in(raw) is disabled


def test_a_flow_trigger_candidate_carries_its_state_key() -> None:
    index = FlowTriggerIndex()
    index.update("ns/f", FLOW, T0)
    (candidate,) = index.candidates("up", "a")
    assert candidate.key == "ns/f/after"
