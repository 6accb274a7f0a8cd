"""The controller's database: tables, and the numbered migration steps that create them.

The URL decides the engine (SQLite by default, PostgreSQL for teams). `migrate` applies every
step not yet recorded in `schema_migrations`, each in its own transaction, so a later step can
be added without touching a database already in use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
)

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", String(40), nullable=False),
)
tokens = Table(
    "tokens",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("role", String(40), nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)
pins = Table(
    "pins",
    metadata,
    Column("flag", String(200), primary_key=True),
    Column("policy_digest", String(64), nullable=False),
    Column("keys", Text, nullable=False),  # JSON {keyid: public key PEM}
    Column("proposal", Integer, nullable=False),
    Column("key_expiry", Text),  # step 3: JSON {keyid: ISO time} for keys being rotated out
)
pin_proposals = Table(
    "pin_proposals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flag", String(200), nullable=False),
    Column("policy_digest", String(64), nullable=False),
    Column("keys", Text, nullable=False),
    Column("proposed_by", String(200), nullable=False),
    Column("approved_by", String(200)),
    Column("created_at", String(40), nullable=False),
    Column("key_expiry", Text),  # step 3
)
revocations = Table(
    "revocations",
    metadata,
    Column("flag", String(200), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("by", String(200), nullable=False),
    Column("at", String(40), nullable=False),
)
approvals = Table(
    "approvals",
    metadata,
    Column("flag", String(200), primary_key=True),
    Column("env", String(100), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("digest", String(64)),
    Column("build", String(200)),
    Column("rollout", Integer),  # step 2: the approved rollout percentage (None: unknown)
    Column("stages", Text),  # step 3: the verdict's policy's stages, JSON [[percent, seconds]]
    Column("since", String(40)),  # step 3: when the approved rollout last changed
)
# The watch's durable intent: one row per leak (or lost target) it acts on, advanced step by
# step (disable -> revoke -> incident -> done) and committed after each, so a controller killed
# between two steps resumes from the row on restart.
guard_actions = Table(
    "guard_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flag", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("kind", String(20), nullable=False),  # leak | target-lost
    Column("digest", String(64)),  # the artefact live when the probe ran
    Column("reason", Text, nullable=False),
    Column("step", String(20), nullable=False),  # disable | revoke | incident | done
    Column("detected_at", String(40), nullable=False),
    Column("disabled_at", String(40)),
    Column("incident", Text),  # the incident as detected (JSON), completed when written
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
)
audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("flag", String(200)),
    Column("env", String(100)),
    Column("detail", Text, nullable=False),
    Column("prev", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)


def _step_1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[tokens, pins, pin_proposals, revocations, approvals, audit])


def _add_column(conn: Connection, table: str, column: str, kind: str) -> None:
    # Step 1 creates tables from today's metadata, so a fresh database already has the column.
    if column not in {found["name"] for found in inspect(conn).get_columns(table)}:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _step_2(conn: Connection) -> None:
    _add_column(conn, "approvals", "rollout", "INTEGER")
    metadata.create_all(conn, tables=[guard_actions])


def _step_3(conn: Connection) -> None:
    _add_column(conn, "pins", "key_expiry", "TEXT")
    _add_column(conn, "pin_proposals", "key_expiry", "TEXT")
    _add_column(conn, "approvals", "stages", "TEXT")
    _add_column(conn, "approvals", "since", "VARCHAR(40)")


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _step_1),
    (2, _step_2),
    (3, _step_3),
]


def open_engine(url: str) -> Engine:
    """An engine for `url`, migrated to the newest schema."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        # SQLite's default deferred transactions let two writers both read before either writes;
        # BEGIN IMMEDIATE takes the write lock up front, so every decision sees the latest state.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: object, _record: object) -> None:
            dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

        @event.listens_for(engine, "begin")
        def _immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    migrate(engine)
    return engine


def migrate(engine: Engine) -> list[int]:
    """Applies the steps not yet applied; returns their numbers."""
    with engine.begin() as conn:
        schema_migrations.create(conn, checkfirst=True)
    applied: list[int] = []
    for version, step in MIGRATIONS:
        with engine.begin() as conn:
            done = conn.execute(
                select(schema_migrations.c.version).where(schema_migrations.c.version == version)
            ).first()
            if done is not None:
                continue
            step(conn)
            conn.execute(insert(schema_migrations).values(version=version, applied_at=now_text()))
            applied.append(version)
    return applied


def now_text() -> str:
    return datetime.now(UTC).isoformat()
