"""Request and response bodies (the OpenAPI contract in API.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool


def storable(value: str) -> str:
    # Neither database stores NUL or lone surrogates; refuse them here so they are a 422, not a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(storable)]
LongText = Annotated[str, Field(max_length=2000), AfterValidator(storable)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactUpdate(Strict):
    email: Text
    phone: Text


class LoginRequest(Strict):
    username: Text
    password: Text


class UserOut(BaseModel):
    id: int
    username: str
    role: Literal["patient", "clinician"]
    display_name: str


class LoginResponse(BaseModel):
    token: str
    user: UserOut


class MeOut(UserOut):
    nhs_number: str | None
    notes: str | None
    email: str | None
    phone: str | None


class Problem(BaseModel):
    """Every error but a validation error: `{"detail": "..."}`."""

    detail: str


class AppointmentOut(BaseModel):
    id: int
    patient_id: int
    patient_name: str
    clinician_id: int
    clinician_name: str
    reason: str
    starts_at: str
    consultation_id: int


class AppointmentPage(BaseModel):
    items: list[AppointmentOut]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


class RecordingOut(BaseModel):
    id: int
    consultation_id: int
    appointment_id: int
    patient_id: int
    patient_name: str
    mode: Literal["audio", "video"]
    source: Literal["call", "switch"]
    title: str
    created_at: datetime
    media_size: int
    shared_with_clinician: bool


class RecordingPage(BaseModel):
    items: list[RecordingOut]
    page: int
    per_page: int
    total: int
    next: str | None = Field(description="the next page's URL; null on the last page")


class RecordingSlice(BaseModel):
    items: list[RecordingOut]
    offset: int
    limit: int
    total: int


class ConsentRequest(Strict):
    # Strict: a consent decision is an explicit true or false, never a coerced "no" or 0.
    share_with_clinician: StrictBool


class TransferRequest(Strict):
    to_clinician: Text


class SearchHit(BaseModel):
    kind: Literal["appointment", "recording", "patient"]
    id: int
    patient_id: int
    patient_name: str
    text: str = Field(description="what matched: the reason, the title or the patient's name")


class SearchResults(BaseModel):
    items: list[SearchHit]


class MediaTokenOut(BaseModel):
    token: str
    url: str
    expires_in: int
    playback: str = Field(
        description="a signed JWT for the player: the recording and the patient its caption names"
    )


class ConsultationOut(BaseModel):
    id: int
    appointment_id: int
    patient_id: int
    clinician_id: int
    status: Literal["scheduled", "active", "ended"]
    mode: Literal["audio", "video"]
    switches: int
    participants: list[str]


class SwitchRequest(Strict):
    mode: Literal["audio", "video"]


class PatientOut(BaseModel):
    id: int
    username: str
    display_name: str
    nhs_number: str | None


class PatientList(BaseModel):
    items: list[PatientOut]


class Ok(BaseModel):
    ok: bool = True


class Health(BaseModel):
    status: str
    faults: list[str]


class SeedPatient(Strict):
    username: Text
    password: Text
    display_name: Text
    nhs_number: Text
    notes: LongText = ""
    email: Text | None = None
    phone: Text | None = None


class SeedClinician(Strict):
    username: Text
    password: Text
    display_name: Text
    patients: list[Text] = []


class SeedAppointment(Strict):
    patient: Text
    clinician: Text
    reason: Text
    starts_at: Text


class SeedRecording(Strict):
    """An archived recording (a consultation recorded before this system): filed under the
    patient's first appointment."""

    patient: Text
    title: Text
    mode: Literal["audio", "video"] = "video"


class BulkAppointment(Strict):
    reason: Text
    starts_at: Text


class SeedAppointments(Strict):
    """One patient's appointments with one clinician, in one request."""

    patient: Text
    clinician: Text
    items: list[BulkAppointment] = Field(min_length=1, max_length=1000)


class BulkRecording(Strict):
    title: Text
    mode: Literal["audio", "video"] = "video"


class SeedRecordings(Strict):
    """One patient's archived recordings, in one request."""

    patient: Text
    items: list[BulkRecording] = Field(min_length=1, max_length=1000)


class SeedRequest(Strict):
    patients: list[SeedPatient] = []
    clinicians: list[SeedClinician] = []
    appointments: list[SeedAppointment] = []


class SeededAppointment(BaseModel):
    id: int
    consultation_id: int
    patient: str
    clinician: str


class SeedResponse(BaseModel):
    patients: dict[str, int]
    clinicians: dict[str, int]
    appointments: list[SeededAppointment]


class NewUser(Strict):
    role: Literal["patient", "clinician"]
    username: Text
    password: Text
    display_name: Text
    nhs_number: Text | None = None
    notes: LongText | None = None
    email: Text | None = None
    phone: Text | None = None


class CreatedUser(BaseModel):
    id: int
    username: str


class NewAssignment(Strict):
    clinician: Text
    patient: Text


class CreatedRecording(BaseModel):
    id: int


class CreatedMany(BaseModel):
    """Ids in the order the items were sent (and each appointment's consultation)."""

    ids: list[int]
    consultation_ids: list[int] = []


class CreatedAppointment(BaseModel):
    id: int
    consultation_id: int


class Flushed(BaseModel):
    ok: bool = Field(description="false if the queue did not drain in time")
    sent: int = Field(description="notifications delivered since the clinic started")
    failed: int = Field(description="notifications that could not be delivered (logged)")


class SupportState(BaseModel):
    patients: int
    clinicians: int
    appointments: int
    recordings: int
