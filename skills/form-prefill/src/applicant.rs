//! Who applies (a natural person or an organization), which details the
//! form needs from them, and checking each detail.
//!
//! Checks run here, before the form reaches a counter, because a wrong ID
//! number or credit code is the commonest reason an application is sent
//! back: the citizen is asked again right away, with the reason.

use govassist_skill_sdk::date::Date;
use govassist_skill_sdk::validate::{CreditCode, Phone, ResidentId};
use govassist_skill_sdk::Lang;
use serde::Serialize;

/// Longest accepted name of a person or an organization, in characters.
const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantType {
    /// 自然人: applies with a resident ID number.
    Person,
    /// 法人或其他组织: applies with a unified social credit code, through a
    /// contact person.
    Organization,
}

impl ApplicantType {
    /// The words a user or the conversation layer may use.
    pub fn parse(s: &str) -> Option<ApplicantType> {
        let s = s.trim().to_ascii_lowercase();
        const PERSON: &[&str] = &[
            "person",
            "individual",
            "natural_person",
            "个人",
            "個人",
            "自然人",
        ];
        const ORG: &[&str] = &[
            "organization",
            "organisation",
            "enterprise",
            "company",
            "legal_person",
            "企业",
            "企業",
            "法人",
            "单位",
            "單位",
            "组织",
            "組織",
            "公司",
        ];
        if PERSON.contains(&s.as_str()) {
            Some(ApplicantType::Person)
        } else if ORG.contains(&s.as_str()) {
            Some(ApplicantType::Organization)
        } else {
            None
        }
    }

    /// The details the form needs, in form order.
    pub fn fields(self) -> &'static [Field] {
        match self {
            ApplicantType::Person => &[Field::Name, Field::IdNumber, Field::Phone],
            ApplicantType::Organization => &[
                Field::EnterpriseName,
                Field::CreditCode,
                Field::Name,
                Field::Phone,
            ],
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            ApplicantType::Person => lang.pick("自然人", "自然人", "natural person"),
            ApplicantType::Organization => lang.pick(
                "法人或其他组织",
                "法人或其他組織",
                "legal person or other organization",
            ),
        }
    }
}

/// Which applicant types an item's 服务对象 admits. Anything other than 自然人
/// (企业法人, 事业法人, 社会组织法人, 非法人企业, 行政机关, 其他组织) is an
/// organization with a credit code. An item that does not say admits both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience {
    pub person: bool,
    pub organization: bool,
}

impl Audience {
    pub fn of(audience: &[String]) -> Audience {
        if audience.is_empty() {
            return Audience {
                person: true,
                organization: true,
            };
        }
        Audience {
            person: audience.iter().any(|a| a == "自然人"),
            organization: audience.iter().any(|a| a != "自然人"),
        }
    }

    pub fn admits(self, t: ApplicantType) -> bool {
        match t {
            ApplicantType::Person => self.person,
            ApplicantType::Organization => self.organization,
        }
    }
}

/// One detail of the applicant that the skill takes as input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    IdNumber,
    Phone,
    EnterpriseName,
    CreditCode,
}

impl Field {
    /// The input key, also the key of the form field.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::IdNumber => "id_number",
            Field::Phone => "phone",
            Field::EnterpriseName => "enterprise_name",
            Field::CreditCode => "credit_code",
        }
    }

    /// Whether the host may pass a default for it (`personal_fields` in
    /// `skill.toml`): a person's own details, never an organization's.
    pub fn is_personal(self) -> bool {
        matches!(self, Field::Name | Field::IdNumber | Field::Phone)
    }

    pub fn label(self, applicant: ApplicantType, lang: Lang) -> &'static str {
        match (self, applicant) {
            (Field::Name, ApplicantType::Person) => {
                lang.pick("申请人姓名", "申請人姓名", "applicant's name")
            }
            (Field::Name, ApplicantType::Organization) => {
                lang.pick("经办人姓名", "經辦人姓名", "contact person's name")
            }
            (Field::IdNumber, _) => lang.pick("公民身份号码", "公民身份號碼", "resident ID number"),
            (Field::Phone, _) => lang.pick("联系电话", "聯絡電話", "phone number"),
            (Field::EnterpriseName, _) => lang.pick("单位名称", "單位名稱", "organization name"),
            (Field::CreditCode, _) => lang.pick(
                "统一社会信用代码",
                "統一社會信用代碼",
                "unified social credit code",
            ),
        }
    }
}

