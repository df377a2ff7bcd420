//! The policy catalogue (`policies.json`, embedded at build time) and the
//! vocabulary its rules use: industries, districts and qualifications, each
//! with a label per language and the aliases a user might type.

use govassist_skill_sdk::{serde_json, Lang};
use serde::Deserialize;

/// The bundled sample catalogue. Sample data, not real policy: see README.md.
const POLICIES_JSON: &str = include_str!("../policies.json");

#[derive(Debug, Deserialize)]
pub struct Catalog {
    pub industries: Vec<Term>,
    pub districts: Vec<Term>,
    pub qualifications: Vec<Term>,
    pub policies: Vec<Policy>,
}

/// Text in the three languages the assistant speaks.
#[derive(Debug, Deserialize)]
pub struct L10n {
    #[serde(rename = "zh-Hans")]
    pub zh_hans: String,
    #[serde(rename = "zh-Hant")]
    pub zh_hant: String,
    pub en: String,
}

impl L10n {
    pub fn get(&self, lang: Lang) -> &str {
        lang.pick(&self.zh_hans, &self.zh_hant, &self.en)
    }
}

/// One entry of a vocabulary: a stable id, its labels, and other spellings.
#[derive(Debug, Deserialize)]
pub struct Term {
    pub id: String,
    pub label: L10n,
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl Term {
    fn matches(&self, normalized: &str) -> bool {
        [
            self.id.as_str(),
            &self.label.zh_hans,
            &self.label.zh_hant,
            &self.label.en,
        ]
        .into_iter()
        .chain(self.aliases.iter().map(String::as_str))
        .any(|s| normalize(s) == normalized)
    }
}

#[derive(Debug, Deserialize)]
pub struct Policy {
    pub id: String,
    pub name: L10n,
    pub benefit: L10n,
    pub rules: Rules,
}

/// Conditions on enterprise tags; an absent rule does not constrain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub industries: Option<Vec<String>>,
    pub sizes: Option<Vec<Size>>,
    pub districts: Option<Vec<String>>,
    pub min_years: Option<i32>,
    pub max_years: Option<i32>,
    pub min_revenue_wan: Option<f64>,
    pub max_revenue_wan: Option<f64>,
    pub min_headcount: Option<u32>,
    pub max_headcount: Option<u32>,
    /// The enterprise must hold every one of these.
    #[serde(default)]
    pub qualifications_all: Vec<String>,
    /// The enterprise must hold none of these (e.g. "first time" awards).
    #[serde(default)]
    pub qualifications_none: Vec<String>,
}

/// Enterprise size class (企业划型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Micro,
    Small,
    Medium,
    Large,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::Micro, Size::Small, Size::Medium, Size::Large];

    /// Accepts `micro`, `微型`, `微型企业`, `微`, … (not `小微`, which is ambiguous).
    pub fn parse(s: &str) -> Option<Size> {
        let s = normalize(s);
        let s = s
            .trim_end_matches("企业")
            .trim_end_matches("企業")
            .trim_end_matches(" enterprise");
        Size::ALL.into_iter().find(|size| {
            let (zh, en) = size.names();
            s == en || s == zh || s == zh.trim_end_matches('型')
        })
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            Size::Micro => ("微型", "micro"),
            Size::Small => ("小型", "small"),
            Size::Medium => ("中型", "medium"),
            Size::Large => ("大型", "large"),
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Size::Micro => lang.pick("微型企业", "微型企業", "micro"),
            Size::Small => lang.pick("小型企业", "小型企業", "small"),
            Size::Medium => lang.pick("中型企业", "中型企業", "medium-sized"),
            Size::Large => lang.pick("大型企业", "大型企業", "large"),
        }
    }
}

impl Catalog {
    /// Parse the embedded catalogue. It is checked by the unit tests, so a
    /// failure here means the crate was built from a broken `policies.json`.
    pub fn bundled() -> Result<Catalog, String> {
        let catalog: Catalog = serde_json::from_str(POLICIES_JSON)
            .map_err(|e| format!("policies.json is invalid: {e}"))?;
        catalog.check()?;
        Ok(catalog)
    }

    /// Every id a rule names must exist in its vocabulary.
    fn check(&self) -> Result<(), String> {
        for p in &self.policies {
            let r = &p.rules;
            let refs = [
                (
                    &self.industries,
                    r.industries.iter().flatten().collect::<Vec<_>>(),
                ),
                (&self.districts, r.districts.iter().flatten().collect()),
                (
                    &self.qualifications,
                    r.qualifications_all
                        .iter()
                        .chain(&r.qualifications_none)
                        .collect(),
                ),
            ];
            for (vocab, ids) in refs {
                if let Some(id) = ids
                    .into_iter()
                    .find(|id| !vocab.iter().any(|t| &t.id == *id))
                {
                    return Err(format!("policy {} names unknown term `{id}`", p.id));
                }
            }
        }
        Ok(())
    }

    pub fn industry(&self, input: &str) -> Option<&Term> {
        find(&self.industries, input)
    }

    pub fn district(&self, input: &str) -> Option<&Term> {
        find(&self.districts, input)
    }

    pub fn qualification(&self, input: &str) -> Option<&Term> {
        find(&self.qualifications, input)
    }

    pub fn qualification_by_id(&self, id: &str) -> Option<&Term> {
        self.qualifications.iter().find(|t| t.id == id)
    }

    /// Labels of the terms with these ids, joined for display.
    pub fn labels(vocab: &[Term], ids: &[String], lang: Lang) -> String {
        let sep = lang.pick("、", "、", ", ");
        ids.iter()
            .map(|id| {
                vocab
                    .iter()
                    .find(|t| &t.id == id)
                    .map_or(id.as_str(), |t| t.label.get(lang))
            })
            .collect::<Vec<_>>()
            .join(sep)
    }
}

fn find<'a>(vocab: &'a [Term], input: &str) -> Option<&'a Term> {
    let input = normalize(input);
    vocab.iter().find(|t| t.matches(&input))
}

/// Case- and space-insensitive comparison key.
fn normalize(s: &str) -> String {
    s.trim().to_lowercase()
}
