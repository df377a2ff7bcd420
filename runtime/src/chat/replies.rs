//! The fixed replies, in the three languages the assistant speaks. Fixed on
//! purpose: declining, admitting ignorance and handing over to a person are
//! where a generated sentence could go wrong in public.

use govassist_kb::{DocKind, Hit};

use crate::lang::Lang;

/// Why a request is declined, as the `done` event reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineReason {
    Medical,
    Investment,
    OthersData,
    Gossip,
    OtherCity,
    PromptInjection,
    Sensitive,
}

impl DeclineReason {
    pub const ALL: [DeclineReason; 7] = [
        DeclineReason::Medical,
        DeclineReason::Investment,
        DeclineReason::OthersData,
        DeclineReason::Gossip,
        DeclineReason::OtherCity,
        DeclineReason::PromptInjection,
        DeclineReason::Sensitive,
    ];

    pub fn from_code(code: &str) -> Option<DeclineReason> {
        DeclineReason::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            DeclineReason::Medical => "medical",
            DeclineReason::Investment => "investment",
            DeclineReason::OthersData => "others_data",
            DeclineReason::Gossip => "gossip",
            DeclineReason::OtherCity => "other_city",
            DeclineReason::PromptInjection => "prompt_injection",
            DeclineReason::Sensitive => "sensitive",
        }
    }
}

pub fn decline(reason: DeclineReason, lang: Lang) -> String {
    use DeclineReason::*;
    let (hans, hant, en) = match reason {
        Medical => (
            "抱歉，我是政务服务助手，不能提供医疗诊断或用药建议，请到正规医院就诊。如需办理医保报销、生育津贴等业务，我可以帮您查询办事指南。",
            "抱歉，我是政務服務助手，不能提供醫療診斷或用藥建議，請到正規醫院就診。如需辦理醫保報銷、生育津貼等業務，我可以幫您查詢辦事指南。",
            "Sorry, I am a government service assistant and cannot give medical diagnoses or advice; please see a doctor. I can help with services such as medical insurance reimbursement.",
        ),
        Investment => (
            "抱歉，我不能提供股票、基金等投资建议。如需办理企业登记、税务等政务服务，欢迎继续咨询。",
            "抱歉，我不能提供股票、基金等投資建議。如需辦理企業登記、稅務等政務服務，歡迎繼續諮詢。",
            "Sorry, I cannot give investment advice. I am glad to help with government services such as business registration or taxes.",
        ),
        OthersData => (
            "抱歉，为保护个人信息，我不能查询或提供他人的个人信息。本人信息可凭有效证件到相关部门或在官方平台查询。",
            "抱歉，為保護個人資料，我不能查詢或提供他人的個人資料。本人資料可憑有效證件到相關部門或在官方平台查詢。",
            "Sorry, to protect personal information I cannot look up or disclose anyone else's data. You can query your own records with valid ID at the responsible department or on the official platform.",
        ),
        Gossip => (
            "抱歉，这个问题不在政务服务范围内。我可以帮您查询办事条件、材料、时限、地点和电话，或预约办理。",
            "抱歉，這個問題不在政務服務範圍內。我可以幫您查詢辦事條件、材料、時限、地點和電話，或預約辦理。",
            "Sorry, that is outside what I can help with. I can tell you the conditions, materials, time limits, place and phone of a government service, or book an appointment.",
        ),
        OtherCity => (
            "抱歉，我只能解答本地区的政务服务事项。其他城市的事项请咨询当地政务服务热线 12345 或当地政务服务网。",
            "抱歉，我只能解答本地區的政務服務事項。其他城市的事項請諮詢當地政務服務熱線 12345 或當地政務服務網。",
            "Sorry, I can only answer about government services in this area. For other cities, please call their 12345 hotline or visit their government service portal.",
        ),
        PromptInjection => (
            "抱歉，我不能执行这个要求。我是政务服务助手，可以帮您查询办事指南或办理相关事项。",
            "抱歉，我不能執行這個要求。我是政務服務助手，可以幫您查詢辦事指南或辦理相關事項。",
            "Sorry, I cannot do that. I am a government service assistant: I can look up service guides or help you handle a matter.",
        ),
        Sensitive => (
            "抱歉，您的消息包含不适宜的内容，我无法回答。请换个说法描述您要办理的事项。",
            "抱歉，您的訊息包含不適宜的內容，我無法回答。請換個說法描述您要辦理的事項。",
            "Sorry, your message contains content I cannot respond to. Please describe the matter you want to handle in other words.",
        ),
    };
    pick(lang, hans, hant, en).to_owned()
}

