"""Reading form fields: each reader returns a typed value or raises FormError saying what to type instead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from bot.console import texts

__all__ = ["FormError", "text", "choice", "optional_date", "optional_time", "optional_int", "optional_float",
           "flag", "parse_correction"]


class FormError(ValueError):
    """A form value that cannot be used; the message names the field and the expected form."""


def text(form: Mapping[str, Any], name: str, *, limit: int = 500, required: str | None = None) -> str:
    value = form.get(name, "")
    value = value.strip() if isinstance(value, str) else ""
    if required is not None and not value:
        raise FormError(required)
    if len(value) > limit:
        raise FormError(f"“{name}”太长了(最多 {limit} 字),请精简后再提交。")
    return value


def choice(form: Mapping[str, Any], name: str, options: Mapping[str, str], *, label: str,
           allow_empty: bool = False) -> str | None:
    value = text(form, name, limit=64)
    if not value and allow_empty:
        return None
    if value not in options:
        raise FormError(texts.BAD_CHOICE.format(field=label, value=value))
    return value


def optional_date(form: Mapping[str, Any], name: str) -> dt.date | None:
    value = text(form, name, limit=32)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise FormError(texts.BAD_DATE.format(value=value)) from exc


def optional_time(form: Mapping[str, Any], name: str) -> dt.time | None:
    value = text(form, name, limit=16)
    if not value:
        return None
    try:
        return dt.time.fromisoformat(value).replace(second=0, microsecond=0)
    except ValueError as exc:
        raise FormError(f"时间“{value}”格式不对,请写成 17:00。") from exc


def optional_int(form: Mapping[str, Any], name: str, *, label: str, minimum: int = 0) -> int | None:
    value = text(form, name, limit=16)
    if not value:
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise FormError(texts.BAD_NUMBER.format(field=label, value=value)) from exc
    if number < minimum:
        raise FormError(f"“{label}”不能小于 {minimum}。")
    return number


def optional_float(form: Mapping[str, Any], name: str, *, label: str) -> float | None:
    value = text(form, name, limit=24).replace(",", "")
    if not value:
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise FormError(texts.BAD_NUMBER.format(field=label, value=value)) from exc
    if number < 0:
        raise FormError(f"“{label}”不能为负数。")
    return number


def flag(form: Mapping[str, Any], name: str) -> bool:
    return text(form, name, limit=8) in ("1", "on", "true", "yes")


def parse_correction(form: Mapping[str, Any]) -> dict[str, Any]:
    """The correctable fields of the task form (all of them; the caller keeps the ones that changed)."""
    item = text(form, "item", limit=16).upper() or None
    return {
        "department": text(form, "department", limit=64) or None,
        "kind": choice(form, "kind", texts.KIND_ZH, label="任务类型"),
        "listing": choice(form, "listing", texts.LISTING_ZH, label="清单类别"),
        "item": item,
        "certificate": choice(form, "certificate", texts.CERTIFICATE_ZH, label="证明判定", allow_empty=True),
        "deadline": optional_date(form, "deadline"),
        "deadline_time": optional_time(form, "deadline_time"),
        "recurrence": choice(form, "recurrence", texts.RECURRENCE_ZH, label="周期", allow_empty=True),
        "quantity_value": optional_int(form, "quantity_value", label="数量"),
        "quantity_unit": text(form, "quantity_unit", limit=16) or None,
        "funded": flag(form, "funded"),
        "amount_yuan": optional_float(form, "amount_yuan", label="经费金额"),
    }
