"""SQLite schema and its ordered migrations.

Rules:
- The schema is only ever changed by appending a :class:`Migration` to :data:`MIGRATIONS`
  with the next version number; an applied migration is never edited.
- Each migration runs in its own transaction together with its row in ``schema_version``, so a
  crash leaves the database at the previous version or the next, never in between (SQLite DDL
  is transactional). Statements are executed one by one: ``executescript`` would commit early.
- A database whose version is newer than this code knows is refused (:class:`SchemaTooNewError`)
  rather than written with assumptions that no longer hold.

Theory of operation: ``schema_version`` holds one row per applied migration; the current
version is its maximum (0 for a fresh file). :func:`migrate` applies every migration above it,
in order, up to ``target`` (default: the newest).

This module knows SQL and nothing else: no records, no engine, no configuration.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration", "SchemaTooNewError", "current_version", "migrate"]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            """CREATE TABLE list_entries (
                list TEXT NOT NULL, scope TEXT NOT NULL, kind TEXT NOT NULL, number TEXT NOT NULL,
                expires_at REAL, reason TEXT NOT NULL DEFAULT '', added_by TEXT NOT NULL DEFAULT '',
                added_at REAL NOT NULL, priority INTEGER, target TEXT, action TEXT, cause TEXT,
                PRIMARY KEY (list, scope, kind, number)) WITHOUT ROWID""",
            "CREATE INDEX list_entries_expires ON list_entries(expires_at) WHERE expires_at IS NOT NULL",
            # queue '' is the global sticky memory: a NULL would defeat the primary key.
            """CREATE TABLE sticky (
                number TEXT NOT NULL, queue TEXT NOT NULL, agent_id TEXT NOT NULL,
                updated_at REAL NOT NULL, expires_at REAL NOT NULL,
                PRIMARY KEY (number, queue)) WITHOUT ROWID""",
            "CREATE INDEX sticky_expires ON sticky(expires_at)",
            """CREATE TABLE agents (
                agent_id TEXT PRIMARY KEY, profile TEXT NOT NULL, updated_at REAL NOT NULL)""",
            """CREATE TABLE agent_skills (
                agent_id TEXT NOT NULL REFERENCES agents(agent_id) ON DELETE CASCADE,
                skill TEXT NOT NULL, level INTEGER NOT NULL, PRIMARY KEY (agent_id, skill))""",
            "CREATE INDEX agent_skills_skill ON agent_skills(skill, level)",
            """CREATE TABLE config_overrides (
                kind TEXT NOT NULL, name TEXT NOT NULL, blob TEXT NOT NULL, updated_at REAL NOT NULL,
                PRIMARY KEY (kind, name))""",
            """CREATE TABLE call_records (
                call_id TEXT PRIMARY KEY, queue TEXT, started_at REAL NOT NULL, disposition TEXT,
                customer_number TEXT, record TEXT NOT NULL)""",
            "CREATE INDEX call_records_queue ON call_records(queue, started_at)",
            "CREATE INDEX call_records_started ON call_records(started_at)",
            """CREATE TABLE campaign_contacts (
                campaign TEXT NOT NULL, contact_id TEXT NOT NULL, number TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending', priority INTEGER NOT NULL DEFAULT 0,
                next_attempt_at REAL, attempts INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL DEFAULT '{}',
                PRIMARY KEY (campaign, contact_id))""",
            "CREATE INDEX campaign_contacts_due ON campaign_contacts(campaign, status, next_attempt_at)",
            """CREATE TABLE campaign_attempts (
                attempt_id TEXT PRIMARY KEY, campaign TEXT NOT NULL, contact_id TEXT NOT NULL,
                call_id TEXT, started_at REAL NOT NULL, ended_at REAL, outcome TEXT,
                data TEXT NOT NULL DEFAULT '{}',
                FOREIGN KEY (campaign, contact_id) REFERENCES campaign_contacts(campaign, contact_id)
                    ON DELETE CASCADE)""",
            "CREATE INDEX campaign_attempts_contact ON campaign_attempts(campaign, contact_id, started_at)",
            """CREATE TABLE webhook_outbox (
                event_id TEXT NOT NULL, endpoint TEXT NOT NULL, payload BLOB NOT NULL,
                created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at REAL NOT NULL, last_error TEXT, dead INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (event_id, endpoint))""",
            "CREATE INDEX webhook_outbox_due ON webhook_outbox(dead, next_attempt_at)",
        ),
    ),
    Migration(
        2,
        "index call records by customer number and disposition",
        (
            "CREATE INDEX call_records_customer ON call_records(customer_number, started_at)",
            "CREATE INDEX call_records_disposition ON call_records(disposition, started_at)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer ctilink."""

    def __init__(self, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"database schema version {found} is newer than this ctilink supports ({known}); upgrade ctilink"
        )


def current_version(conn: sqlite3.Connection) -> int:
    """The applied schema version (0 for an empty database)."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Apply pending migrations up to ``target`` (default latest); return the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``): this function owns the
    transactions.
    """
    goal = LATEST_VERSION if target is None else target
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    version = current_version(conn)
    if version > LATEST_VERSION:
        raise SchemaTooNewError(version, LATEST_VERSION)
    for migration in MIGRATIONS:
        if migration.version <= version or migration.version > goal:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            if current_version(conn) >= migration.version:
                conn.execute("ROLLBACK")
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = migration.version
    return current_version(conn)
