"""`CONVEYOR_STORAGE_*`: which backend holds the internal storage and how to reach it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from conveyor.common.settings import conveyor_home


def _default_root() -> Path:
    return conveyor_home() / "storage"


class StorageSettings(BaseSettings):
    """The internal storage: FILE inputs, Commands' input and output files, `read()`, downloads, purge."""

    # hide_input_in_errors: a validation error must never echo the raw input, which holds the secret key.
    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_STORAGE_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    type: Literal["local", "s3"] = Field(
        default="local",
        description="`local`: a directory (one machine: every service must see it); `s3`: an S3-compatible "
        "object store that every worker and server reaches (a cluster).",
    )
    local_root: Path = Field(
        default_factory=_default_root,
        description="The directory of the `local` backend. Unset: `storage/` under the stack's home "
        "(`CONVEYOR_HOME`, else `~/.conveyor`).",
    )
    s3_endpoint: str | None = Field(
        default=None,
        description="The S3 endpoint URL (`http://host:port` of MinIO, SeaweedFS, S3Mock...). Unset: AWS's own.",
    )
    s3_bucket: str = Field(default="conveyor", description="The bucket holding every file (created if missing).")
    s3_region: str = Field(default="us-east-1", description="The bucket's region.")
    s3_access_key: SecretStr | None = Field(
        default=None, description="The access key id (unset: boto3's own chain: environment, profile, role)."
    )
    s3_secret_key: SecretStr | None = Field(default=None, description="The secret access key.")
    s3_path_style: bool = Field(
        default=True,
        description="Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need.",
    )
    read_limit: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="The largest file (bytes) the `read()` expression function returns; past it `read()` fails "
        "and says so.",
    )
    preview_limit: int = Field(
        default=256 * 1024, gt=0, description="The most bytes (or the first rows' bytes) the preview endpoint shows."
    )
