"""Chinese text of the yearly burden report: headings, sentences and the recommendations' wording."""

from __future__ import annotations

__all__ = ["HEADINGS", "DECISION_ZH", "CERT_DECISION_ZH", "ADVICE", "NOTE"]

HEADINGS = {
    "basic": "一、基本情况",
    "problems": "二、存在问题",
    "advice": "三、对策建议",
    "sources": "附:数据来源",
    "items": "(一)事项",
    "seven": "(二)“七多”计数",
    "forms": "(三)报表目录",
    "platforms": "(四)平台",
}
DECISION_ZH = {"pending": "待审", "keep": "保留", "merge": "并入", "stop": "停用"}
CERT_DECISION_ZH = {"issue": "应出具", "conditional": "核实后可出具", "refuse": "不应出具", "unknown": "未列入证明清单"}

NOTE = {
    "intro": ("本报告由减负通根据{year}年全年通知登记数据自动生成,范围:{scope}({communities}个社区)。"
              "每个数字后注明来源:F 为与月报同一口径的月度数字,Q1—Q7 为本报告的查询,C1、C2 为社区登记的窗口工作,"
              "其语句见附录。"),
    "items": ("全年共收到{departments}个部门的通知{tasks}件,派发到社区{assignments}件次,"
              "归并为{items}个事项(一个部门×一个清单事项或一张常报表格),其中行政事务{admin}个,占{share}。"),
    "hours": "按月报口径估算,社区全年为这些通知投入约{hours}小时,平均每个社区{per}小时。",
    "counter": "社区登记的窗口工作已计入上表:另有多平台录入{platform}项(同一数据录入多个系统),借调人员{seconded}人次。",
    "seven_total": "{label}:全年{total}{unit},平均每个社区{per:g}{unit},最多的是{most}({most_n}{unit})。",
    "seven_counter": "其中通知派发{notices}{unit},社区登记的窗口工作{counter}{unit}。",
    "seven_none": "{label}:全年没有这类通知。",
    "forms": "全年下发的表格{forms}张(报表目录),社区填报{submissions}份;字段重复的表格{repeats}张。",
    "platforms": "通知点名的平台{platforms}个;每个社区平均被要求录入{per:g}个平台。",
    "none": "无",
    "refused": "拒收{n}件(负面清单或报表目录停用),主要来自{departments}。",
    "stopped": "其中因报表目录已停用的表格而拒收{n}件。",
    "unlisted": "未列入清单、转准入审核{n}件,主要来自{departments}。",
    "unfunded": "协助事项未随事转费{n}件。",
    "short": "留给社区不足3个工作日的通知{n}件。",
    "duplicates": "重复派发{n}件,其中再次下发时加码(截止提前或数量加大){escalations}件。",
    "repeat": "重复采集:{n}件通知与其他部门近期采集的数据相同;{forms}张表格的字段大部分已由别的表格采集。",
    "form_repeat": "《{form}》({department}){total}项字段中有{shared}项已在{earlier_department}的《{earlier}》中采集(目录决定:{decision})。",
    "forwarding": "层层加码(转发时提前截止时间或增加工作){n}件:{offices}。",
    "forwarding_office": "{office} {n} 件(提前截止{earlier}件、增加工作{work}件{most})",
    "forwarding_most": ",最多提前{days}天",
    "forwarding_none": "层层加码(转发时提前截止时间或增加工作):全年没有。",
    "forward_earlier": "原通知截止{issuer},转发要求{own}截止,提前{days}天",
    "forward_work": "转发时另加工作",
    "forward_by": "{office}转发{department}",
    "unknown_office": "转发单位",
    "escalation": "{code} 截止{deadline}(原{original_code} 截止{original_deadline}),数量{quantity}(原{original_quantity})",
}

ADVICE = {
    "admission": ("事项准入",
                  "{departments}全年有{n}件通知所涉事项未列入社区工作事项清单:应按准入程序提出申请"
                  "(法律依据、经费保障、工作期限),经区减负办审核列入清单前不得派发给社区。"),
    "negative": ("负面清单",
                 "{departments}全年被拒收{n}件(属于不应由社区承担的事项或已停用的表格),应由部门自行承担,不再向社区派发。"),
    "merge": ("表格归并",
              "《{form}》({department})的{total}项字段中有{shared}项已由{earlier_department}的《{earlier}》采集:"
              "建议并入《{earlier}》,数据一次采集、共享复用。"),
    "certificate": ("证明清理",
                    "社区被要求出具“{name}”{n}次({decision},来自{departments}):"
                    "建议由部门通过数据共享或告知承诺自行核实,不再要求社区出具。"),
    "funding": ("费随事转",
                "协助事项{item}{text}({department})全年{n}件通知,没有一件写明经费或工作条件:"
                "应按“权随责走、费随事转”落实经费,否则退出协助清单。"),
    "platform": ("一个平台",
                 "{n}个社区把同一类数据录入了不止一个平台(如{community}:{data}录入{platforms}):"
                 "建议归并为一个平台,一次录入、多方共享。"),
    "forwarding": ("层层加码",
                   "{offices}转发通知时共{n}件提前了截止时间或另加了工作{most}:街道转发应保留原通知的时限和要求,"
                   "需要汇总的时间应与派发部门商定并写入原通知,不得层层加码。"),
    "short": ("留足时限",
              "{department}全年有{n}件通知留给社区不足3个工作日:应提前统筹,给社区留出至少3个工作日。"),
    "inspection": ("检查统筹",
                   "每个社区全年平均迎检{per:g}次,{department}占{share}:建议把同类检查合并,纳入街道年度计划统一安排。"),
    "meeting": ("会议精简",
                "每个社区全年平均参会{per:g}场,{department}占{share}:建议合并同类会议,能用视频或文件代替的不再要求社区到场。"),
}