/// One request of the message is declined and the rest answered: the decline's first sentence,
/// then a line that says the answer that follows is about the rest.
pub fn decline_part(reason: DeclineReason, lang: Lang) -> String {
    let text = decline(reason, lang);
    let first = match lang {
        Lang::English => text.split_inclusive(". ").next(),
        _ => text.split_inclusive('。').next(),
    };
    let first = first.unwrap_or(&text).trim_end();
    let rest = pick(
        lang,
        "以下回答您的其他问题：",
        "以下回答您的其他問題：",
        "As for the rest of your question:",
    );
    let space = if lang == Lang::English { " " } else { "" };
    format!("{first}{space}{rest}\n\n")
}

/// Retrieval found nothing: say so, name a phone, offer a person.
pub fn no_evidence(lang: Lang, phone: Option<&str>, handoff_id: Option<i64>) -> String {
    let phone = phone.unwrap_or("12345");
    let mut text = match lang {
        Lang::Simplified => format!("抱歉，知识库里没有找到能回答这个问题的办事指南，我不想猜测。您可以拨打 {phone} 咨询"),
        Lang::Traditional => format!("抱歉，知識庫裡沒有找到能回答這個問題的辦事指南，我不想猜測。您可以撥打 {phone} 諮詢"),
        Lang::English => format!("Sorry, I found no service guide that answers this, and I would rather not guess. You can call {phone}"),
    };
    text.push_str(&handoff_note(lang, handoff_id));
    text
}

/// The model said it does not know: add whom to call and the offer of a person.
pub fn unknown_addendum(lang: Lang, phone: Option<&str>, handoff_id: Option<i64>) -> String {
    let phone = phone.unwrap_or("12345");
    let mut text = match lang {
        Lang::Simplified => format!("\n\n如需进一步确认，请拨打咨询电话 {phone}"),
        Lang::Traditional => format!("\n\n如需進一步確認，請撥打諮詢電話 {phone}"),
        Lang::English => format!("\n\nTo confirm, please call {phone}"),
    };
    text.push_str(&handoff_note(lang, handoff_id));
    text
}

fn handoff_note(lang: Lang, handoff_id: Option<i64>) -> String {
    match (handoff_id, lang) {
        (Some(id), Lang::Simplified) => {
            format!("。我已为您登记转人工（编号 {id}），工作人员会跟进。")
        }
        (Some(id), Lang::Traditional) => {
            format!("。我已為您登記轉人工（編號 {id}），工作人員會跟進。")
        }
        (Some(id), Lang::English) => {
            format!(". I have also asked a member of staff to follow up (request {id}).")
        }
        (None, Lang::English) => {
            ", or type \"human\" to ask a member of staff to follow up.".to_owned()
        }
        (None, Lang::Simplified) => "，或输入“转人工”请工作人员跟进。".to_owned(),
        (None, Lang::Traditional) => "，或輸入「轉人工」請工作人員跟進。".to_owned(),
    }
}

pub fn handoff_created(lang: Lang, id: i64) -> String {
    match lang {
        Lang::Simplified => format!("好的，已为您转人工（编号 {id}）。工作人员会尽快在本对话中回复您；紧急事项请拨打 12345。"),
        Lang::Traditional => format!("好的，已為您轉人工（編號 {id}）。工作人員會盡快在本對話中回覆您；緊急事項請撥打 12345。"),
        Lang::English => format!("I have asked a member of staff to take over (request {id}). They will reply in this conversation; for urgent matters call 12345."),
    }
}

pub fn dialog_cancelled(lang: Lang) -> String {
    pick(
        lang,
        "好的，已取消本次办理。还有什么可以帮您？",
        "好的，已取消本次辦理。還有什麼可以幫您？",
        "OK, I have cancelled that. What else can I do for you?",
    )
    .to_owned()
}

pub fn skill_unavailable(lang: Lang) -> String {
    pick(
        lang,
        "抱歉，这项办理功能暂时不可用，请稍后再试或拨打 12345。",
        "抱歉，這項辦理功能暫時不可用，請稍後再試或撥打 12345。",
        "Sorry, this service is temporarily unavailable. Please try again later or call 12345.",
    )
    .to_owned()
}

