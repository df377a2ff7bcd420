//! The `done` result: the item, the materials to bring, and the draft form.
//!
//! Item fields (name, materials, office) are shown as the knowledge base
//! has them (Simplified Chinese); labels and notes follow the user's
//! language.

use govassist_skill_sdk::date::Date;
use govassist_skill_sdk::Lang;
use serde::Serialize;

use crate::applicant::{ApplicantType, Checked, Field};
use crate::item::ServiceItem;

#[derive(Debug, Serialize)]
pub struct Draft {
    pub item: ItemSummary,
    pub applicant_type: ApplicantType,
    /// 申请材料, as listed for the item; empty when the guide lists none.
    pub materials: Vec<String>,
    pub form: Form,
    /// What the citizen should know before submitting, in their language.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ItemSummary {
    pub id: String,
    pub name: String,
    pub agency: Option<String>,
    /// 办理地点
    pub location: Option<String>,
    /// 承诺办结时限, e.g. "7(工作日)"; the legal limit is the upper bound.
    pub promised_time_limit: Option<String>,
    pub legal_time_limit: Option<String>,
    pub platform: Option<String>,
    /// 咨询电话
    pub consult_phone: Option<String>,
    pub online_booking: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Form {
    pub title: String,
    pub applicant_type: String,
    pub fields: Vec<FormField>,
    /// Today's date (UTC+8), for the form's 申请日期.
    pub filled_on: String,
}

#[derive(Debug, Serialize)]
pub struct FormField {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

pub fn build(
    item: &ServiceItem,
    applicant: ApplicantType,
    filled: &[(Field, Checked)],
    address: Option<&str>,
    today: Date,
    lang: Lang,
) -> Draft {
    let mut fields = Vec::new();
    for (field, checked) in filled {
        fields.push(FormField {
            key: field.key(),
            label: field.label(applicant, lang),
            value: checked.value.clone(),
        });
        fields.extend(checked.derived.iter().map(|(key, label, value)| FormField {
            key,
            label,
            value: value.clone(),
        }));
    }
    if let Some(address) = address {
        fields.push(FormField {
            key: "address",
            label: lang.pick("联系地址", "聯絡地址", "address"),
            value: address.to_owned(),
        });
    }
    Draft {
        item: ItemSummary {
            id: item.id.clone(),
            name: item.name.clone(),
            agency: item.agency.clone(),
            location: item.location.clone(),
            promised_time_limit: item.promised_time_limit.clone(),
            legal_time_limit: item.legal_time_limit.clone(),
            platform: item.platform.clone(),
            consult_phone: item.phone.clone(),
            online_booking: item.online_booking,
        },
        applicant_type: applicant,
        materials: item.materials.clone(),
        form: Form {
            title: match lang {
                Lang::ZhHans => format!("“{}”申请表（预填草稿）", item.name),
                Lang::ZhHant => format!("「{}」申請表（預填草稿）", item.name),
                Lang::En => format!("Application for “{}” (pre-filled draft)", item.name),
            },
            applicant_type: applicant.label(lang).to_owned(),
            fields,
            filled_on: today.to_string(),
        },
        notes: notes(item, lang),
    }
}

fn notes(item: &ServiceItem, lang: Lang) -> Vec<String> {
    let mut notes = vec![lang
        .pick(
            "这是根据您提供的信息预填的草稿，请核对无误后再提交；材料要求以办理窗口或办理平台为准。",
            "這是根據您提供的資訊預填的草稿，請核對無誤後再提交；材料要求以辦理窗口或辦理平台為準。",
            "This draft is filled from the details you gave: check it before submitting. The counter or the online platform has the final say on materials.",
        )
        .to_owned()];
    if item.materials.is_empty() {
        let phone = item.phone.as_deref().unwrap_or("12345");
        notes.push(match lang {
            Lang::ZhHans => format!("知识库未列出该事项的申请材料，请查阅办事指南或致电咨询电话 {phone}。"),
            Lang::ZhHant => format!("知識庫未列出該事項的申請材料，請查閱辦事指南或致電諮詢電話 {phone}。"),
            Lang::En => format!("The knowledge base lists no materials for this item; see its service guide or call {phone}."),
        });
    }
    if item.online_booking == Some(true) && item.has_office() {
        notes.push(
            lang.pick(
                "该事项支持网上预约，可预约到办理地点现场办理的时间。",
                "該事項支援網上預約，可預約到辦理地點現場辦理的時間。",
                "This item takes online appointments: you can book a time at the office.",
            )
            .to_owned(),
        );
    }
    notes
}
