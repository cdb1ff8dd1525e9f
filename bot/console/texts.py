"""Every Chinese label and message of the console (the templates hold the page wording)."""

from __future__ import annotations

from intake.labels import (  # re-exported: templates and handlers read them from here
    CERTIFICATE_ZH as CERTIFICATE_ZH,
)
from intake.labels import (
    CHANNEL_ZH as CHANNEL_ZH,
)
from intake.labels import (
    KIND_ZH as KIND_ZH,
)
from intake.labels import (
    LISTING_ZH as LISTING_ZH,
)
from intake.labels import (
    NATURE_ZH as NATURE_ZH,
)
from intake.labels import (
    RECURRENCE_ZH as RECURRENCE_ZH,
)
from intake.labels import (
    REMINDER_ZH as REMINDER_ZH,
)
from intake.labels import (
    ROLE_ZH as ROLE_ZH,
)
from intake.labels import (
    STATUS_ZH as STATUS_ZH,
)
from intake.labels import (
    TARGET_STATUS_ZH as TARGET_STATUS_ZH,
)

LISTING_SHORT = {"duty": "履职", "assist": "协助", "negative": "负面", "unlisted": "未列入"}
CONSOLE_ROLE_ZH = {"admin": "管理员", "viewer": "只读"}
FIELD_ZH = {
    "department": "下达部门",
    "kind": "任务类型",
    "nature": "性质",
    "listing": "清单类别",
    "item": "事项编号",
    "certificate": "证明判定",
    "deadline": "截止日期",
    "deadline_time": "截止时间",
    "recurrence": "周期",
    "quantity_value": "数量",
    "quantity_unit": "数量单位",
    "quantity": "数量",
    "funded": "是否有经费",
    "amount_yuan": "经费金额(元)",
    "communities": "派往社区",
    "emergency": "突发应急",
}
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
TOO_MANY_ATTEMPTS = "该网络地址登录失败次数过多,请 15 分钟后再试。"
TASK_NOT_FOUND = "没有找到任务 {code}:请检查任务编号(格式 R-YYYYMMDD-NNNN),或回到受理台账搜索。"
PAGE_NOT_FOUND = "没有这个页面:请从顶部菜单进入。"
BAD_DATE = "日期“{value}”格式不对,请写成 2025-01-31。"
BAD_MONTH = "月份“{value}”格式不对,请写成 2025-01。"
BAD_NUMBER = "“{field}”应当是数字,收到的是“{value}”。"
BAD_CHOICE = "“{field}”的取值“{value}”无效,请从下拉框中选择。"
NOTHING_CHANGED = "没有字段被修改:请改动至少一项后再保存。"
CORRECTED = "已更正 {code}:{fields}。"
RULE_ADDED = "已把关键词“{keyword}”加入城市规则覆盖(第 {version} 版),之后的同类消息将按此识别。"
RULE_NEEDS_KEYWORD = "要同时添加识别规则,请填写关键词(消息里出现的原词)。"
KEYWORD_NOT_IN_TEXT = "关键词“{keyword}”没有出现在这条消息里,请填写消息中的原词。"
NOT_PENDING = "{code} 当前状态为“{status}”,只有“待准入审核”的任务可以准入或拒绝。"
ADMIT_NEEDS = "准入需要填写:{missing}。请补全后再提交。"
ADMITTED = "已准入 {code},作为协助事项 {item} 记录,已通知联络员和 {targets} 个社区。"
REFUSE_NEEDS_REASON = "拒绝需要填写理由,联络员会收到这段说明。"
REFUSED = "已拒绝 {code},已通知联络员。"
LIST_SAVED = "已保存{section}(规则第 {version} 版),立即生效。"
LIST_PARSE_ERROR = "第 {line} 行无法识别:“{text}”。{hint}"
NAME_REQUIRED = "名称不能为空。"
NAME_EXISTS = "“{name}”已存在。"
SAVED = "已保存。"
ACCOUNT_NOT_FOUND = "没有编号为 {id} 的账号。"
BIND_NEEDS_TARGET = "绑定为部门联络员需选择部门,绑定为社区书记/主任需选择社区。"
INVITE_CREATED = "邀请码 {code} 已生成(7 天内有效,仅可使用一次)。请让对方在公众号/企业微信中发送:绑定 {code}"
SIM_NEEDS = "请选择一个账号或填写 OpenID,并输入消息内容。"
SIM_FAILED = "模拟消息没有送达 {path}:{error}。请确认服务正在运行,再试一次。"
EXPORT_NEEDS_COMMUNITY = "请选择要导出台账的社区。"

# --- messages to clerks and heads (through the outbox) ----------------------------------------
ADMIT_CLERK = ("【准入通知】您发出的任务 {code} 经区减负办审核,已准入为协助事项 {item}“{name}”,"
               "已派发至 {targets}。依据:{basis};经费:{funding};期限:{duration}。")
ADMIT_HEAD = "【新任务】{code} {department}{kind},截止 {deadline}。经准入审核派发(协助事项 {item})。回复“任务”查看。"
REFUSE_CLERK = "【准入审核】您发出的任务 {code} 未获准入,不予派发。理由:{reason}。如有法定依据和经费保障,可补充后重新发送。"
CORRECT_CLERK = "【更正通知】任务 {code} 经区减负办更正:{changes}。"
ADMIN_ONLY = "只有管理员(admin)可以打开这个页面。如需管理后台用户,请联系管理员。"
USER_CREATED = "已创建后台用户 {username}({role})。请把密码当面或通过安全渠道告诉对方。"
USER_PASSWORD_RESET = "已重置 {username} 的密码,并解除登录锁定。"
USER_ACTIVE = "已{state}后台用户 {username}。"
PASSWORDS_DIFFER = "两次输入的密码不一致,请重新输入。"
OUTBOX_RETRIED = "消息 {id} 已重新排队,将在下一轮投递(约 30 秒内)。"
OUTBOX_NOT_DEAD = "消息 {id} 不在“投递失败”状态,可能已被其他管理员重新排队。"
INBOX_READ = "消息 {id} 已标为已读。"
DASHBOARD_BAD_COMMUNITY = "没有名为“{community}”的社区,请在“社区”下拉框中选择一个社区,或选“全部社区”。"
DIGEST_BAD_SCOPE = "没有名为“{scope}”的社区。月报范围应为 district(全区)或一个社区名称,请从月报存档进入。"
CHART_NO_FONT = "服务器没有安装中文字体,无法生成月报图表(会显示成方框)。请安装 fonts-noto-cjk 后重试。"
SIM_BAD_REPLY = "企业微信回复无法解密:{error}"
OUTBOX_STATUS_ZH = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "dead": "投递失败"}
OUTBOX_CHANNEL_ZH = {"log": "日志", "inbox": "站内信", "wecom_app": "企业微信应用", "wecom_robot": "企业微信群机器人",
                     "wechat": "公众号"}
