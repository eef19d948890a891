"""Files given for a Pause's FILE `onResume` inputs (`conveyor resume ID --input f=@path`, a file part of a
`multipart/form-data` `POST /api/v1/executions/{id}/resume`), as the reference stores them: in the internal
storage under the execution's own prefix, `…/executions/{id}/inputs/{input}/{file name}` (the layout of a
flow's FILE inputs), the input's value being that URI (`outputs.<pause>.onResume.<input>`), which `read()` and
Commands' `inputFiles` read as the execution's own file.

`place` checks each file against the paused Pauses' declarations and says where it goes, before anything is
stored; `store` writes them once the resume's inputs have all been typed, so that a refused resume leaves no
file behind. A file for an input no paused Pause declares, or for one that is not FILE, is refused naming it
(from the CLI, `@path` for a non-FILE input stays the text `@path`, as `conveyor run` keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from conveyor.common.input_types import InputType
from conveyor.common.steering import ResumeInputError
from conveyor.common.storage import default_storage
from conveyor.common.storage.uri import ExecutionScope, StorageURIError


@dataclass(frozen=True)
class ResumeFile:
    """A file given for an onResume input: its file name, its bytes (an open stream, or a local path read when
    stored) and, from the CLI's `NAME=@PATH`, the text that stands for it when the input is not FILE."""

    filename: str
    source: BinaryIO | Path
    literal: str | None = None


@dataclass(frozen=True)
class Placed:
    """Where each file goes (input id -> URI, with its file), and the CLI's `@path` texts kept as values."""

    uris: dict[str, tuple[str, ResumeFile]]
    texts: dict[str, str]

    @property
    def values(self) -> dict[str, str]:
        return {**self.texts, **{name: uri for name, (uri, _) in self.uris.items()}}


def place(declared: dict[str, InputType], files: dict[str, ResumeFile], scope: ExecutionScope) -> Placed:
    """Each file's URI under `scope`; raises `ResumeInputError` naming a file no FILE input takes."""
    uris: dict[str, tuple[str, ResumeFile]] = {}
    texts: dict[str, str] = {}
    for name, given in files.items():
        kind = declared.get(name)
        if kind != InputType.FILE and given.literal is not None:
            texts[name] = given.literal
            continue
        if kind is None:
            known = ", ".join(sorted(declared)) or "none"
            raise ResumeInputError(f"inputs.{name}", f"unknown onResume input '{name}' (declared: {known})")
        if kind != InputType.FILE:
            raise ResumeInputError(
                f"inputs.{name}", f"onResume input '{name}': a file was given, but it is a {kind} input, not FILE"
            )
        if isinstance(given.source, Path) and not given.source.is_file():
            raise ResumeInputError(f"inputs.{name}", f"onResume input '{name}': cannot read {given.source}")
        try:
            uris[name] = (scope.input_file(name, given.filename or name), given)
        except StorageURIError as error:
            raise ResumeInputError(f"inputs.{name}", f"onResume input '{name}': file name: {error}") from None
    return Placed(uris, texts)


def store(placed: Placed) -> None:
    """Write each placed file (blocking I/O); a file that cannot be read is refused naming its input."""
    if not placed.uris:
        return
    storage = default_storage()
    for name, (uri, given) in placed.uris.items():
        try:
            if isinstance(given.source, Path):
                with given.source.open("rb") as data:
                    storage.put(uri, data)
            else:
                storage.put(uri, given.source)
        except OSError as error:
            raise ResumeInputError(
                f"inputs.{name}", f"onResume input '{name}': cannot read {given.filename}: {error.strerror or error}"
            ) from None
