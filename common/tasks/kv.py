"""The reference's KV store tasks (`io.kestra.plugin.core.kv.Set`, `Get`, `Delete`); they run on workers
against the `kv` topic (`common/kv.py`). Every property may be an expression."""

from __future__ import annotations

from typing import Any

from conveyor.common.tasks.base import RunnableTask


class KvSet(RunnableTask):
    """Sets `key` to `value` in `namespace` (the flow's by default): typed by `kvType` (else by the value),
    expiring after `ttl` (ISO-8601), refusing an existing key when `overwrite` is false."""

    type_names = ("io.kestra.plugin.core.kv.Set",)
    key: str
    value: Any
    namespace: str | None = None
    overwrite: bool | str = True
    ttl: str | None = None
    kv_type: str | None = None


class KvGet(RunnableTask):
    """Reads `key` of `namespace` into the output `value` (null, or a failure with `errorOnMissing`, when
    absent or expired)."""

    type_names = ("io.kestra.plugin.core.kv.Get",)
    key: str
    namespace: str | None = None
    error_on_missing: bool | str = False


class KvDelete(RunnableTask):
    """Deletes `key` of `namespace`; the output `deleted` says whether it held a value (a failure with
    `errorOnMissing` when it did not)."""

    type_names = ("io.kestra.plugin.core.kv.Delete",)
    key: str
    namespace: str | None = None
    error_on_missing: bool | str = False
