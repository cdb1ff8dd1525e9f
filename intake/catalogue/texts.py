"""Chinese text of the catalogue: what a receipt, the console and the report say about forms and platforms."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from intake.catalogue.forms import FieldRepeat, FormEntry

__all__ = ["DECISION_ZH", "SOURCE_ZH", "RECURRENCE_ZH", "build_field_repeat", "build_stopped", "build_merged",
           "build_stopped_receipt"]

DECISION_ZH = {"pending": "待审", "keep": "保留", "merge": "并入", "stop": "停用"}
SOURCE_ZH = {"notice": "通知点名", "attachment": "附件表头", "console": "后台录入"}
RECURRENCE_ZH = {"weekly": "每周", "monthly": "每月", "quarterly": "每季度", "yearly": "每年"}


def build_field_repeat(repeat: FieldRepeat, tz: ZoneInfo) -> str:
    """重复采集:22 项字段中有 18 项已由民政局于 2026-11-03 在《…》中采集。"""
    day = repeat.earlier_on.astimezone(tz).date().isoformat()
    who = repeat.earlier_department or "其他部门"
    return (f"重复采集:《{repeat.form}》{repeat.total} 项字段中有 {repeat.shared} 项已由{who}于 {day} "
            f"在《{repeat.earlier}》中采集({'、'.join(repeat.shared_fields[:6])}"
            f"{'等' if len(repeat.shared_fields) > 6 else ''})。")


def build_stopped(form: FormEntry, decided_at: dt.datetime | None = None) -> str:
    """The decision quoted in a refusal: which form, who stopped it, why."""
    note = f"理由:{form.decision_note}" if form.decision_note else "未注明理由"
    dept = f"({form.department})" if form.department else ""
    return f"《{form.name}》{dept}已由区减负办在报表目录中停用,{note}。"


def build_stopped_receipt(code: str, department: str | None, form: FormEntry) -> str:
    return "\n".join([
        f"不予派发 {code}",
        f"部门:{department or '未识别'}",
        build_stopped(form),
        "本条已登记为拒收,将计入年度减负报告。如确需采集,请向区减负办申请恢复该表或改用目录中保留的表。",
    ])


def build_merged(name: str, into: str) -> str:
    return f"报表目录:《{name}》已并入《{into}》,请改用《{into}》,不再单独填报。"
