//! Judging one enterprise against every policy, one condition at a time, so
//! that each verdict can say exactly which conditions held and which did not.

use govassist_skill_sdk::Lang;
use serde::Serialize;

use crate::catalog::{Catalog, Policy, Size};

/// The enterprise's tags after parsing and resolving them against the
/// catalogue's vocabulary. `None` means the user has not said.
#[derive(Debug, Default)]
pub struct Enterprise {
    /// The catalogue's industry id, or the user's own words when unknown.
    pub industry: Option<String>,
    pub size: Option<Size>,
    pub district: Option<String>,
    pub years: Option<i32>,
    pub revenue_wan: Option<f64>,
    pub headcount: Option<u32>,
    /// Catalogue qualification ids.
    pub qualifications: Option<Vec<String>>,
}

/// An input field a condition needs; the names are the input's JSON keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Industry,
    Size,
    District,
    FoundedYear,
    RevenueWan,
    Headcount,
    Qualifications,
}

impl Field {
    pub fn key(self) -> &'static str {
        match self {
            Field::Industry => "industry",
            Field::Size => "size",
            Field::District => "district",
            Field::FoundedYear => "founded_year",
            Field::RevenueWan => "revenue_wan",
            Field::Headcount => "headcount",
            Field::Qualifications => "qualifications",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Field::Industry => lang.pick("所属行业", "所屬行業", "industry"),
            Field::Size => lang.pick(
                "企业规模（微型/小型/中型/大型）",
                "企業規模（微型/小型/中型/大型）",
                "size (micro/small/medium/large)",
            ),
            Field::District => lang.pick("注册所在区", "註冊所在區", "district of registration"),
            Field::FoundedYear => lang.pick("成立年份", "成立年份", "year founded"),
            Field::RevenueWan => lang.pick(
                "上年度营业收入（万元）",
                "上年度營業收入（萬元）",
                "last year's revenue (10,000 CNY)",
            ),
            Field::Headcount => lang.pick("从业人数", "從業人數", "headcount"),
            Field::Qualifications => lang.pick(
                "已获资质（如高新技术企业、专精特新）",
                "已獲資質（如高新技術企業、專精特新）",
                "qualifications held (e.g. high-tech enterprise)",
            ),
        }
    }
}

/// One condition of one policy, judged.
#[derive(Debug, PartialEq)]
enum Check {
    /// Holds; the reason, for the user.
    Met(String),
    /// Does not hold; what is lacking, for the user.
    Unmet(String),
    /// Cannot be judged without this field.
    Unknown(Field),
}

/// A policy's verdict.
#[derive(Debug)]
pub struct Verdict<'c> {
    pub policy: &'c Policy,
    met: Vec<String>,
    unmet: Vec<String>,
    /// The district condition failed: the enterprise cannot reasonably close
    /// that gap, so the policy is never a near miss.
    wrong_district: bool,
    pub unknown: Vec<Field>,
}

impl Verdict<'_> {
    pub fn is_eligible(&self) -> bool {
        self.unmet.is_empty() && self.unknown.is_empty()
    }

    /// Eligible or definitely not: nothing more from the user changes it.
    pub fn is_decided(&self) -> bool {
        !self.unmet.is_empty() || self.unknown.is_empty()
    }

    /// Not eligible, but at most `max_gaps` conditions away, counting
    /// unknowns as gaps.
    pub fn is_near_miss(&self, max_gaps: usize) -> bool {
        !self.is_eligible()
            && !self.wrong_district
            && self.unmet.len() + self.unknown.len() <= max_gaps
    }

    pub fn reasons(&self) -> &[String] {
        &self.met
    }

    /// What is lacking, unmet conditions first, then the fields to provide.
    pub fn lacking(&self, lang: Lang) -> Vec<String> {
        let provide = lang.pick("需提供：", "需提供：", "please provide: ");
        self.unmet
            .iter()
            .cloned()
            .chain(
                self.unknown
                    .iter()
                    .map(|f| format!("{provide}{}", f.label(lang))),
            )
            .collect()
    }
}

