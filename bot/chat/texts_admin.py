"""What the chat says to an admin account (a district's, a street's, or the whole deployment's)."""

from __future__ import annotations

from intake.reports.chat_digest import ArchivedDigest

HELP_ADMIN = (
    "您已绑定为管理员({target})。\n"
    "· 月报:本范围最近一期减负月报;月报 2026-11:指定月份;\n"
    "· 每月月报生成后会推送给您;审核任务、查看报表请到管理后台:{url}/admin"
)
NOT_BUILT = "{scope}的 {month} 月报还没有生成:月报在每月 {day} 日生成。本月进度请在管理后台查看:{url}/admin"
NONE_YET = "{scope}还没有月报:月报在每月 {day} 日生成。本月进度请在管理后台查看:{url}/admin"
NO_TASKS = "【{title}】本月没有收到任务。"
SHORT = "【{title}】收到任务 {tasks} 件,估算 {hours:g} 小时。"
NO_NOTICES = ("管理员账号不登记任务通知:街道、区转发或下发的通知请由本级办公室(如街道办)的联络员账号发送,"
              "系统会记下转发的部门和层层加码。回复“月报”查看本范围的月报,回复“帮助”查看用法。")
ADMIN_ONLY = "“月报”只供街道、区的管理员使用;社区的月报每月推送给社区负责人。"


def build_digest_reply(found: ArchivedDigest, *, link: str) -> str:
    """The text the monthly push sent (its link included), or one line when that month had no tasks."""
    if found.text:
        return found.text
    if found.tasks:  # built, but its message went to no inbox this account can name (bound since)
        return SHORT.format(title=found.title, tasks=found.tasks, hours=found.hours) + f"\n完整月报:{link}"
    return NO_TASKS.format(title=found.title) + f"\n完整月报:{link}"
