"""What the domain needs at run time, built once by the app factory and passed explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from intake.reports.runner import ReportRunner
from intake.rules_store import RulesProvider
from intake.senders import Sender
from intake.settings import IntakeSettings
from intake.store.recent import IntakeMemory
from intake.store.writer import Writer

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    settings: IntakeSettings
    engine: AsyncEngine
    writer: Writer
    rules: RulesProvider
    memory: IntakeMemory  # what storing a notice reads, kept up to date by the writer
    senders: Mapping[str, Sender]  # one per channel name; the app factory builds them (bot.push)
    public_url: str = "http://127.0.0.1:8080"  # where links in digests and pushes point
    link_secret: str = ""  # signs heads' read-only digest links (intake.links); empty: links go to the console
    reports: ReportRunner | None = None  # where reports are built (off this loop); None: on `engine`, here
