"""What the WeCom intelligent bot and the upload page say (Chinese, user-facing)."""

from __future__ import annotations

BOT_READING = "正在读取这份通知,请稍候……"
BOT_STILL_READING = "仍在读取,请稍候……"
BOT_EXPIRED = "这条消息的结果已失效,请重新发送通知。"
BOT_WELCOME = ("您好,这里是减负通。在工作群里@我并引用一条通知,或把通知文字、图片、文件直接发给我,"
               "即可登记;首次使用请回复“绑定 邀请码”,需要帮助请回复“帮助”。")
BOT_UNSUPPORTED = "暂时只能读取文字、语音、图片和文件,请发送通知文字或通知图片、文件。"
BOT_NOT_ENABLED = ("the WeCom intelligent bot is not enabled here: set [wecom_bot] enabled = true with its token "
                   "and EncodingAESKey\n")
BOT_WRONG_BOT = "the callback is for intelligent bot {got!r}, not the configured [wecom_bot] aibot_id"

UPLOAD_WORD = "上传"
UPLOAD_LINK = ("请在{minutes}分钟内打开下面的链接上传通知文件(Word、PDF、Excel、OFD、文本或图片,"
               "不超过{limit}),核对读出的文字后提交;链接只能用一次。\n{url}")
UPLOAD_NOT_ALLOWED = "只有已绑定的部门联络员和社区负责人可以上传通知。首次使用请回复“绑定 邀请码”。"
UPLOAD_TITLE = "上传通知"
UPLOAD_EXPIRED = "这个上传链接已过期或已经用过。请在聊天中重新发送“上传”获取新链接。"
UPLOAD_NO_FILE = "没有收到文件。请选择一个通知文件再上传。"
UPLOAD_EMPTY_TEXT = "通知文字不能为空。请核对读出的文字后再提交。"
UPLOAD_TOO_LONG = "通知文字超过{limit}字,请删去与通知无关的部分后再提交。"
UPLOAD_BAD_FORM = "表单不完整或已被修改,请重新打开上传链接。"
UPLOAD_READ_OK = "已读出下面的文字。请核对、修改后点击“提交登记”;登记回执会发到您的聊天窗口。"
UPLOAD_SUBMITTED = "已提交。登记回执已发到您的聊天窗口,可以关闭本页。"
UPLOAD_RECEIPT_HEAD = "(网页上传)"
UPLOAD_STORAGE_DOWN = "系统暂时无法保存,通知未登记。请稍后再点一次“提交登记”。"
