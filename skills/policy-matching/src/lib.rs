//! 政策计算器 (policy matching): which of the district's enterprise-support
//! policies an enterprise qualifies for, why, and which it narrowly misses.
//!
//! Policies are data (`policies.json`); this crate only judges them. Years
//! since founding use the host's clock (capability `clock`), so a skill never
//! trusts a guest-side time source.

mod calendar;
mod catalog;
mod matching;

use govassist_skill_sdk::serde_json::json;
use govassist_skill_sdk::{export_skill, Context, Info, Lang, Level, Outcome, Skill};
use serde::Deserialize;

use catalog::{Catalog, Size};
use matching::{Enterprise, Judgement};

/// The input object; every field is optional, and the skill asks for what it
/// needs.
#[derive(Debug, Default, Deserialize)]
pub struct Input {
    pub industry: Option<String>,
    pub size: Option<String>,
    pub district: Option<String>,
    pub founded_year: Option<i32>,
    pub revenue_wan: Option<f64>,
    pub headcount: Option<u32>,
    pub qualifications: Option<Vec<String>>,
}

#[derive(Default)]
pub struct PolicyMatching;

impl Skill for PolicyMatching {
    type Input = Input;

    fn describe(&self) -> Info {
        Info::new(
            "policy-matching",
            env!("CARGO_PKG_VERSION"),
            "政策计算器：按企业标签匹配可申报的扶持政策，并说明符合与欠缺的条件",
        )
        .with_examples([
            "我们公司能申请哪些补贴？",
            "高新技术企业有什么奖励",
            "政策计算器",
            "Which subsidies can my company apply for?",
        ])
        .with_input_schema(input_schema())
    }

    fn invoke(&self, input: Input, cx: &Context) -> Outcome {
        let lang = cx.lang();
        let catalog = match Catalog::bundled() {
            Ok(c) => c,
            Err(e) => return Outcome::failed(e),
        };
        let enterprise = match resolve(&catalog, input, cx) {
            Ok(e) => e,
            Err(msg) => return Outcome::failed(msg),
        };
        match matching::judge_all(&catalog, &enterprise, lang) {
            Judgement::Matches(m) => {
                cx.log(
                    Level::Debug,
                    &format!(
                        "{} eligible, {} near misses",
                        m.eligible.len(),
                        m.near_misses.len()
                    ),
                );
                Outcome::done(m)
            }
            Judgement::NeedFields(fields) => {
                let sep = lang.pick("、", "、", ", ");
                let labels = fields
                    .iter()
                    .map(|f| f.label(lang))
                    .collect::<Vec<_>>()
                    .join(sep);
                let prompt = match lang {
                    Lang::ZhHans => format!("为匹配可申报的政策，请提供企业的以下信息：{labels}。"),
                    Lang::ZhHant => format!("為匹配可申報的政策，請提供企業的以下信息：{labels}。"),
                    Lang::En => {
                        format!("To match policies, please tell me your enterprise's {labels}.")
                    }
                };
                Outcome::need_input(fields.iter().map(|f| f.key()), prompt)
            }
        }
    }
}

export_skill!(PolicyMatching);

/// Validate the input and resolve free text against the catalogue.
fn resolve(catalog: &Catalog, input: Input, cx: &Context) -> Result<Enterprise, String> {
    let lang = cx.lang();
    let size = match input
        .size
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => Some(Size::parse(s).ok_or_else(|| {
            lang.pick(
                "企业规模应为：微型、小型、中型或大型",
                "企業規模應為：微型、小型、中型或大型",
                "size must be one of: micro, small, medium, large",
            )
            .to_owned()
        })?),
    };
    let years = match input.founded_year {
        None => None,
        Some(founded) => {
            let this_year = calendar::year_of_unix_ms(cx.now_ms());
            if !(1900..=this_year).contains(&founded) {
                return Err(match lang {
                    Lang::ZhHans => format!("成立年份应在1900年至{this_year}年之间"),
                    Lang::ZhHant => format!("成立年份應在1900年至{this_year}年之間"),
                    Lang::En => format!("founded_year must be between 1900 and {this_year}"),
                });
            }
            Some(this_year - founded)
        }
    };
    if input
        .revenue_wan
        .is_some_and(|r| !(r.is_finite() && r >= 0.0))
    {
        return Err(lang
            .pick(
                "营业收入不能为负数",
                "營業收入不能為負數",
                "revenue_wan must not be negative",
            )
            .to_owned());
    }
    let nonempty = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(Enterprise {
        // Unknown words stay as typed: they match no policy's list.
        industry: nonempty(input.industry)
            .map(|i| catalog.industry(&i).map_or(i, |t| t.id.clone())),
        district: nonempty(input.district)
            .map(|d| catalog.district(&d).map_or(d, |t| t.id.clone())),
        size,
        years,
        revenue_wan: input.revenue_wan,
        headcount: input.headcount,
        qualifications: input.qualifications.map(|qs| {
            qs.iter()
                .filter_map(|q| catalog.qualification(q))
                .map(|t| t.id.clone())
                .collect()
        }),
    })
}

fn input_schema() -> govassist_skill_sdk::serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "industry": { "type": "string", "description": "所属行业，如 制造业、软件和信息技术服务业、生物医药" },
            "size": { "type": "string", "enum": ["micro", "small", "medium", "large"], "description": "企业规模. micro: 微型/微型企业; small: 小型/小型企业/小企业; medium: 中型/中型企业; large: 大型/大型企业" },
            "district": { "type": "string", "description": "注册所在区，如 福田区" },
            "founded_year": { "type": "integer", "minimum": 1900, "description": "成立年份" },
            "revenue_wan": { "type": "number", "minimum": 0, "description": "上年度营业收入（万元）" },
            "headcount": { "type": "integer", "minimum": 0, "description": "从业人数" },
            "qualifications": { "type": "array", "items": { "type": "string" }, "description": "已获资质，如 高新技术企业、专精特新" }
        }
    })
}

#[cfg(test)]
mod tests;
