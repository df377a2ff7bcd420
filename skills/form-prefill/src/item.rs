//! Finding a service item in the knowledge base and reading its fields.
//!
//! The host offers only `kb-search(query, k)`, and the knowledge base indexes
//! an item's name, keywords and passage but not its id (事项编码). So a search
//! *for an id* finds nothing; the item is found by searching for its *name*
//! and keeping the hit whose id equals the requested id exactly (several
//! items share a name across province and city levels, so the name alone is
//! not enough). The fields come from the hit's passage, which the knowledge
//! base renders as one `标签：值` line per field (`ServiceItemFields::render`
//! in `knowledge-base/src/document.rs`).

use govassist_skill_sdk::{Context, KbHit, Lang, Outcome};

/// Hits asked for when looking an item up by name: the most the host
/// returns. Items sharing a name all rank high (the title is boosted), so
/// the one with the right id is among them.
const SEARCH_K: u32 = 20;

/// A service item as far as pre-filling needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceItem {
    pub id: String,
    /// 事项名称
    pub name: String,
    /// 实施主体
    pub agency: Option<String>,
    /// 申请材料, one entry per document.
    pub materials: Vec<String>,
    /// 办理地点
    pub location: Option<String>,
    /// 法定办结时限
    pub legal_time_limit: Option<String>,
    /// 承诺办结时限
    pub promised_time_limit: Option<String>,
    /// 办理平台
    pub platform: Option<String>,
    /// 咨询电话
    pub phone: Option<String>,
    /// 网上预约; `None` when the passage does not say.
    pub online_booking: Option<bool>,
    /// 服务对象, e.g. `["自然人", "企业法人"]`.
    pub audience: Vec<String>,
}

/// The labels the knowledge base writes, in both scripts (a district may
/// import Traditional-script guides), mapped to the Simplified one.
const LABELS: &[(&str, &str)] = &[
    ("事项名称", "事项名称"),
    ("事項名稱", "事项名称"),
    ("实施主体", "实施主体"),
    ("實施主體", "实施主体"),
    ("受理条件", "受理条件"),
    ("受理條件", "受理条件"),
    ("申请材料", "申请材料"),
    ("申請材料", "申请材料"),
    ("办理地点", "办理地点"),
    ("辦理地點", "办理地点"),
    ("法定办结时限", "法定办结时限"),
    ("法定辦結時限", "法定办结时限"),
    ("承诺办结时限", "承诺办结时限"),
    ("承諾辦結時限", "承诺办结时限"),
    ("办理平台", "办理平台"),
    ("辦理平台", "办理平台"),
    ("咨询电话", "咨询电话"),
    ("諮詢電話", "咨询电话"),
    ("网上预约", "网上预约"),
    ("網上預約", "网上预约"),
    ("服务对象", "服务对象"),
    ("服務對象", "服务对象"),
];

/// Split a passage into `(label, value)` pairs. A line that does not start
/// with a known label continues the previous field (a 受理条件 may span
/// lines and contain `：` itself); text before the first label is ignored.
pub fn labelled_fields(passage: &str) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    for line in passage.lines() {
        let known = line.split_once(['：', ':']).and_then(|(label, value)| {
            let label = label.trim();
            LABELS
                .iter()
                .find(|(written, _)| *written == label)
                .map(|&(_, canonical)| (canonical, value))
        });
        match (known, fields.last_mut()) {
            (Some((label, value)), _) => fields.push((label, value.trim().to_owned())),
            (None, Some((_, value))) => {
                value.push('\n');
                value.push_str(line.trim());
            }
            (None, None) => {}
        }
    }
    fields
}

