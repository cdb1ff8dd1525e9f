"""What the domain needs at run time, built once by the app factory and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.rules_store import RulesProvider
from intake.settings import Settings
from intake.writer import Writer

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    writer: Writer
    rules: RulesProvider
    http: aiohttp.ClientSession
