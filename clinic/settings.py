"""The clinic's configuration, one pydantic model shared by the CLI and in-process tests."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    media: Literal["header", "real"] = Field(
        default="header",
        description="header: each recording is a text header naming the patient; real: calls "
        "are WebRTC (clinic/media_rtc.py) and each recording is the WebM of what was received",
    )
    smtp: str | None = Field(default=None, description="HOST:PORT for 'recording ready' e-mail")
    sms_webhook: str | None = Field(default=None, description="URL that gets SMS as JSON POSTs")

    @field_validator("smtp")
    @classmethod
    def _smtp_address(cls, value: str | None) -> str | None:
        if value is not None:
            parse_smtp(value)
        return value

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

    @property
    def smtp_address(self) -> tuple[str, int] | None:
        return parse_smtp(self.smtp) if self.smtp else None


def parse_smtp(value: str) -> tuple[str, int]:
    """`HOST:PORT` as (host, port); anything else raises ValueError naming the expected form."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"SMTP address {value!r} is not HOST:PORT (e.g. 127.0.0.1:1025)")
    return host, int(port)


def normalise_db_url(url: str) -> str:
    """Accept plain `postgresql://` and use the psycopg 3 driver, which is what is installed."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
