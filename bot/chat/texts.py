"""Every Chinese text the chat layer sends, in one place."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from classifiers import Rules
from intake.accounts import AccountView, BindResult
from intake.catalogue import texts as catalogue_texts
from intake.community_reports import ReportResult
from intake.counter import CounterEntryView
from intake.labels import COUNTER_ZH, KIND_ZH, LISTING_ZH, NATURE_ZH, ROLE_ZH, STATUS_ZH, TARGET_STATUS_ZH
from intake.store.models import Role, TargetStatus, TaskSource, TaskStatus
from intake.tasks import CommunityTask, NewTask, TaskView, escalation_lines

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
    "· 任务:列出本社区进行中的任务(截止近的在前);查询 R-编号:看通知全文和准入结论;\n"
    "· 通过工作群、电话、纸质收到的通知:直接把全文发过来,系统登记并计入月报;\n"
    "· 一行记一笔:证明 3 银行 贷款资信 / 检查 应急管理局 暗访 2小时 / 会议 街道 安全部署会 2人 半天 / "
    "借调 1人 人社局 2个月 / 平台 卫健 4个系统 录入同一批老人信息;撤销:删去刚记的一笔;\n"
    "· 不再提醒 R-编号:停止该任务的提醒;完成 R-编号(可选):标记已完成;\n"
    "· 评价 部门 1-5 [意见]:匿名评价本月部门派发工作,如“评价 民政局 4 材料要求清楚”。"
)
HELP_ADMIN = "您已绑定为管理员({target})。请在管理后台审核任务、查看报表:{url}/admin"
WELCOME = "欢迎关注减负通!\n" + HELP_UNBOUND
NOT_TEXT = "暂时无法处理视频和位置消息,请发送通知文字、图片或文件。需要帮助请回复“帮助”。"
HELP_WORD = "帮助"  # a picture from an account that does not send notices is answered as this word
VOICE_NOT_RECOGNISED = "没有识别出这条语音的文字,请直接发送通知文字或通知图片。"
MEDIA_DOWNLOAD_FAILED = "没能从微信服务器取到这个文件或图片,请稍后重新发送,或直接发送通知文字。"
MEDIA_RESEND = "这份文件已登记为 {code},不再重复登记。查看进度请回复“查询 {code}”。"
QUOTE_CHARS = 200  # of the text read from speech, a picture, a file or a link, quoted in the receipt
SOURCE_READ_FROM = {
    "voice": "语音识别", "image": "图片识别", "pdf_scanned": "扫描件识别", "link": "链接",
    "docx": "Word文件", "pdf": "PDF文件", "xlsx": "Excel表格", "xls": "Excel表格", "ofd": "OFD文件", "txt": "文本文件",
}
ASK_DEADLINE = "请补充截止时间,或回复'不限'。"
ASK_FUNDING = "请说明经费或工作条件,或回复'无'。"
ASK_ISSUER = (
    "已收到这条通知,但没看出是哪个部门发的。请回复发文部门(如“民政局”),不清楚请回复“不清楚”。"
)
NOTHING_TO_UNDO = "没有可撤销的登记。"
TRACE_NOT_NEEDED = "留痕要求(“{words}”)不属于工作本身,社区可不做;已记入该部门的月报。"
UNFUNDED_HEAD = "费未随事转:可要求部门提供经费或工作条件"
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
    where = f"{result.district} {result.target}" if result.district else result.target
    first = f"绑定成功:{where} {role}。" if not result.rebound else f"已改为绑定:{where} {role}。"
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


def build_receipt(new: NewTask, *, item_text: str | None, reminder_days: tuple[int, ...], tz: ZoneInfo) -> str:
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
        *escalation_lines(task),  # 层层加码: the forwarder's earlier date and the issuer's
        f"对象:{format_targets(task)}",
        f"清单:{format_listing(task, item_text)}",
    ]
    if task.quantity_value:
        lines.append(f"数量:{task.quantity_value}{task.quantity_unit or ''}")
    if task.listing == "assist" and not task.funded:
        lines.append("费未随事转:协助事项应“权随责走、费随事转”,本通知未写明经费或工作条件,将计入月度报表。")
    elif task.funded and task.amount_yuan:
        lines.append(f"经费:{task.amount_yuan:g}元")
    if task.trace_demand:
        lines.append(f"留痕要求:“{'、'.join(task.trace_demand[:4])}”属形式主义留痕,社区可不做,已计入月度报表。")
    if task.short_notice:
        lines.append("时限紧:留给社区的工作日不足3天,将计入月度报表。")
    if new.duplicate_of_code:
        lines.append(f"重复:与30天内本部门的 {new.duplicate_of_code} 内容几乎相同,已关联为重复派发。")
    lines += [catalogue_texts.build_field_repeat(r, tz) for r in new.catalogue.repeats]
    lines += [catalogue_texts.build_merged(name, into) for name, into in new.catalogue.merged]
    if new.repeat_collection_with:
        lines.append(f"重复采集:{'、'.join(new.repeat_collection_with)}近期已向社区采集类似数据,已标记供区减负办核查。")
    if task.review_note and task.listing == "assist":
        lines.append("下一步:协助事项须写明经费或工作条件(费随事转),说明前暂不派发。")
    elif task.listing == "unlisted":
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
    elif new.asks_funding:
        lines.append(ASK_FUNDING)
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
    lines.append("回复“查询 R-编号”看全文;不需要再提醒的回复“不再提醒 R-编号”。")
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


def item_wording(rules: Rules, code: str | None) -> str | None:
    """The list item's wording, quoted in receipts (C: the certificate list)."""
    if code is None:
        return None
    if code == "C":
        return "社区出具证明事项"
    item = rules.items.get(code)
    return item.text if item is not None else None


