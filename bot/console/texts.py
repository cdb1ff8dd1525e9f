"""Every Chinese label and message of the console (the templates hold the page wording)."""

from __future__ import annotations

# re-exported: templates and handlers read them from here (``T.KIND_ZH``); they live in intake
from intake.labels import (
    CERTIFICATE_ZH,
    CHANNEL_ZH,
    CONSOLE_ROLE_ZH,
    FIELD_ZH,
    KIND_ZH,
    LISTING_ZH,
    NATURE_ZH,
    OUTBOX_CHANNEL_ZH,
    OUTBOX_STATUS_ZH,
    RECURRENCE_ZH,
    REMINDER_ZH,
    ROLE_ZH,
    SOURCE_TYPE_ZH,
    SOURCE_ZH,
    STATUS_ZH,
    TARGET_STATUS_ZH,
)
from intake.texts_notify import NOT_PENDING, NOTHING_CHANGED, TASK_NOT_FOUND

__all__ = [
    "CERTIFICATE_ZH", "CHANNEL_ZH", "CONSOLE_ROLE_ZH", "FIELD_ZH", "KIND_ZH", "LISTING_ZH", "NATURE_ZH",
    "OUTBOX_CHANNEL_ZH", "OUTBOX_STATUS_ZH", "RECURRENCE_ZH", "REMINDER_ZH", "ROLE_ZH", "SOURCE_ZH", "STATUS_ZH",
    "SOURCE_TYPE_ZH", "TARGET_STATUS_ZH", "NOTHING_CHANGED", "NOT_PENDING", "TASK_NOT_FOUND",
]

LIST_SECTIONS = {
    "departments": "部门及别名",
    "duty": "依法履行职责事项(D)",
    "assist": "依法协助政府工作事项(A)",
    "negative": "不应由社区承担的工作事项(N)",
    "certificates": "社区出具证明事项(C)",
}

# --- messages: what was wrong, and what to do ---------------------------------------------------
CSRF_FAILED = "表单缺少或带有过期的安全令牌(CSRF),已拒绝。请返回上一页、刷新后重新提交。"
VIEWER_READ_ONLY = "您的账号是只读角色(viewer),不能修改数据。如需修改,请联系管理员为您开通管理员角色。"
LOGIN_REQUIRED = "请先登录管理后台。"
LOGGED_OUT = "已退出登录。"
LOGIN_NEEDS_BOTH = "请输入用户名和密码。"
PAGE_NOT_FOUND = "没有这个页面:请从顶部菜单进入。"
BAD_DATE = "日期“{value}”格式不对,请写成 2025-01-31。"
BAD_NUMBER = "“{field}”应当是数字,收到的是“{value}”。"
BAD_CHOICE = "“{field}”的取值“{value}”无效,请从下拉框中选择。"
CORRECTED = "已更正 {code}:{fields}。"
RULE_ADDED = "已把关键词“{keyword}”加入城市规则覆盖(第 {version} 版),之后的同类消息将按此识别。"
RULE_NEEDS_KEYWORD = "要同时添加识别规则,请填写关键词(消息里出现的原词)。"
KEYWORD_NOT_IN_TEXT = "关键词“{keyword}”没有出现在这条消息里,请填写消息中的原词。"
ADMIT_NEEDS = "准入需要填写:{missing}。请补全后再提交。"
ADMITTED = "已准入 {code},作为协助事项 {item} 记录,已通知联络员和 {targets} 个社区。"
REFUSE_NEEDS_REASON = "拒绝需要填写理由,联络员会收到这段说明。"
REFUSED = "已拒绝 {code},已通知联络员。"
LIST_SAVED = "已保存{section}(规则第 {version} 版),立即生效。"
LIST_PARSE_ERROR = "第 {line} 行无法识别:“{text}”。{hint}"
SAVED = "已保存。"
INVITE_REVOKED = "邀请码 ……{hint} 已作废,不能再用于绑定。"
SIM_NEEDS = "请选择一个账号或填写 OpenID,并输入消息内容。"
SIM_FAILED = "模拟消息没有送达 {path}:{error}。请确认服务正在运行,再试一次。"
EXPORT_NEEDS_COMMUNITY = "请选择要导出台账的社区。"

# --- console users and the outbox ----------------------------------------------------------------
AREA_DISTRICT = "全区"
AREA_STREET = "本街道"
SCOPE_WHOLE_ONLY = ("您的账号只管理本街道/本区的任务和社区;清单、规则、后台用户和组织架构由全市(全部范围)的管理员维护。"
                    "如需修改,请联系他们。")
LISTS_NOT_FOR_STREETS = ("街道不能修改清单,也不能准入清单外事项:职责清单、协助清单、负面清单和证明事项由区(或市)统一确定,"
                         "街道一级不另设清单,更不能放宽。若认为某事项应当调整,请联系本区管理员在“清单管理”中修改;"
                         "清单外的任务可以退回。")
