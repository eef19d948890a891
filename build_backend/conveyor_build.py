"""setuptools' own PEP 517 backend, with one note silenced.

For a layout like ours (each `conveyor.*` package mapped to a top-level folder), an editable install goes
through setuptools' import-hook strategy, which always ends with the note "Editable installation. Please be
careful with folders in your working directory with the same name as your package". pip shows it as a
warning on every `pip install -e .`; no folder here is named `conveyor`, so it never applies. Everything else,
including every real setuptools warning, passes through unchanged.
"""

import warnings

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (the PEP 517 hooks, re-exported as they are)
from setuptools.warnings import InformationOnly


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, str | list[str] | None] | None = None,
    metadata_directory: str | None = None,
) -> str:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Editable installation\.", InformationOnly)
        wheel: str = build_meta.build_editable(wheel_directory, config_settings, metadata_directory)
    return wheel