def funding_line(task: TaskView) -> str | None:
    """What a head is told about a task's funding (费随事转), or None when it does not apply."""
    if task.funded:
        detail = f"{task.amount_yuan:g}元" if task.amount_yuan else (task.funding_note or "通知已写明")
        return f"经费:{detail}"
    if task.listing == "assist":
        return UNFUNDED_HEAD
    return None


def head_decision(task: TaskView, item_text: str | None) -> str:
    """The admission decision as a head reads it: may the community be asked to do this at all?"""
    listing = format_listing(task, item_text)
    if task.status == TaskStatus.refused:
        return f"准入:{listing},已拒收,社区无需办理。"
    if task.status == TaskStatus.pending_review:
        return f"准入:{listing};待准入审核,审核通过前无需办理。"
    return f"准入:{listing}"


def build_task_for_head(task: TaskView, *, item_text: str | None) -> str:
    source = "社区报送" if task.source == TaskSource.community else "部门通过减负通派发"
    lines = [
        f"{task.code} {task.department or '未注明部门'}·{KIND_ZH.get(task.kind, task.kind)}"
        f"({NATURE_ZH.get(task.nature, task.nature)}) {STATUS_ZH.get(task.status, task.status)}",
        f"截止:{format_deadline(task.deadline, task.deadline_time, task.recurrence)}",
        head_decision(task, item_text),
    ]
    if (funding := funding_line(task)) is not None:
        lines.append(funding)
    if task.trace_demand:
        lines.append(TRACE_NOT_NEEDED.format(words="、".join(task.trace_demand[:4])))
    lines += [f"来源:{source}", "通知全文:", task.raw_text]
    return "\n".join(lines)


def build_quieted(task: TaskView) -> str:
    return f"{task.code} 不再提醒本社区。任务本身不变,需要时仍可“查询 {task.code}”。"


COUNTER_EXAMPLES = {
    "certificate": "证明 [份数] 索取方 证明事项 [拒开],如“证明 3 银行 贷款资信”",
    "inspection": "检查 检查单位 [内容] [时长],如“检查 应急管理局 暗访 2小时”",
    "meeting": "会议 主办单位 会议名称 [人数] [时长],如“会议 街道 安全部署会 2人 半天”",
    "secondment": "借调 人数 借调单位 [期限],如“借调 1人 人社局 2个月”",
    "platform": "平台 部门 系统个数 [录入内容],如“平台 卫健 4个系统 录入同一批老人信息”",
}
DECISION_ZH = {"issue": "社区应出具", "conditional": "核实后或凭承诺可出具", "refuse": "不应由社区出具(N10)"}