/// Judge `enterprise` against `policy`.
pub fn judge<'c>(catalog: &Catalog, policy: &'c Policy, e: &Enterprise, lang: Lang) -> Verdict<'c> {
    let r = &policy.rules;
    let t = |zh_hans: String, zh_hant: String, en: String| {
        lang.pick(&zh_hans, &zh_hant, &en).to_owned()
    };
    let mut checks: Vec<Check> = Vec::new();
    let mut wrong_district = false;

    if let Some(ids) = &r.districts {
        let want = Catalog::labels(&catalog.districts, ids, lang);
        checks.push(match &e.district {
            None => Check::Unknown(Field::District),
            Some(d) if ids.contains(d) => {
                let have = Catalog::labels(&catalog.districts, std::slice::from_ref(d), lang);
                Check::Met(t(
                    format!("注册在{have}"),
                    format!("註冊在{have}"),
                    format!("registered in {have}"),
                ))
            }
            Some(_) => {
                wrong_district = true;
                Check::Unmet(t(
                    format!("须注册在{want}"),
                    format!("須註冊在{want}"),
                    format!("must be registered in {want}"),
                ))
            }
        });
    }

    if let Some(ids) = &r.industries {
        let want = Catalog::labels(&catalog.industries, ids, lang);
        checks.push(match &e.industry {
            None => Check::Unknown(Field::Industry),
            Some(i) if ids.contains(i) => {
                let have = Catalog::labels(&catalog.industries, std::slice::from_ref(i), lang);
                Check::Met(t(
                    format!("所属行业为{have}"),
                    format!("所屬行業為{have}"),
                    format!("industry is {have}"),
                ))
            }
            Some(_) => Check::Unmet(t(
                format!("行业须为{want}"),
                format!("行業須為{want}"),
                format!("industry must be {want}"),
            )),
        });
    }

    if let Some(sizes) = &r.sizes {
        let sep = lang.pick("或", "或", " or ");
        let want = sizes
            .iter()
            .map(|s| s.label(lang))
            .collect::<Vec<_>>()
            .join(sep);
        checks.push(match e.size {
            None => Check::Unknown(Field::Size),
            Some(s) if sizes.contains(&s) => {
                let have = s.label(lang);
                Check::Met(t(
                    format!("企业规模为{have}"),
                    format!("企業規模為{have}"),
                    format!("the enterprise is {have}"),
                ))
            }
            Some(_) => Check::Unmet(t(
                format!("企业规模须为{want}"),
                format!("企業規模須為{want}"),
                format!("the enterprise must be {want}"),
            )),
        });
    }

    if let Some(min) = r.min_years {
        checks.push(match e.years {
            None => Check::Unknown(Field::FoundedYear),
            Some(y) if y >= min => Check::Met(t(
                format!("成立{y}年，不少于{min}年"),
                format!("成立{y}年，不少於{min}年"),
                format!("founded {y} years ago, at least {min}"),
            )),
            Some(y) => Check::Unmet(t(
                format!("须成立满{min}年（现{y}年）"),
                format!("須成立滿{min}年（現{y}年）"),
                format!("must have been founded at least {min} years ago (now {y})"),
            )),
        });
    }
    if let Some(max) = r.max_years {
        checks.push(match e.years {
            None => Check::Unknown(Field::FoundedYear),
            Some(y) if y <= max => Check::Met(t(
                format!("成立{y}年，不超过{max}年"),
                format!("成立{y}年，不超過{max}年"),
                format!("founded {y} years ago, at most {max}"),
            )),
            Some(y) => Check::Unmet(t(
                format!("须成立不超过{max}年（现{y}年）"),
                format!("須成立不超過{max}年（現{y}年）"),
                format!("must have been founded at most {max} years ago (now {y})"),
            )),
        });
    }

    if let Some(min) = r.min_revenue_wan {
        checks.push(match e.revenue_wan {
            None => Check::Unknown(Field::RevenueWan),
            Some(v) if v >= min => Check::Met(t(
                format!("年营业收入{v}万元，不低于{min}万元"),
                format!("年營業收入{v}萬元，不低於{min}萬元"),
                format!("annual revenue {v} wan CNY, at least {min} wan"),
            )),
            Some(v) => Check::Unmet(t(
                format!("年营业收入须不低于{min}万元（现{v}万元）"),
                format!("年營業收入須不低於{min}萬元（現{v}萬元）"),
                format!("annual revenue must be at least {min} wan CNY (now {v} wan)"),
            )),
        });
    }
    if let Some(max) = r.max_revenue_wan {
        checks.push(match e.revenue_wan {
            None => Check::Unknown(Field::RevenueWan),
            Some(v) if v <= max => Check::Met(t(
                format!("年营业收入{v}万元，不超过{max}万元"),
                format!("年營業收入{v}萬元，不超過{max}萬元"),
                format!("annual revenue {v} wan CNY, at most {max} wan"),
            )),
            Some(v) => Check::Unmet(t(
                format!("年营业收入须不超过{max}万元（现{v}万元）"),
                format!("年營業收入須不超過{max}萬元（現{v}萬元）"),
                format!("annual revenue must be at most {max} wan CNY (now {v} wan)"),
            )),
        });
    }

    if let Some(min) = r.min_headcount {
        checks.push(match e.headcount {
            None => Check::Unknown(Field::Headcount),
            Some(h) if h >= min => Check::Met(t(
                format!("从业人数{h}人，不少于{min}人"),
                format!("從業人數{h}人，不少於{min}人"),
                format!("{h} employees, at least {min}"),
            )),
            Some(h) => Check::Unmet(t(
                format!("从业人数须不少于{min}人（现{h}人）"),
                format!("從業人數須不少於{min}人（現{h}人）"),
                format!("needs at least {min} employees (now {h})"),
            )),
        });
    }
    if let Some(max) = r.max_headcount {
        checks.push(match e.headcount {
            None => Check::Unknown(Field::Headcount),
            Some(h) if h <= max => Check::Met(t(
                format!("从业人数{h}人，不超过{max}人"),
                format!("從業人數{h}人，不超過{max}人"),
                format!("{h} employees, at most {max}"),
            )),
            Some(h) => Check::Unmet(t(
                format!("从业人数须不超过{max}人（现{h}人）"),
                format!("從業人數須不超過{max}人（現{h}人）"),
                format!("at most {max} employees (now {h})"),
            )),
        });
    }

    for q in &r.qualifications_all {
        let label = catalog
            .qualification_by_id(q)
            .map_or(q.as_str(), |t| t.label.get(lang));
        checks.push(match &e.qualifications {
            None => Check::Unknown(Field::Qualifications),
            Some(held) if held.contains(q) => Check::Met(t(
                format!("已认定为{label}"),
                format!("已認定為{label}"),
                format!("certified as {label}"),
            )),
            Some(_) => Check::Unmet(t(
                format!("须认定为{label}"),
                format!("須認定為{label}"),
                format!("must be certified as {label}"),
            )),
        });
    }
    for q in &r.qualifications_none {
        let label = catalog
            .qualification_by_id(q)
            .map_or(q.as_str(), |t| t.label.get(lang));
        checks.push(match &e.qualifications {
            None => Check::Unknown(Field::Qualifications),
            Some(held) if !held.contains(q) => Check::Met(t(
                format!("此前未纳入{label}"),
                format!("此前未納入{label}"),
                format!("not yet listed as {label}"),
            )),
            Some(_) => Check::Unmet(t(
                format!("仅限首次纳入{label}"),
                format!("僅限首次納入{label}"),
                format!("only for enterprises not yet listed as {label}"),
            )),
        });
    }

    let mut verdict = Verdict {
        policy,
        met: Vec::new(),
        unmet: Vec::new(),
        wrong_district,
        unknown: Vec::new(),
    };
    for check in checks {
        match check {
            Check::Met(s) => verdict.met.push(s),
            Check::Unmet(s) => verdict.unmet.push(s),
            Check::Unknown(f) if !verdict.unknown.contains(&f) => verdict.unknown.push(f),
            Check::Unknown(_) => {}
        }
    }
    verdict
}

