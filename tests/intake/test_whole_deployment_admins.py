"""A deployment keeps an admin of the whole deployment (issue 17): district and street admins cannot manage
users, the tree or the city's lists, so they do not count as the last admin, nor as the first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from intake.console_users import add_admin_user, count_whole_admins, ensure_first_admin, set_admin_active
from intake.errors import InvalidRequest

NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
PASSWORD = "long-enough-1"


async def test_the_last_whole_deployment_admin_cannot_be_deactivated_while_only_scoped_admins_remain(
        engine: Any) -> None:
    async with engine.begin() as conn:
        whole = await add_admin_user(conn, username="solo", password=PASSWORD)
        district = await add_admin_user(conn, username="qu", password=PASSWORD, scope_level="district", scope_id=1)
        street = await add_admin_user(conn, username="jie", password=PASSWORD, scope_level="street", scope_id=1)
        assert await count_whole_admins(conn) == 1
        with pytest.raises(InvalidRequest, match="最后一位管理全部范围的管理员"):
            await set_admin_active(conn, user_id=whole, active=False, actor_id=district, actor="qu", now=NOW)
        await set_admin_active(conn, user_id=street, active=False, actor_id=whole, actor="solo", now=NOW)
        await set_admin_active(conn, user_id=district, active=False, actor_id=whole, actor="solo", now=NOW)
        second = await add_admin_user(conn, username="boss", password=PASSWORD)
        await set_admin_active(conn, user_id=whole, active=False, actor_id=second, actor="boss", now=NOW)
        assert await count_whole_admins(conn) == 1


async def test_a_start_with_only_scoped_admins_creates_a_whole_deployment_admin_once(engine: Any) -> None:
    async with engine.begin() as conn:
        await add_admin_user(conn, username="admin", password=PASSWORD, scope_level="district", scope_id=1)
        first = await ensure_first_admin(conn)
        again = await ensure_first_admin(conn)
        assert first is not None and first[0] == "admin2" and len(first[1]) >= 12
        assert again is None and await count_whole_admins(conn) == 1
