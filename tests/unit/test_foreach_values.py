"""ForEach values: rendered, made strings, de-duplicated in their first order (at any size)."""

from __future__ import annotations

from conveyor.executor.values import foreach_values


def test_values_are_strings_without_duplicates_in_first_order() -> None:
    assert foreach_values(["b", "a", "b", 1, "1", {"k": 2}, {"k": 2}], {}, "each") == ["b", "a", "1", '{"k":2}']


def test_a_rendered_range_of_100000_keeps_every_value_once() -> None:
    values = foreach_values("{{ range(100000) | list }}", {}, "each")
    assert len(values) == 100_000 and values[:3] == ["0", "1", "2"] and values[-1] == "99999"
    assert foreach_values("[3, 1, 3, 2, 1]", {}, "each") == ["3", "1", "2"]
