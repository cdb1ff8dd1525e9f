"""What the organisation tree says to people: change lines (printed by ``jianfu org import``, shown in the
console) and what is wrong with a sheet row."""

from __future__ import annotations

ADOPTED = "原有社区归入 {district} / {street}"
DISTRICT_ADDED = "新增区 {name}"
STREET_ADDED = "新增街道 {district} / {name}"
COMMUNITY_ADDED = "新增社区 {where}(工作人员 {staff} 人)"
COMMUNITY_MOVED = "社区 {community} 归入 {district} / {street}"
STAFF_CHANGED = "社区 {community} 工作人员 {before} → {after} 人"
NO_CHANGE = "组织架构没有变化。"

SHEET_UNREADABLE = "无法读取 {name}:{reason}。请用 Excel 另存为 .xlsx 后再导入。"
SHEET_NO_HEADER = "没有找到表头:第一行应有“区、街道、社区、工作人员数”四列(可以有更多列)。"
ROW_MISSING = "第 {row} 行:缺少{column},请补全后重新导入。"
ROW_STAFF = "第 {row} 行:工作人员数“{value}”不是正整数,请填写人数(如 8)。"
ROW_DUPLICATE = "第 {row} 行:社区“{community}”在第 {first} 行已出现,归属不同;一个社区只能在一个街道下。"
ROW_TOO_LONG = "第 {row} 行:{column}“{value}”超过 64 个字,请缩短。"
OTHER_DISTRICT = ("社区“{community}”已属于{other},不能再归入{district}:同一部署中社区名称不能重复。"
                  "若{district}也有同名社区,请在名称中注明区别(如“{community}({district})”)后重新导入。")
ROWS_REFUSED_CONFLICT = "{count} 个社区与其他区的社区重名,本次未导入任何内容:"
ROWS_REFUSED = "{count} 行无法读取,本次未导入任何内容:"