pub fn model_unavailable(lang: Lang) -> String {
    pick(
        lang,
        "抱歉，回答生成暂时不可用；上面列出的办事指南可能对您有帮助。",
        "抱歉，回答生成暫時不可用；上面列出的辦事指南可能對您有幫助。",
        "Sorry, answers cannot be written right now; the service guides listed above may help.",
    )
    .to_owned()
}

/// Shown under an answer in which the check found sentences it could not tie to the sources.
pub fn unverified_note(lang: Lang) -> &'static str {
    pick(
        lang,
        "\n（提示：回答中个别内容未能在引用的办事指南中核实，请以原文为准。）",
        "\n（提示：回答中個別內容未能在引用的辦事指南中核實，請以原文為準。）",
        "\n(Note: parts of this answer could not be verified against the cited guides; the guides prevail.)",
    )
}

/// What stands in an answer for a number the guides do not hold (`grounding::NumberGate`).
pub fn number_removed(lang: Lang) -> &'static str {
    pick(
        lang,
        "（此号码未能在办事指南中核实，已略去）",
        "（此號碼未能在辦事指南中核實，已略去）",
        "(a number not found in the guides, left out)",
    )
}

/// The reply to a cancel (取消, 不用了) when no handling is under way.
pub fn nothing_to_cancel(lang: Lang) -> String {
    pick(
        lang,
        "好的，目前没有正在办理的事项。还有什么可以帮您？",
        "好的，目前沒有正在辦理的事項。還有什麼可以幫您？",
        "OK, nothing is being handled right now. What else can I do for you?",
    )
    .to_owned()
}

/// Shown under an answer whose first source has another entry of its kind scored about as high (a
/// sibling item, 补发 or 换发; another service or FAQ question the search could not tell from it): the
/// citizen, not the ranking, should pick the one that fits.
pub fn alternative_note(lang: Lang, n: usize, entry: &Hit) -> String {
    let title = &entry.title;
    match (entry.kind, lang) {
        (DocKind::Faq, Lang::Simplified) => {
            format!("\n\n相近的问答：[{n}]「{title}」，请核对哪一条符合您的情况。")
        }
        (DocKind::Faq, Lang::Traditional) => {
            format!("\n\n相近的問答：[{n}]「{title}」，請核對哪一條符合您的情況。")
        }
        (DocKind::Faq, Lang::English) => format!(
            "\n\nA similar question: [{n}] 「{title}」. Please check which one fits your case."
        ),
        (_, Lang::Simplified) => {
            format!("\n\n相近的事项：[{n}]「{title}」，请核对哪一项符合您的情况。")
        }
        (_, Lang::Traditional) => {
            format!("\n\n相近的事項：[{n}]「{title}」，請核對哪一項符合您的情況。")
        }
        (_, Lang::English) => format!(
            "\n\nA similar service: [{n}] 「{title}」. Please check which one fits your case."
        ),
    }
}

/// Names another copy of the entry cited: the same service's guide at another agency (the
/// province's and Guangzhou's), with the agency, or the same FAQ question posted twice.
pub fn other_copy_note(lang: Lang, n: usize, entry: &Hit) -> String {
    let title = &entry.title;
    if entry.kind == DocKind::Faq {
        return match lang {
            Lang::Simplified => format!("\n\n同一问题另有一则问答：[{n}]「{title}」，请一并参考。"),
            Lang::Traditional => {
                format!("\n\n同一問題另有一則問答：[{n}]「{title}」，請一併參考。")
            }
            Lang::English => {
                format!("\n\nThe same question has another answer: [{n}] 「{title}」. Please read both.")
            }
        };
    }
    let agency = entry
        .service
        .as_ref()
        .and_then(|s| s.agency.as_deref())
        .unwrap_or(match lang {
            Lang::Simplified => "另一级部门",
            Lang::Traditional => "另一級部門",
            Lang::English => "another agency",
        });
    match lang {
        Lang::Simplified => format!(
            "\n\n同一事项另有{agency}的办事指南：[{n}]「{title}」，两个部门的窗口和电话可能不同，请按您的情况选择。"
        ),
        Lang::Traditional => format!(
            "\n\n同一事項另有{agency}的辦事指南：[{n}]「{title}」，兩個部門的窗口和電話可能不同，請按您的情況選擇。"
        ),
        Lang::English => format!(
            "\n\nThe same service has another guide, from {agency}: [{n}] 「{title}」. Their counters and phones may differ; pick the one for your case."
        ),
    }
}

