"""The clinic's tables (SQLAlchemy 2 ORM, typed)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Naive UTC, because SQLite drops time zones and aware/naive values do not compare."""
    return datetime.now(UTC).replace(tzinfo=None)


def as_utc(value: datetime) -> datetime:
    """A stored (naive UTC) time as an aware one, so JSON says `Z` as RFC 3339 requires."""
    return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(200))
    nhs_number: Mapped[str | None] = mapped_column(String(40), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    first_switch_at: Mapped[datetime | None] = mapped_column(default=None)


class Assignment(Base):
    """A clinician looks after a patient until `discharged_at` (the row stays, for audit)."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("clinician_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    discharged_at: Mapped[datetime | None] = mapped_column(default=None)


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[str] = mapped_column(String(40))

    patient: Mapped[User] = relationship(foreign_keys=[patient_id], lazy="joined")
    clinician: Mapped[User] = relationship(foreign_keys=[clinician_id], lazy="joined")
    consultation: Mapped[Consultation] = relationship(back_populates="appointment", lazy="joined")


class Consultation(Base):
    """One video/audio call per appointment. Each mode segment becomes a recording."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), unique=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    mode: Mapped[str] = mapped_column(String(10), default="audio")
    switches: Mapped[int] = mapped_column(Integer, default=0)
    segment_no: Mapped[int] = mapped_column(Integer, default=0)

    appointment: Mapped[Appointment] = relationship(back_populates="consultation")


class Participant(Base):
    """Who has joined a call; `present` drops to False on leave and back on rejoin."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("consultation_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    present: Mapped[bool] = mapped_column(default=True)


class Recording(Base):
    """One filed mode segment; `source` is "switch" if a switch closed it, else "call".

    The owner may withdraw consent to share it with clinicians, or delete it: deletion is soft
    (`deleted_at`), and the media file stays on disk until a retention job would purge it.
    """

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    media_path: Mapped[str] = mapped_column(Text)
    media_size: Mapped[int] = mapped_column(Integer)
    shared_with_clinician: Mapped[bool] = mapped_column(default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    patient: Mapped[User] = relationship(lazy="joined")
    appointment: Mapped[Appointment] = relationship()


class MediaToken(Base):
    __tablename__ = "media_tokens"

    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]


class AuthToken(Base):
    """A login: the bearer token and the session cookie are the same secret."""

    __tablename__ = "auth_tokens"

    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(lazy="joined")


ALL_TABLES_CHILD_FIRST = [
    AuthToken,
    MediaToken,
    Recording,
    Participant,
    Consultation,
    Appointment,
    Assignment,
    User,
]
