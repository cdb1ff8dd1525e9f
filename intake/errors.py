"""The intake error hierarchy. The chat edge turns these into replies; nothing else catches them broadly.

IntakeError
├── StorageUnavailable   the database could not commit (disk full, locked, gone): nothing was stored,
│                        the caller must not acknowledge; WeChat should retry
├── NotFound             a code or name that does not exist (the message names it)
├── Forbidden            the account may not do this (another community's target, another clerk's task)
└── InvalidRequest       a well-formed request that cannot be carried out (used invite, closed task)
    └── BadFilter        a month, date or filter value that cannot be read (also a ValueError)
"""

from __future__ import annotations

__all__ = ["IntakeError", "StorageUnavailable", "NotFound", "Forbidden", "InvalidRequest", "BadFilter"]


class IntakeError(Exception):
    """Base of every error the intake layer raises on purpose."""


class StorageUnavailable(IntakeError):
    """The database did not commit; nothing in the batch was stored."""


class NotFound(IntakeError):
    """A referenced task code, invite code, department or community does not exist."""


class Forbidden(IntakeError):
    """The account is not allowed to act on this object."""


class InvalidRequest(IntakeError):
    """The request is understood but cannot be carried out in the object's current state."""


class BadFilter(InvalidRequest, ValueError):
    """A month, date or filter value that cannot be read; the message says which and how to write it."""
