//! 智能预填 (form pre-filling): for one service item, the list of materials
//! to bring and a draft application form filled from the applicant's
//! details, each detail checked first.
//!
//! The conversation layer extracts the details from what the citizen said
//! and passes them as input; details the user has stored in their profile
//! arrive as granted personal fields and fill the gaps. A wrong or missing
//! detail is asked for again (`need_input`) with the reason, so the form
//! that reaches a counter has a valid ID number, credit code and phone.
//!
//! The item's fields come from the knowledge base (capability `kb`); see
//! [`item`] for how an item is found with only `kb-search`.

mod applicant;
mod draft;
mod item;

use govassist_skill_sdk::date::{Date, CHINA_UTC_OFFSET_MINUTES};
use govassist_skill_sdk::serde_json::{self, json};
use govassist_skill_sdk::{export_skill, input, Context, Info, Lang, Outcome, Skill};
use serde::Deserialize;

use applicant::{ApplicantType, Audience, Field};
use item::ServiceItem;

/// The input object. Every field is optional: the skill asks for what the
/// item needs. Numbers are accepted where digits are expected (a phone
/// number extracted as a JSON number is still a phone number).
#[derive(Debug, Default, Deserialize)]
pub struct Input {
    /// 事项编码 of the service item.
    #[serde(default, deserialize_with = "input::text")]
    pub item_id: Option<String>,
    /// 事项名称: needed to find the item (the knowledge base cannot be
    /// searched by id), or alone when it names exactly one item.
    #[serde(default, deserialize_with = "input::text")]
    pub item_name: Option<String>,
    /// `person` or `organization` (also 个人 / 企业 / 单位 …); inferred when
    /// the item admits only one, or from the details given.
    #[serde(default, deserialize_with = "input::text")]
    pub applicant_type: Option<String>,
    /// The applicant's name, or the contact person's for an organization.
    #[serde(default, deserialize_with = "input::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "input::text")]
    pub id_number: Option<String>,
    #[serde(default, deserialize_with = "input::text")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "input::text")]
    pub enterprise_name: Option<String>,
    #[serde(default, deserialize_with = "input::text")]
    pub credit_code: Option<String>,
    /// Optional contact address; put on the form when given, never asked for.
    #[serde(default, deserialize_with = "input::text")]
    pub address: Option<String>,
}

