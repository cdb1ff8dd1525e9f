"""security (issue 15): server-side console sessions, login back-off, hashed invite codes, nonce memory

* console_sessions: one row per console login; logout, password changes, deactivation and
  "end all sessions" end them at once.
* login_throttle: failed logins per username and per client (exponential back-off, no hard lock);
  replaces admin_users.failed_logins / locked_until.
* invites: the code is kept only as its SHA-256 (code_hash) and its last 2 characters (hint);
  codes can be revoked. Existing codes are hashed in place.
* accounts: disabled_at (an admin's disable survives a re-follow); bind_failures / bind_retry_at.
* processed_messages: nonce ("channel:timestamp:nonce", unique): the signed URL a message came with.
* tasks: forwarded_by, the sender's department when the notice names another issuer.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 10:00:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import intake.store.models

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = intake.store.models.AwareDateTime(timezone=True)


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _create_tables() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", _string(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("ended_reason", _string(32), nullable=True),
        sa.Column("client", _string(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["admin_users.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_table(
        "login_throttle",
        sa.Column("key", _string(160), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", _TS, nullable=False),
        sa.Column("retry_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def _hash_invites() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("code_hash", _string(64), nullable=True))
        batch.add_column(sa.Column("hint", _string(4), nullable=True))
        batch.add_column(sa.Column("revoked_at", _TS, nullable=True))
        batch.add_column(sa.Column("revoked_by", _string(64), nullable=True))
    conn = op.get_bind()
    invites = sa.table("invites", sa.column("id"), sa.column("code"), sa.column("code_hash"), sa.column("hint"))
    for row in conn.execute(sa.select(invites.c.id, invites.c.code)).all():
        code = str(row.code).strip().upper()
        conn.execute(invites.update().where(invites.c.id == row.id).values(
            code_hash=hashlib.sha256(code.encode("utf-8")).hexdigest(), hint=code[-2:]))
    _scrub_audited_codes(conn)
    with op.batch_alter_table("invites") as batch:
        batch.drop_index("ix_invites_code")
        batch.drop_column("code")
        batch.alter_column("code_hash", existing_type=_string(64), nullable=False)
        batch.alter_column("hint", existing_type=_string(4), nullable=False)
        batch.create_index("ix_invites_code_hash", ["code_hash"], unique=True)


def _scrub_audited_codes(conn: sa.engine.Connection) -> None:
    """The audit log of invite creation kept the code itself: keep only its hint there too."""
    audit = sa.table("audit_log", sa.column("id"), sa.column("entity"), sa.column("action"),
                     sa.column("after", sa.JSON))
    rows = conn.execute(sa.select(audit.c.id, audit.c.after)
                        .where(audit.c.entity == "invite", audit.c.action == "create")).all()
    for row in rows:
        after = dict(row.after or {})
        code = str(after.pop("code", "") or "")
        if code:
            after["hint"] = code[-2:]
            conn.execute(audit.update().where(audit.c.id == row.id).values(after=after))


def upgrade() -> None:
    _create_tables()
    _hash_invites()
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("disabled_at", _TS, nullable=True))
        batch.add_column(sa.Column("bind_failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("bind_retry_at", _TS, nullable=True))
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column("bind_failures", existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("processed_messages") as batch:
        batch.add_column(sa.Column("nonce", _string(160), nullable=True))
        batch.create_index("ix_processed_messages_nonce", ["nonce"], unique=True)
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("forwarded_by", _string(64), nullable=True))
    with op.batch_alter_table("admin_users") as batch:
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", _TS, nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("forwarded_by")
    with op.batch_alter_table("processed_messages") as batch:
        batch.drop_index("ix_processed_messages_nonce")
        batch.drop_column("nonce")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("bind_retry_at")
        batch.drop_column("bind_failures")
        batch.drop_column("disabled_at")
    # codes were kept only as hashes: a downgrade cannot restore them, so open invites are revoked
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("code", _string(32), nullable=True))
    op.execute("UPDATE invites SET code = 'X' || CAST(id AS VARCHAR(20)), used_at = COALESCE(used_at, created_at)")
    with op.batch_alter_table("invites") as batch:
        batch.drop_index("ix_invites_code_hash")
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
        batch.drop_column("hint")
        batch.drop_column("code_hash")
        batch.alter_column("code", existing_type=_string(32), nullable=False)
        batch.create_index("ix_invites_code", ["code"], unique=True)
    op.drop_table("login_throttle")
    op.drop_index("ix_console_sessions_user_id", table_name="console_sessions")
    op.drop_table("console_sessions")
