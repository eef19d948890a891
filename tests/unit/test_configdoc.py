"""docs/configuration.md is what `python -m conveyor.cli.configdoc` prints (regenerate with `./dev docs`), and
it documents every setting without ever showing a secret's value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from conveyor.cli import configdoc

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_page_is_what_the_generator_prints() -> None:
    assert PAGE.read_text() == configdoc.markdown(), "docs/configuration.md is stale: run ./dev docs"


def test_every_setting_has_a_row() -> None:
    page = configdoc.markdown()
    for cls in configdoc.SETTINGS:
        prefix = str(cls.model_config["env_prefix"])
        for name in cls.model_fields:
            assert f"| `{(prefix + name).upper()}` |" in page


def test_a_secret_default_is_masked_and_a_missing_description_refused() -> None:
    class Demo(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="CONVEYOR_DEMO_")
        token: SecretStr = Field(default=SecretStr("hunter2"), description="a token")

    page = configdoc.markdown([Demo], [])
    assert "hunter2" not in page and "| `CONVEYOR_DEMO_TOKEN` | *secret* | `**********` | a token |" in page

    class Bare(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="CONVEYOR_BARE_")
        size: int = 1

    with pytest.raises(ValueError, match=r"Bare\.size has no Field"):
        configdoc.markdown([Bare], [])