LISTS_NO_DISTRICT = "没有编号为 {id} 的区,请从“清单管理”页面选择要编辑的区。"
LISTS_LEVEL_CITY = "全市默认清单"
LISTS_LEVEL_DISTRICT = "{name}清单(在全市默认清单基础上调整)"
SCOPE_NOT_FOUND = "没有找到,或不在您的管理范围内。请从列表页面进入。"
SCOPE_COMMUNITY = "社区“{name}”不在您的管理范围内,请选择本范围内的社区。"
SCOPE_ADMIN = "管理员范围“{name}”不在您的管理范围内:只能邀请本范围(或其下街道)的管理员。"
SCOPE_ADMIN_BAD = "管理员邀请码请在“管理员的范围”中选择全部、一个区或一个街道。"
SCOPE_ALL = "全部(整个部署)"
SCOPE_DEPARTMENT = "部门“{name}”不是您所在范围的部门,请联系上级管理员。"
ADMIN_ONLY = "只有管理员(admin)可以打开这个页面。如需管理后台用户,请联系管理员。"
USER_CREATED = "已创建后台用户 {username}({role})。请把密码当面或通过安全渠道告诉对方。"
USER_PASSWORD_RESET = "已重置 {username} 的密码;其已登录的会话(除您当前这个外)已全部结束。"
USER_SESSIONS_ENDED = "已结束 {username} 的全部登录会话({count} 个),需要重新登录。"
USER_ACTIVE = "已{state}后台用户 {username}。"
PASSWORDS_DIFFER = "两次输入的密码不一致,请重新输入。"
OUTBOX_RETRIED = "消息 {id} 已重新排队,将在下一轮投递(约 30 秒内)。"
OUTBOX_NOT_DEAD = "消息 {id} 不在“投递失败”状态,可能已被其他管理员重新排队。"
INBOX_READ = "消息 {id} 已标为已读。"
DASHBOARD_BAD_COMMUNITY = "没有名为“{community}”的社区,请在“社区”下拉框中选择一个社区,或选“全部社区”。"
DIGEST_BUILDING = "月报正在按当前台账生成,数据量大时需要数十秒。请稍后再次打开本链接。"
DIGEST_BAD_SCOPE = "没有名为“{scope}”的社区。月报范围应为 district(全区)或一个社区名称,请从月报存档进入。"
CHART_NO_FONT = "服务器没有安装中文字体,无法生成月报图表(会显示成方框)。请安装 fonts-noto-cjk 后重试。"
SIM_BAD_REPLY = "企业微信回复无法解密:{error}"
# --- learning from corrections -------------------------------------------------------------------
LEARN_FIELDS = {"item": "清单事项", "kind": "任务类型"}
LEARN_NO_CORRECTIONS = "还没有人工更正。在任务详情页更正分类、或在准入审核中准入或退回任务后,这里会给出学习建议。"
LEARN_BAD_FIELD = "只能为清单事项(item)或任务类型(kind)学习关键词,请从“学习建议”页面进入。"
LEARN_ACCEPTED = "已采纳:关键词“{word}”→ {label} {value}(规则第 {version} 版),立即生效。"
LEARN_NOTE = "采纳学习建议:关键词“{word}”→ {label} {value}"
UNDO_CONFIRM = ("这次修改会推翻 {count} 条已有的人工更正(见下表)。请改用别的关键词,或确认这些更正已不再适用后,"
                "勾选“仍然保存”再提交。")

# --- the form catalogue, platforms and the yearly report (issue 18) ------------------------------------
FORM_NAME_REQUIRED = "请填写表格名称,如“高龄老人走访慰问登记表”。"
FORM_ADDED = "已登记《{name}》到报表目录。"
FORM_UPDATED = "《{name}》已在目录中,新字段已补充。"
FORM_REPEAT = "重复采集:{total} 项字段中有 {shared} 项已由{department}在《{earlier}》中采集。"
FORM_DECIDED = "《{name}》的目录决定:{decision}。"
PLATFORM_SAVED = "平台已保存。"
REPORT_BAD_YEAR = "年份“{year}”不对,请写四位年份,如 2026。"
REPORT_BAD_SCOPE = "没有找到范围“{scope}”,或它不在您的管辖范围内。范围应为 district:区名、street:街道名 或 community:社区名,请从下拉框选择。"
REPORT_BAD_FORMAT = "没有“{fmt}”格式的报告,可下载 md、docx 或 pdf。"

ORIGINAL_MISSING = "任务 {code} 没有保存原件(文字、语音或链接消息),或原件已被清理。"

# --- the organisation tree (组织架构) ----------------------------------------------------------------
ORG_IMPORTED = "已导入 {rows} 个社区,{changes} 处变化(组织架构第 {version} 版)。"
ORG_SAVED = "已保存(组织架构第 {version} 版):{lines}"
ORG_NO_CHANGE = "组织架构没有变化。"
ORG_NO_FILE = "请选择要导入的 Excel 文件(.xlsx,每行一个社区:区、街道、社区、工作人员数)。"
ORG_STAFF_ONLY = "街道管理员只能修改本街道社区的工作人员数;社区改名、调整街道和新增街道、社区请联系区或全市的管理员。"
ORG_DISTRICT_ONLY = "新增、改名街道和调整社区归属由区或全市的管理员操作;您的账号只能修改本街道社区的工作人员数。"
ORG_STREET_OUTSIDE = "目标街道不在您的管理范围内:社区只能调整到本区的街道。"
ORG_STAFF_BAD = "工作人员数应是 1 到 999 之间的整数(如 8)。"
