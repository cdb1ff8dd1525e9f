"""Who sent recent messages, so a clerk's notice can be classified before the writer unit.

Only a hint: the unit re-reads the account and classifies again when the hint was wrong
(a rebinding in another process, an expired entry). It saves a database read per message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from intake.accounts import AccountView
from intake.store.models import Role

__all__ = ["SenderHint", "SenderHints"]


@dataclass(frozen=True)
class SenderHint:
    role: str | None
    department: str | None
    bound: bool
    district_id: int | None = None

    @property
    def reads_notices(self) -> bool:
        """Whether this sender's free text is a task notice (a bound clerk or admin)."""
        return self.bound and self.role in (Role.clerk, Role.admin)


@dataclass
class SenderHints:
    ttl_s: float = 60.0
    max_entries: int = 50_000
    _entries: dict[tuple[str, str], tuple[float, SenderHint]] = field(default_factory=dict)

    def get(self, key: tuple[str, str]) -> SenderHint | None:
        """The hint for (channel, external id), or None when unknown or expired."""
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: tuple[str, str], account: AccountView | None) -> SenderHint:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        hint = SenderHint(
            role=account.role if account else None,
            department=account.department if account else None,
            bound=bool(account and account.is_bound),
            district_id=account.district_id if account else None,
        )
        self._entries[key] = (time.monotonic() + self.ttl_s, hint)
        return hint

    def forget(self, key: tuple[str, str]) -> None:
        self._entries.pop(key, None)