/// The skill's `done` result.
#[derive(Debug, Serialize, PartialEq)]
pub struct Matches {
    pub eligible: Vec<Eligible>,
    pub near_misses: Vec<NearMiss>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Eligible {
    pub id: String,
    pub name: String,
    pub benefit: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct NearMiss {
    pub id: String,
    pub name: String,
    pub lacking: Vec<String>,
}

/// How many gaps a policy may have and still be shown as a near miss.
const NEAR_MISS_MAX_GAPS: usize = 2;

/// Either the matches, or (when no policy can be decided yet) the fields to
/// ask for, in a stable order.
pub enum Judgement {
    Matches(Matches),
    NeedFields(Vec<Field>),
}

pub fn judge_all(catalog: &Catalog, e: &Enterprise, lang: Lang) -> Judgement {
    let verdicts: Vec<Verdict> = catalog
        .policies
        .iter()
        .map(|p| judge(catalog, p, e, lang))
        .collect();
    if !verdicts.iter().any(Verdict::is_decided) {
        let mut fields: Vec<Field> = verdicts
            .iter()
            .flat_map(|v| v.unknown.iter().copied())
            .collect();
        fields.sort();
        fields.dedup();
        return Judgement::NeedFields(fields);
    }
    let mut matches = Matches {
        eligible: Vec::new(),
        near_misses: Vec::new(),
    };
    for v in &verdicts {
        let (id, name) = (v.policy.id.clone(), v.policy.name.get(lang).to_owned());
        if v.is_eligible() {
            let benefit = v.policy.benefit.get(lang).to_owned();
            matches.eligible.push(Eligible {
                id,
                name,
                benefit,
                reasons: v.reasons().to_vec(),
            });
        } else if v.is_near_miss(NEAR_MISS_MAX_GAPS) {
            matches.near_misses.push(NearMiss {
                id,
                name,
                lacking: v.lacking(lang),
            });
        }
    }
    Judgement::Matches(matches)
}
