"""What the domain needs at run time, built once by the app factory and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.recent import IntakeMemory
from intake.rules_store import RulesProvider
from intake.settings import Settings
from intake.writer import Writer

__all__ = ["Services", "SERVICES"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    writer: Writer
    rules: RulesProvider
    http: aiohttp.ClientSession
    memory: IntakeMemory  # what storing a notice reads, kept up to date by the writer


# The app factory stores the Services here; sub-applications (the console) read it via request.config_dict.
SERVICES = web.AppKey("services", Services)