impl Input {
    fn get(&self, field: Field) -> Option<&str> {
        let value = match field {
            Field::Name => &self.name,
            Field::IdNumber => &self.id_number,
            Field::Phone => &self.phone,
            Field::EnterpriseName => &self.enterprise_name,
            Field::CreditCode => &self.credit_code,
        };
        non_empty(value)
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[derive(Default)]
pub struct FormPrefill;

impl Skill for FormPrefill {
    type Input = Input;

    fn describe(&self) -> Info {
        Info::new(
            "form-prefill",
            env!("CARGO_PKG_VERSION"),
            "智能预填：列出事项的申请材料，并用核验过的申请人信息预填申请表草稿",
        )
        .with_examples([
            "帮我填一下申请表",
            "帮我预填这个事项的申请表",
            "用我的身份证号预填表格",
            "Pre-fill the application form for me",
        ])
        .with_input_schema(input_schema())
    }

    fn invoke(&self, input: Input, cx: &Context) -> Outcome {
        let lang = cx.lang();
        let item = match item::resolve(cx, non_empty(&input.item_id), non_empty(&input.item_name)) {
            Ok(item) => item,
            Err(outcome) => return outcome,
        };
        let applicant = match applicant_type(&input, &item, lang) {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        let (today, _) = Date::local_now(cx.now_ms(), CHINA_UTC_OFFSET_MINUTES);

        let mut filled = Vec::new();
        let mut invalid = Vec::new();
        let mut missing = Vec::new();
        for &field in applicant.fields() {
            let granted = field
                .is_personal()
                .then(|| cx.personal(field.key()))
                .flatten();
            let raw = input
                .get(field)
                .or(granted.map(str::trim).filter(|s| !s.is_empty()));
            match raw.map(|raw| applicant::check(field, raw, today, lang)) {
                None => missing.push(field),
                Some(Ok(checked)) => filled.push((field, checked)),
                Some(Err(why)) => invalid.push((field, why)),
            }
        }
        if !invalid.is_empty() || !missing.is_empty() {
            return ask(&item, applicant, &invalid, &missing, lang);
        }
        let address = non_empty(&input.address);
        Outcome::done(draft::build(
            &item, applicant, &filled, address, today, lang,
        ))
    }
}

export_skill!(FormPrefill);

/// Who applies: as the input says (if the item admits it), the only type
/// the item admits, or inferred from the details given; otherwise ask.
fn applicant_type(input: &Input, item: &ServiceItem, lang: Lang) -> Result<ApplicantType, Outcome> {
    let audience = Audience::of(&item.audience);
    let ask_type = |prompt: String| Outcome::need_input(["applicant_type"], prompt);
    if let Some(word) = non_empty(&input.applicant_type) {
        let Some(t) = ApplicantType::parse(word) else {
            return Err(ask_type(
                lang.pick(
                    "请问您是以个人还是以单位（企业等）名义办理？",
                    "請問您是以個人還是以單位（企業等）名義辦理？",
                    "Are you applying as an individual or for an organization (a company, etc.)?",
                )
                .to_owned(),
            ));
        };
        if !audience.admits(t) {
            return Err(Outcome::failed(match lang {
                Lang::ZhHans => format!("“{}”不面向{}办理。", item.name, t.label(lang)),
                Lang::ZhHant => format!("「{}」不面向{}辦理。", item.name, t.label(lang)),
                Lang::En => format!("“{}” is not available to a {}.", item.name, t.label(lang)),
            }));
        }
        return Ok(t);
    }
    match (audience.person, audience.organization) {
        (true, false) => Ok(ApplicantType::Person),
        (false, true) => Ok(ApplicantType::Organization),
        _ if input.get(Field::EnterpriseName).is_some() || input.get(Field::CreditCode).is_some() => {
            Ok(ApplicantType::Organization)
        }
        _ if input.get(Field::IdNumber).is_some() => Ok(ApplicantType::Person),
        _ => Err(ask_type(match lang {
            Lang::ZhHans => format!("“{}”个人和单位均可办理，请问您以个人还是单位名义申请？", item.name),
            Lang::ZhHant => format!("「{}」個人和單位均可辦理，請問您以個人還是單位名義申請？", item.name),
            Lang::En => format!(
                "“{}” is open to individuals and organizations: are you applying as an individual or for an organization?",
                item.name
            ),
        })),
    }
}

/// Ask again: first what is wrong with each invalid detail, then which
/// details are missing. Invalid fields come first in `fields` too.
fn ask(
    item: &ServiceItem,
    applicant: ApplicantType,
    invalid: &[(Field, &str)],
    missing: &[Field],
    lang: Lang,
) -> Outcome {
    let mut sentences: Vec<String> = invalid
        .iter()
        .map(|(field, why)| {
            let label = field.label(applicant, lang);
            match lang {
                Lang::ZhHans => format!("{label}：{why}，请核对后重新提供。"),
                Lang::ZhHant => format!("{label}：{why}，請核對後重新提供。"),
                Lang::En => format!("{}: {why}. Please check it.", capitalized(label)),
            }
        })
        .collect();
    if !missing.is_empty() {
        let labels = missing
            .iter()
            .map(|f| f.label(applicant, lang))
            .collect::<Vec<_>>()
            .join(lang.pick("、", "、", ", "));
        sentences.push(match lang {
            Lang::ZhHans => format!("为预填“{}”的申请表，请提供{labels}。", item.name),
            Lang::ZhHant => format!("為預填「{}」的申請表，請提供{labels}。", item.name),
            Lang::En => format!(
                "To pre-fill the application for “{}”, please give the {labels}.",
                item.name
            ),
        });
    }
    let fields = invalid
        .iter()
        .map(|(f, _)| *f)
        .chain(missing.iter().copied());
    Outcome::need_input(
        fields.map(Field::key),
        sentences.join(lang.pick("", "", " ")),
    )
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn input_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "item_id": { "type": "string", "description": "事项编码 (the knowledge-base id of the service item)" },
            "item_name": { "type": "string", "description": "事项名称; needed with item_id to find the item, or alone when unique" },
            "applicant_type": { "type": "string", "enum": ["person", "organization"], "description": "以个人（自然人）还是单位（法人或其他组织）名义办理" },
            "name": { "type": "string", "description": "申请人姓名；单位办理时为经办人姓名" },
            "id_number": { "type": "string", "description": "18位公民身份号码" },
            "phone": { "type": "string", "description": "手机号码或带区号的固定电话" },
            "enterprise_name": { "type": "string", "description": "单位名称" },
            "credit_code": { "type": "string", "description": "18位统一社会信用代码" },
            "address": { "type": "string", "description": "联系地址（可选）" }
        }
    })
}

#[cfg(test)]
mod tests;