/// A checked value and what can be read off it.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The normalized value (upper-case `X`, phone without spaces, …).
    pub value: String,
    /// Details the value implies, e.g. birth date and sex from an ID number:
    /// `(key, label, value)`.
    pub derived: Vec<(&'static str, &'static str, String)>,
}

/// Check one detail; the error says what is wrong, in `lang`.
pub fn check(field: Field, raw: &str, today: Date, lang: Lang) -> Result<Checked, &'static str> {
    let plain = |value: String| Checked {
        value,
        derived: Vec::new(),
    };
    match field {
        Field::Name | Field::EnterpriseName => {
            let name = raw.trim();
            if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
                Err(lang.pick(
                    "名称过长或含有无效字符",
                    "名稱過長或含有無效字元",
                    "the name is too long or contains invalid characters",
                ))
            } else {
                Ok(plain(name.to_owned()))
            }
        }
        Field::IdNumber => {
            let id = ResidentId::parse_as_of(raw, today).map_err(|e| e.message(lang))?;
            Ok(Checked {
                value: id.as_str().to_owned(),
                derived: vec![
                    (
                        "birth_date",
                        lang.pick("出生日期", "出生日期", "date of birth"),
                        id.birth_date().to_string(),
                    ),
                    (
                        "sex",
                        lang.pick("性别", "性別", "sex"),
                        id.sex().label(lang).to_owned(),
                    ),
                ],
            })
        }
        Field::Phone => Phone::parse(raw)
            .map(|p| plain(p.as_str().to_owned()))
            .map_err(|e| e.message(lang)),
        Field::CreditCode => CreditCode::parse(raw)
            .map(|c| plain(c.as_str().to_owned()))
            .map_err(|e| e.message(lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_decides_the_applicant_types() {
        let of = |a: &[&str]| Audience::of(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        for (audience, person, organization) in [
            (&["自然人"][..], true, false),
            (&["自然人", "企业法人"][..], true, true),
            (&["企业法人", "事业法人"][..], false, true),
            (&["行政机关"][..], false, true),
            (&[][..], true, true),
        ] {
            assert_eq!(
                of(audience),
                Audience {
                    person,
                    organization
                },
                "{audience:?}"
            );
        }
    }

    #[test]
    fn applicant_type_words() {
        for (word, expected) in [
            ("person", Some(ApplicantType::Person)),
            (" 个人 ", Some(ApplicantType::Person)),
            ("Enterprise", Some(ApplicantType::Organization)),
            ("单位", Some(ApplicantType::Organization)),
            ("法人", Some(ApplicantType::Organization)),
            ("robot", None),
        ] {
            assert_eq!(ApplicantType::parse(word), expected, "{word}");
        }
    }

    #[test]
    fn an_id_number_yields_birth_date_and_sex() {
        let today = Date::new(2026, 1, 5).unwrap();
        let c = check(Field::IdNumber, "11010519491231002x", today, Lang::ZhHans).unwrap();
        assert_eq!(c.value, "11010519491231002X");
        assert_eq!(
            c.derived,
            [
                ("birth_date", "出生日期", "1949-12-31".to_owned()),
                ("sex", "性别", "女".to_owned())
            ]
        );
        // Born after today (the check digit is right): not a real ID number yet.
        let born_2027 = "110105202701010016";
        assert!(ResidentId::parse(born_2027).is_ok());
        assert_eq!(
            check(Field::IdNumber, born_2027, today, Lang::En),
            Err("the birth date in the ID number (digits 7-14) is not a valid date")
        );
    }
}