/// Names the general guide of the item whose case the answer took.
pub fn parent_item_note(lang: Lang, n: usize, entry: &Hit) -> String {
    let title = &entry.title;
    match lang {
        Lang::Simplified => format!("\n\n该事项的总办事指南：[{n}]「{title}」，请一并参考。"),
        Lang::Traditional => format!("\n\n該事項的總辦事指南：[{n}]「{title}」，請一併參考。"),
        Lang::English => {
            format!("\n\nThe general guide to this service: [{n}] 「{title}」. Please read it too.")
        }
    }
}

/// Stands for an answer in which the model wrote nothing but its source markers or the question again.
pub fn see_the_guide(lang: Lang) -> &'static str {
    pick(
        lang,
        "请查看下面引用的办事指南。",
        "請查看下面引用的辦事指南。",
        "Please see the service guide cited below.",
    )
}

/// Introduces the verbatim sentence from the source under an answer.
pub fn quote_label(lang: Lang) -> &'static str {
    pick(lang, "原文", "原文", "Source text")
}

pub fn sources_label(lang: Lang) -> &'static str {
    pick(lang, "来源", "來源", "Sources")
}

fn pick<'a>(lang: Lang, hans: &'a str, hant: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Simplified => hans,
        Lang::Traditional => hant,
        Lang::English => en,
    }
}

/// A request for a person: "转人工", "人工客服", "talk to a human".
pub fn wants_human(text: &str) -> bool {
    let folded = govassist_kb::text::fold(text);
    [
        "转人工",
        "人工客服",
        "人工服务",
        "找人工",
        "真人客服",
        "human agent",
        "talk to a human",
        "real person",
    ]
    .iter()
    .any(|cue| folded.contains(cue))
        || folded.trim() == "human"
        || folded.trim() == "人工"
}

/// Whether the user abandons the pending dialog: a short message that is
/// only a cancel word ("取消预约" is an action for the booking skill, not this).
pub fn is_cancel(text: &str) -> bool {
    let folded = govassist_kb::text::fold(text);
    let bare: String = folded
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .collect();
    let bare = bare.trim();
    [
        "取消",
        "算了",
        "不办了",
        "不用了",
        "不要了",
        "退出",
        "取消吧",
        "算了吧",
        "不办了谢谢",
        "cancel",
        "stop",
        "never mind",
        "nevermind",
        "quit",
    ]
    .contains(&bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_decline_is_the_first_sentence_then_a_lead_in() {
        for reason in DeclineReason::ALL {
            for lang in [Lang::Simplified, Lang::Traditional, Lang::English] {
                let (part, full) = (decline_part(reason, lang), decline(reason, lang));
                let end = if lang == Lang::English { ". " } else { "。" };
                let first = &full[..full.find(end).unwrap() + end.trim_end().len()];
                assert!(part.starts_with(first), "{part}");
                assert!(
                    !part.contains(full[first.len()..].trim()),
                    "only the first sentence: {part}"
                );
                assert!(
                    part.trim_end().ends_with(['：', ':']) && part.ends_with("\n\n"),
                    "{part}"
                );
            }
        }
    }

    #[test]
    fn cancel_words_only_when_alone() {
        assert!(is_cancel("取消"));
        assert!(is_cancel("算了吧！"));
        assert!(is_cancel(" Cancel. "));
        assert!(!is_cancel("取消预约"));
        assert!(!is_cancel("不要取消"));
    }

    #[test]
    fn human_requests() {
        assert!(wants_human("帮我转人工"));
        assert!(wants_human("轉人工"));
        assert!(wants_human("Can I talk to a human?"));
        assert!(!wants_human("人工智能是什么"));
    }

    #[test]
    fn no_evidence_names_a_phone_and_the_handoff() {
        let text = no_evidence(Lang::Simplified, Some("020-83133257"), Some(7));
        assert!(text.contains("020-83133257") && text.contains("编号 7"));
        assert!(no_evidence(Lang::English, None, None).contains("12345"));
    }
}
