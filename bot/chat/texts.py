"""Every Chinese text the chat layer sends, in one place."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from intake.accounts import AccountView, BindResult
from intake.catalogue import texts as catalogue_texts
from intake.labels import KIND_ZH, LISTING_ZH, NATURE_ZH, ROLE_ZH, STATUS_ZH, TARGET_STATUS_ZH
from intake.store.models import Role, TargetStatus
from intake.tasks import CommunityTask, NewTask, TaskView

WEEKDAYS = "一二三四五六日"


HELP_UNBOUND = (
    "您好,这里是减负通。\n"
    "您的账号还没有绑定部门或社区,请先回复“绑定 邀请码”(例如:绑定 AB3K7Q2M)。\n"
    "邀请码由区减负办(管理员)发放;没有邀请码请联系管理员。"
)
HELP_CLERK = (
    "您已绑定为{target}联络员。\n"
    "· 直接发送任务通知全文,系统会登记、分类并派发给社区;\n"
    "· 查询 R-编号:查看任务进度;\n"
    "· 撤回 R-编号:撤回本人发出的未完成任务;\n"
    "· 我的任务:列出本人发出的进行中任务。"
)
HELP_HEAD = (
    "您已绑定为{target}负责人。\n"
    "· 任务:列出本社区进行中的任务(截止近的在前);\n"
    "· 完成 R-编号:标记本社区已完成;\n"
    "· 评价 部门 1-5 [意见]:评价本月部门派发工作,如“评价 民政局 4 材料要求清楚”。"
)
HELP_ADMIN = "您已绑定为管理员({target})。请在管理后台审核任务、查看报表:{url}/admin"
WELCOME = "欢迎关注减负通!\n" + HELP_UNBOUND
NOT_TEXT = "暂时只能处理文字消息,请发送文字。需要帮助请回复“帮助”。"
ASK_DEADLINE = "请补充截止时间,或回复'不限'。"
NO_DEADLINE_WORDS = frozenset({"不限", "无", "没有", "无截止", "不限时", "长期"})
BUSY = "系统繁忙,您的消息已收到,处理结果稍后推送给您。"


def weekday(day: dt.date) -> str:
    return "周" + WEEKDAYS[day.weekday()]


def format_deadline(day: dt.date | None, time: dt.time | None = None, recurrence: str | None = None) -> str:
    if day is None:
        return "未定"
    text = f"{day.isoformat()}({weekday(day)})"
    if time is not None:
        text += f" {time.strftime('%H:%M')}"
    if recurrence:
        text += {"weekly": ",每周", "monthly": ",每月", "quarterly": ",每季度", "yearly": ",每年"}.get(recurrence, "")
    return text


def format_targets(task: TaskView) -> str:
    names = [t.community for t in task.targets]
    if not names:
        return "未指定(通知中未写明社区)"
    if len(names) > 4:
        return f"{'、'.join(names[:4])}等{len(names)}个社区"
    return "、".join(names)


def format_listing(task: TaskView, item_text: str | None) -> str:
    label = LISTING_ZH.get(task.listing, task.listing)
    if task.item and item_text:
        return f"{label} {task.item} {item_text}"
    if task.item:
        return f"{label} {task.item}"
    return label


def build_bound(result: BindResult, url: str) -> str:
    role = ROLE_ZH.get(result.role, result.role)
    first = f"绑定成功:{result.target} {role}。" if not result.rebound else f"已改为绑定:{result.target} {role}。"
    return first + "\n" + build_help_role(result.role, result.target, url)


def build_help_role(role: str | None, target: str | None, url: str) -> str:
    if role == Role.clerk:
        return HELP_CLERK.format(target=target or "")
    if role == Role.head:
        return HELP_HEAD.format(target=target or "")
    if role == Role.admin:
        return HELP_ADMIN.format(target=target or "", url=url)
    return HELP_UNBOUND


def build_help(account: AccountView | None, url: str) -> str:
    if account is None or not account.is_bound:
        return HELP_UNBOUND
    return build_help_role(account.role, account.department or account.community, url)


def build_receipt(new: NewTask, *, item_text: str | None, reminder_days: tuple[int, ...],
                  tz: ZoneInfo) -> str:
    task = new.task
    lines: list[str]
    kind = f"{KIND_ZH.get(task.kind, task.kind)}({NATURE_ZH.get(task.nature, task.nature)})"
    if new.stopped_form is not None:
        return catalogue_texts.build_stopped_receipt(task.code, task.department, new.stopped_form)
    if task.listing == "negative":
        lines = [
            f"不予派发 {task.code}",
            f"部门:{task.department or '未识别'}",
            f"类型:{kind}",
            f"属于《{LISTING_ZH['negative']}》{task.item or ''} {item_text or ''},不予派发。".replace("  ", " "),
            "本条已登记为拒收,将计入月度减负报表。如确需社区协助,请由部门自行承担或报区减负办研究。",
        ]
        return "\n".join(lines)
    lines = [
        f"已登记 {task.code}",
        f"部门:{task.department or '未识别'}",
        f"类型:{kind}",
        f"截止:{format_deadline(task.deadline, task.deadline_time, task.recurrence)}",
        f"对象:{format_targets(task)}",
        f"清单:{format_listing(task, item_text)}",
    ]
    if task.quantity_value:
        lines.append(f"数量:{task.quantity_value}{task.quantity_unit or ''}")
    if task.listing == "assist" and not task.funded:
        lines.append("费未随事转:协助事项应“权随责走、费随事转”,本通知未写明经费或工作条件,将计入月度报表。")
    elif task.funded and task.amount_yuan:
        lines.append(f"经费:{task.amount_yuan:g}元")
    if task.short_notice:
        lines.append("时限紧:留给社区的工作日不足3天,将计入月度报表。")
    if new.duplicate_of_code:
        lines.append(f"重复:与30天内本部门的 {new.duplicate_of_code} 内容几乎相同,已关联为重复派发。")
    lines += [catalogue_texts.build_field_repeat(r, tz) for r in new.catalogue.repeats]
    lines += [catalogue_texts.build_merged(name, into) for name, into in new.catalogue.merged]
    if new.repeat_collection_with:
        lines.append(f"重复采集:{'、'.join(new.repeat_collection_with)}近期已向社区采集类似数据,已标记供区减负办核查。")
    if task.listing == "unlisted":
        lines.append(
            "下一步:该事项未列入社区工作事项清单,已转区减负办准入审核,审核通过前不派发。"
            "请准备准入申请材料:法律法规依据、经费保障(费随事转)、工作期限。"
        )
    elif task.needs_review:
        lines.append("下一步:已派发;系统对本条理解把握不大,已标记由管理员复核。")
    elif task.deadline is not None:
        before = sorted(-d for d in reminder_days if d < 0)
        when = "、".join(f"{d}天" for d in reversed(before))
        lines.append(f"下一步:已派发社区,截止前{when}及当天上午提醒社区。" if when else "下一步:已派发社区。")
    else:
        lines.append("下一步:已派发社区。")
    if new.asks_deadline:
        lines.append(ASK_DEADLINE)
    return "\n".join(lines)


def build_deadline_set(task: TaskView) -> str:
    if task.deadline is None:
        return f"{task.code} 已记录为不限截止时间。"
    return f"{task.code} 截止时间已补充为 {format_deadline(task.deadline, task.deadline_time)}。"


def build_task_status(task: TaskView) -> str:
    lines = [
        f"{task.code} {STATUS_ZH.get(task.status, task.status)}",
        f"部门:{task.department or '未识别'}  类型:{KIND_ZH.get(task.kind, task.kind)}",
        f"截止:{format_deadline(task.deadline, task.deadline_time, task.recurrence)}",
        f"清单:{LISTING_ZH.get(task.listing, task.listing)} {task.item or ''}".rstrip(),
    ]
    if task.targets:
        done = sum(1 for t in task.targets if t.status == TargetStatus.done)
        lines.append(f"进度:{done}/{len(task.targets)} 个社区已完成")
        for target in task.targets:
            lines.append(f"· {target.community}:{TARGET_STATUS_ZH.get(target.status, target.status)}")
    return "\n".join(lines)


def build_clerk_tasks(tasks: list[TaskView]) -> str:
    if not tasks:
        return "您目前没有进行中的任务。"
    lines = [f"您发出的进行中任务({len(tasks)}):"]
    for task in tasks:
        done = sum(1 for t in task.targets if t.status == TargetStatus.done)
        lines.append(
            f"· {task.code} {KIND_ZH.get(task.kind, task.kind)} 截止{format_deadline(task.deadline)} "
            f"{STATUS_ZH.get(task.status, task.status)} {done}/{len(task.targets)}"
        )
    return "\n".join(lines)


def build_community_tasks(community: str, tasks: list[CommunityTask]) -> str:
    if not tasks:
        return f"{community}目前没有进行中的任务。"
    lines = [f"{community}进行中的任务({len(tasks)},截止近的在前):"]
    for t in tasks:
        lines.append(
            f"· {t.code} {t.department or ''}{KIND_ZH.get(t.kind, t.kind)} 截止{format_deadline(t.due_date, t.deadline_time)}"
            f" {t.summary}"
        )
    lines.append("完成后回复“完成 R-编号”。")
    return "\n".join(lines)


def build_withdrawn(task: TaskView) -> str:
    return f"{task.code} 已撤回,相关社区的提醒已取消。"


def build_completed(task: TaskView, community: str | None, rolled: bool) -> str:
    if rolled:
        return f"{task.code} 本期已完成,下一期截止 {format_deadline(task.deadline)},届时会再提醒。"
    return f"{task.code} 已标记{community or ''}完成,谢谢!"


def build_rated(department: str, score: int, month: str) -> str:
    return f"已记录{month}对{department}的评价:{score}分。本月内再次评价会覆盖本次。"


def code_not_found(code: str) -> str:
    return f"没有找到任务 {code},请检查编号(格式如 R-20261127-0001)。发送“我的任务”或“任务”可查看编号。"


# one answer for an unknown, used, expired or revoked code: it must not tell which codes exist
INVITE_REFUSED = "邀请码无效或已失效(不存在、已被使用、已过期或已作废)。请核对后重新发送“绑定 邀请码”,或向管理员申请新的邀请码。"


def bind_wait(retry_at: dt.datetime, now: dt.datetime) -> str:
    minutes = max(1, -(-int((retry_at - now).total_seconds()) // 60))
    return f"错误的邀请码次数过多,请 {minutes} 分钟后再发送“绑定 邀请码”。如没有可用的邀请码,请向管理员申请。"


def department_not_found(name: str) -> str:
    return f"没有找到部门“{name}”,请使用部门全称或常用简称,如“评价 民政局 4”。"


BAD_RATING = "评价格式:评价 部门 1-5 [意见],例如“评价 民政局 4 材料要求清楚”。"
NEEDS_CODE = "请在命令后附上任务编号,例如“{verb} R-20261127-0001”。"
CLERK_ONLY = "只有部门联络员可以派发和查询任务。您的账号为{role},可回复“帮助”查看可用命令。"
HEAD_ONLY = "只有社区负责人可以使用“{verb}”。可回复“帮助”查看可用命令。"
INACTIVE = "您的账号已停用,如需恢复请联系管理员。"
STORAGE_DOWN = "系统暂时无法保存,您的消息未登记,请稍后重发。"