impl ServiceItem {
    /// Read an item from a knowledge-base hit; `None` when the hit is not a
    /// service item (a FAQ or staff passage has no `事项名称` line).
    pub fn from_hit(hit: &KbHit) -> Option<ServiceItem> {
        let fields = labelled_fields(&hit.passage);
        let get = |label: &str| {
            fields
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let name = get("事项名称")?;
        Some(ServiceItem {
            id: hit.id.clone(),
            name,
            agency: get("实施主体"),
            materials: split_list(get("申请材料").as_deref(), &['；', ';']),
            location: get("办理地点"),
            legal_time_limit: get("法定办结时限"),
            promised_time_limit: get("承诺办结时限"),
            platform: get("办理平台"),
            phone: get("咨询电话"),
            online_booking: get("网上预约").and_then(|v| match v.as_str() {
                "是" => Some(true),
                "否" => Some(false),
                _ => None,
            }),
            audience: split_list(get("服务对象").as_deref(), &['、', '，', ',']),
        })
    }
}

impl ServiceItem {
    /// Whether there is a counter to go to: online-only items give
    /// 无线下办理窗口 ("no offline counter") as their place.
    pub fn has_office(&self) -> bool {
        self.location
            .as_deref()
            .is_some_and(|l| !l.contains("无线下"))
    }
}

fn split_list(value: Option<&str>, separators: &[char]) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(separators)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Find the item `id` (when given) or the one item named `name`. The error
/// is the outcome to return: ask for the name, ask which of several items,
/// or say that there is no such item.
pub fn resolve(cx: &Context, id: Option<&str>, name: Option<&str>) -> Result<ServiceItem, Outcome> {
    let lang = cx.lang();
    match (id, name) {
        (Some(id), Some(name)) => by_id(cx, id, name)
            .or_else(|| by_id(cx, id, id))
            .ok_or_else(|| Outcome::failed(not_found(lang, id))),
        // Tried in case the knowledge base learns to match ids; today it
        // cannot, so the name is needed.
        (Some(id), None) => by_id(cx, id, id).ok_or_else(|| {
            Outcome::need_input(
                ["item_name"],
                match lang {
                    Lang::ZhHans => {
                        format!("请告诉我事项编码 {id} 对应的事项名称，以便在知识库中查找。")
                    }
                    Lang::ZhHant => {
                        format!("請告訴我事項編碼 {id} 對應的事項名稱，以便在知識庫中查找。")
                    }
                    Lang::En => format!(
                        "Please tell me the name of service item {id} so that I can look it up."
                    ),
                },
            )
        }),
        (None, Some(name)) => by_name(cx, name),
        (None, None) => Err(Outcome::need_input(
            ["item_name"],
            lang.pick(
                "请问您要办理哪个事项？",
                "請問您要辦理哪個事項？",
                "Which service would you like to apply for?",
            ),
        )),
    }
}

/// Search for `query` and keep the service item whose id is exactly `id`.
fn by_id(cx: &Context, id: &str, query: &str) -> Option<ServiceItem> {
    cx.kb_search(query, SEARCH_K)
        .iter()
        .filter(|hit| hit.id == id)
        .find_map(ServiceItem::from_hit)
}

/// The one service item named exactly `name`.
fn by_name(cx: &Context, name: &str) -> Result<ServiceItem, Outcome> {
    let lang = cx.lang();
    let mut same_name: Vec<ServiceItem> = cx
        .kb_search(name, SEARCH_K)
        .iter()
        .filter_map(ServiceItem::from_hit)
        .filter(|item| item.name == name)
        .collect();
    match same_name.len() {
        0 => Err(Outcome::failed(match lang {
            Lang::ZhHans => format!("知识库中没有名为“{name}”的事项，请核对事项名称。"),
            Lang::ZhHant => format!("知識庫中沒有名為「{name}」的事項，請核對事項名稱。"),
            Lang::En => format!("There is no service item named “{name}” in the knowledge base; please check the name."),
        })),
        1 => Ok(same_name.remove(0)),
        _ => {
            let choices = same_name
                .iter()
                .map(|i| format!("{}（{}）", i.id, i.agency.as_deref().unwrap_or("-")))
                .collect::<Vec<_>>()
                .join(lang.pick("；", "；", "; "));
            Err(Outcome::need_input(
                ["item_id"],
                match lang {
                    Lang::ZhHans => format!("有多个名为“{name}”的事项，请选择事项编码：{choices}"),
                    Lang::ZhHant => format!("有多個名為「{name}」的事項，請選擇事項編碼：{choices}"),
                    Lang::En => format!("Several service items are named “{name}”; please choose one by id: {choices}"),
                },
            ))
        }
    }
}

fn not_found(lang: Lang, id: &str) -> String {
    match lang {
        Lang::ZhHans => format!("知识库中没有编码为 {id} 的事项，请核对事项编码和名称。"),
        Lang::ZhHant => format!("知識庫中沒有編碼為 {id} 的事項，請核對事項編碼和名稱。"),
        Lang::En => format!(
            "There is no service item {id} in the knowledge base; please check its id and name."
        ),
    }
}
