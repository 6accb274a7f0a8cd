"""The clinic's configuration, one pydantic model shared by the CLI and in-process tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clinic.faults import FAULTS, unknown_fault_message


class ClinicSettings(BaseModel):
    """How one clinic instance runs: where its data lives, which flag source, which faults."""

    model_config = ConfigDict(frozen=True)

    data_dir: Path
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite file")
    faults: frozenset[str] = frozenset()
    flags_file: Path | None = Field(default=None, description="default <data_dir>/flags.json")
    unleash_url: str | None = None
    unleash_token: str | None = None
    support_token: str | None = None
    media_token_ttl: int = 300
    cache_ttl: float = 3.0
    switch_negotiation_seconds: float = 0.04

    @field_validator("faults")
    @classmethod
    def _known_faults(cls, value: frozenset[str]) -> frozenset[str]:
        message = unknown_fault_message(sorted(value))
        if message:
            raise ValueError(message)
        return value

    def active(self, fault: str) -> bool:
        """Whether a planted fault is switched on; a typo in the code is a bug, so it raises."""
        if fault not in FAULTS:
            raise KeyError(fault)
        return fault in self.faults

    @property
    def database_url(self) -> str:
        return normalise_db_url(self.db_url or f"sqlite:///{self.data_dir / 'clinic.db'}")

    @property
    def flags_path(self) -> Path:
        return self.flags_file or self.data_dir / "flags.json"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def normalise_db_url(url: str) -> str:
    """Accept plain `postgresql://` and use the psycopg 3 driver, which is what is installed."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