def build_counter_format_error(kind: str, problem: str) -> str:
    return f"没有登记:{problem}。格式:{COUNTER_EXAMPLES[kind]}。"


def _counter_detail(e: CounterEntryView) -> str:
    parts = [e.party, e.subject]
    if e.people:
        parts.append(f"{e.people}人")
    if e.systems:
        parts.append(f"{e.systems}个系统")
    if e.hours:
        parts.append(f"{e.hours:g}小时")
    if e.period_days:
        parts.append(f"{e.period_days}天")
    return " ".join(p for p in parts if p)


def build_counter_logged(e: CounterEntryView) -> str:
    if e.kind == "certificate":
        done = "拒开" if e.refused else "出具"
        text = f"已记入证明出具台账:{e.day.month}月{e.day.day}日 {done}{e.count}份 {e.party} {e.subject}"
        if e.should_not_issue:
            return text + "。按证明事项清单,此类证明不应由社区出具(N10),下次可拒开并请对方向有关部门核实。撤销请回复“撤销”。"
        verdict = DECISION_ZH.get(e.decision or "", "不在证明事项清单中")
        return text + f"({verdict})。撤销请回复“撤销”。"
    ledger = {"inspection": "迎检记录", "meeting": "会议记录"}.get(e.kind, "工作记录")
    return f"已记入{ledger}:{e.day.month}月{e.day.day}日 {COUNTER_ZH[e.kind]} {_counter_detail(e)}。撤销请回复“撤销”。"


def build_undone(e: CounterEntryView) -> str:
    return f"已撤销:{e.raw_text}"


def issuer_not_found(text: str) -> str:
    return f"没有找到部门“{text}”。请回复发文部门的名称(如“民政局”“街道”),不清楚请回复“不清楚”。"


def build_report_receipt(result: ReportResult, *, item_text: str | None) -> str:
    task = result.task
    if result.linked:
        return (f"已收到。这条通知与已登记的 {task.code}({task.department or '未注明部门'})相同,已关联到该任务,"
                f"不重复计数。\n{head_decision(task, item_text)}\n回复“查询 {task.code}”看详情。")
    lines = [
        f"已登记(社区报送) {task.code}",
        f"部门:{task.department or '未注明部门'}",
        f"类型:{KIND_ZH.get(task.kind, task.kind)}({NATURE_ZH.get(task.nature, task.nature)})",
        f"截止:{format_deadline(task.deadline, task.deadline_time, task.recurrence)}",
        head_decision(task, item_text),
    ]
    if (funding := funding_line(task)) is not None:
        lines.append(funding)
    if task.trace_demand:
        lines.append(TRACE_NOT_NEEDED.format(words="、".join(task.trace_demand[:4])))
    lines.append("已计入本社区和全区的月度报表(来源:社区报送,该部门未通过减负通派发)。")
    return "\n".join(lines)


def build_funding_recorded(task: TaskView) -> str:
    if not task.funded:
        return f"{task.code} 已记录:未提供经费或工作条件,按费未随事转计入月度报表。"
    if task.status == TaskStatus.accepted and task.review_note is None:
        return f"{task.code} 已记录经费或工作条件:{task.funding_note},社区可见。"
    return f"{task.code} 已记录经费或工作条件:{task.funding_note}。"
def build_source_note(source_type: str, text: str, *, code: str, ocr: bool) -> str:
    """The lines under a receipt of a notice that was not typed: where the text came from, the text
    itself (cut), and how to correct it."""
    origin = SOURCE_READ_FROM.get(source_type, "文件")
    if ocr and source_type not in ("image", "pdf_scanned"):
        origin += "(含图片识别)"
    quote = text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "…"
    return (f"——\n以上按{origin}读到的文字登记:\n「{quote}」\n"
            f"如有错字,请回复“撤回 {code}”后直接发送正确的通知文字。")
