"""`pluginDefaults`: default property values for every plugin (task, trigger, condition) of a type or type
prefix, from the flow and from the settings (`CONVEYOR_PLUGIN_DEFAULTS`), as the reference injects them.

They are applied to the flow's YAML data before it is validated (`conveyor.common.loader`), so that a default
can supply a required property (a `message` for every Log) and a bad default is an error naming the task it
went into. Semantics (the reference's `PluginDefaultService`):
- a default applies to every mapping with a `type` equal to its `type`, or starting with it (a prefix such as
  `io.kestra.plugin.core.log`), or naming the same task type through an alias;
- not `forced`: the plugin's own values win, and the flow's defaults win over the global ones; `forced`: the
  default wins over the plugin's values, the flow's forced ones over the global forced ones. Maps merge deeply;
  anything else is replaced;
- a property the plugin type does not have is left out when the default came by prefix (a prefix reaches types
  with other properties), and an error when the default names that type exactly.
`taskDefaults` (deprecated in the reference) is read as `pluginDefaults`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from conveyor.common.flow import PluginDefault
from conveyor.common.tasks import registry
from conveyor.common.triggers import registry as triggers

Path = tuple[int | str, ...]
FLOW_KEYS = ("pluginDefaults", "taskDefaults")


class PluginDefaultsSettings(BaseSettings):
    """Plugin defaults for every flow this process loads (the reference's `kestra.plugins.defaults`)."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_PLUGIN_", frozen=True, extra="ignore")

    defaults: list[PluginDefault] = Field(
        default_factory=list,
        description="A JSON list of `{type, values, forced}`, applied to every flow after its own `pluginDefaults` "
        '(e.g. `[{"type": "io.kestra.plugin.core.log.Log", "values": {"level": "WARN"}}]`). Set it alike in '
        "every process that loads flows (CLI, server, scheduler).",
    )


@cache
def global_defaults() -> tuple[PluginDefault, ...]:
    return tuple(PluginDefaultsSettings().defaults)


class DefaultError(ValueError):
    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


def inject(data: dict[str, Any], extra: Sequence[PluginDefault]) -> tuple[dict[str, Any], set[Path]]:
    """The flow's data with the defaults applied, and the paths of the properties a default set."""
    own: list[tuple[Path, PluginDefault]] = []
    for key in FLOW_KEYS:
        entries = data.get(key)
        if isinstance(entries, list):
            for index, entry in enumerate(entries):
                try:
                    own.append(((key, index), PluginDefault.model_validate(entry)))
                except ValidationError:
                    continue  # the flow's validation names it, with its line
    everything = [*own, *((("settings", i), d) for i, d in enumerate(extra))]
    if not everything:
        return data, set()
    injector = _Injector(
        [item for item in everything if not item[1].forced],
        list(reversed([item for item in everything if item[1].forced])),
    )
    out = {k: (v if k in FLOW_KEYS else injector.walk(v, (k,))) for k, v in data.items()}
    return out, injector.supplied


class _Injector:
    def __init__(self, normal: list[tuple[Path, PluginDefault]], forced: list[tuple[Path, PluginDefault]]) -> None:
        self.normal = normal
        self.forced = forced
        self.supplied: set[Path] = set()

    def walk(self, value: Any, path: Path) -> Any:
        if isinstance(value, list):
            return [self.walk(item, (*path, i)) for i, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        out = {k: self.walk(v, (*path, k)) for k, v in value.items()}
        kind = out.get("type")
        if isinstance(kind, str):
            for where, default in self.normal:
                if _matches(kind, default.type):
                    out = self._apply(out, kind, where, default, path, forced=False)
            for where, default in self.forced:
                if _matches(kind, default.type):
                    out = self._apply(out, kind, where, default, path, forced=True)
        return out

    def _apply(
        self, plugin: dict[str, Any], kind: str, where: Path, default: PluginDefault, path: Path, *, forced: bool
    ) -> dict[str, Any]:
        known = _properties(kind)
        exact = _canonical(kind) == _canonical(default.type)
        values: dict[str, Any] = {}
        for key, value in default.values.items():
            if known is not None and key not in known:
                if exact and where[0] != "settings":
                    raise DefaultError((*where, "values", key), f"no property '{key}' in {kind}")
                continue
            if forced or key not in plugin or isinstance(value, dict):
                self.supplied.add((*path, key))
            values[key] = value
        return _merge(plugin, values) if forced else _merge(values, plugin)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _matches(kind: str, default_type: str) -> bool:
    return kind == default_type or kind.startswith(default_type) or _canonical(kind) == _canonical(default_type)


def _canonical(kind: str) -> str:
    cls = _classes().get(kind)
    return cls.canonical_type() if cls is not None else kind


def _properties(kind: str) -> frozenset[str] | None:
    """The property names (as written in YAML) of a known plugin type; None for a type we cannot tell."""
    cls = _classes().get(kind)
    if cls is None:
        return None
    names = {name for name in cls.model_fields} | {f.alias for f in cls.model_fields.values() if f.alias}
    return frozenset(names)


def _classes() -> dict[str, Any]:
    return {**triggers.trigger_classes(), **registry.task_classes()}


__all__ = ["DefaultError", "PluginDefault", "PluginDefaultsSettings", "global_defaults", "inject"]
