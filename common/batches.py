"""A ForEachItem's batches as bounded ranges, and the child execution of each batch.

The executor's rule and the worker's restart job share this: a batch's child id is derived from the task run,
the batch number and its *generation*, the task run's count of runs of children when that child was created
(`executor.subflows.child_id`). The children of one split share the task run's `childRun` (the generation at
the split); a restart that replaces a batch's child (it could not be restarted in place) records that
batch's new generation in `replaced`, as ranges `[first, last, generation]`. Both lists stay at most
`MAX_RANGES` long, so no record grows with the number of batches.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from conveyor.common.ids import derived_id

# The most ranges a task run keeps of one kind (failed batches, replaced children): past it, a restart runs
# every batch again.
MAX_RANGES = 100

Ranges = list[list[int]]  # sorted, disjoint [first, last]; `replaced` adds the generation: [first, last, gen]


def child_id(task_run_id: str, generation: int, iteration: int) -> str:
    return derived_id("subflow", task_run_id, str(generation), str(iteration))


def add_to_ranges(ranges: Ranges, number: int) -> Ranges:
    """`number` added to sorted, disjoint `[first, last]` ranges (joined with its neighbours)."""
    result = [list(r) for r in ranges]
    at = bisect.bisect_left([r[0] for r in result], number)
    if at > 0 and result[at - 1][1] >= number:
        return result  # already in
    if at < len(result) and result[at][0] == number:
        return result
    joins_left = at > 0 and result[at - 1][1] == number - 1
    joins_right = at < len(result) and result[at][0] == number + 1
    if joins_left and joins_right:
        result[at - 1][1] = result[at][1]
        del result[at]
    elif joins_left:
        result[at - 1][1] = number
    elif joins_right:
        result[at][0] = number
    else:
        result.insert(at, [number, number])
    return result


def numbers(ranges: Ranges) -> Iterator[int]:
    for first, last, *_ in ranges:
        yield from range(first, last + 1)


def count(ranges: Ranges) -> int:
    return sum(r[1] - r[0] + 1 for r in ranges)


def generation_of(replaced: Ranges, base: int, iteration: int) -> int:
    """The generation of the batch's current child: its `replaced` range's, else the split's `base`."""
    at = bisect.bisect_right([r[0] for r in replaced], iteration) - 1
    if at >= 0 and replaced[at][0] <= iteration <= replaced[at][1]:
        return replaced[at][2]
    return base


def with_generation(replaced: Ranges, ranges: Ranges, generation: int) -> Ranges:
    """`replaced` with every batch of `ranges` at `generation` (neighbours of the same generation joined)."""
    chosen = set(numbers(ranges))
    out: Ranges = []
    for first, last, gen in replaced:  # the old ranges less the batches chosen
        start = None
        for number in range(first, last + 1):
            if number in chosen:
                if start is not None:
                    out.append([start, number - 1, gen])
                    start = None
            elif start is None:
                start = number
        if start is not None:
            out.append([start, last, gen])
    out.extend([first, last, generation] for first, last, *_ in ranges)
    out.sort()
    joined: Ranges = []
    for r in out:
        if joined and joined[-1][2] == r[2] and joined[-1][1] + 1 == r[0]:
            joined[-1][1] = r[1]
        else:
            joined.append(list(r))
    return joined
