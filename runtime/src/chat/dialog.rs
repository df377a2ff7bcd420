//! Handling a matter inside the chat (边聊边办): starting the skill a message
//! asks for, asking for what it still needs (slot filling), and calling it
//! again with the answers. The pending dialog lives in the session, so it
//! survives a restart.

use govassist_llm::{ChatMessage, GenerationParams, Role};
use govassist_skill_host::{Outcome, SkillSummary};
use serde_json::{Map, Value};

use super::route::{self, CivilDate, PiiLabel, RuleContext};
use super::{DoneInfo, RouteTaken, SkillEvent, TurnCx, TurnError};
use crate::sessions::PendingDialog;

/// Starts the skill the message asks for, if the router finds one.
/// `query` is the message's embedding, when there is an embedding model.
pub(crate) async fn start_if_routed(
    cx: &mut TurnCx<'_>,
    query: Option<std::sync::Arc<Vec<f32>>>,
) -> Result<Option<DoneInfo>, TurnError> {
    let state = cx.state.clone();
    let skills = state.skills.skills();
    if skills.is_empty()
        || route::asks_what_is_required(&cx.masked)
        || route::asks_how_to_hand_in(&cx.masked)
        || route::asks_where_to_book(&cx.masked)
        || route::asks_whom_to_call(&cx.masked)
    {
        return Ok(None);
    }
    let (kb, router, masked) = (state.kb.clone(), state.router.clone(), cx.masked.clone());
    let (threshold, lexical) = (
        state.config.chat.skill_threshold,
        state.config.chat.skill_lexical_threshold,
    );
    let candidates = skills.clone();
    let matched = tokio::task::spawn_blocking(move || {
        router.route(
            &kb,
            &candidates,
            &masked,
            query.as_deref().map(Vec::as_slice),
            threshold,
            lexical,
        )
    })
    .await
    .map_err(|e| ("internal", e.to_string()))?;
    let Some(matched) = matched else {
        return Ok(None);
    };
    let Some(skill) = skills.into_iter().find(|s| s.name == matched.name) else {
        return Ok(None);
    };
    tracing::debug!(
        skill = skill.name,
        score = matched.score,
        "message routed to a skill"
    );
    let input = gather_arguments(cx, &skill, &[], &Map::new()).await;
    invoke(cx, &skill, input, RouteTaken::Skill).await.map(Some)
}

/// Continues the dialog the skill left open. `None` when the message is
/// better handled as a new request (the skill is gone, or the user asked
/// something else instead of answering).
pub(crate) async fn continue_dialog(
    cx: &mut TurnCx<'_>,
    pending: PendingDialog,
) -> Result<Option<DoneInfo>, TurnError> {
    let Some(skill) = cx
        .state
        .skills
        .skills()
        .into_iter()
        .find(|s| s.name == pending.skill)
    else {
        return Ok(None);
    };
    let mut input = pending.input.as_object().cloned().unwrap_or_default();
    let mut found = gather_arguments(cx, &skill, &pending.fields, &input).await;
    if found.is_empty() {
        if looks_like_new_question(&cx.masked) {
            return Ok(None);
        }
        // A bare answer to the one thing asked ("李明", "营业执照") is that field.
        if let [field] = pending.fields.as_slice() {
            let is_text = skill.input_schema["properties"][field]["type"]
                .as_str()
                .is_none_or(|t| t == "string");
            let answer = cx.masked.trim().trim_end_matches(['。', '.', '！', '!']);
            if is_text && !answer.is_empty() && answer.chars().count() <= 40 {
                found.insert(field.clone(), Value::from(answer));
            }
        }
    }
    // Later answers win: "手机号改成…" corrects what was given before.
    input.extend(found);
    invoke(cx, &skill, input, RouteTaken::Dialog)
        .await
        .map(Some)
}

/// A question rather than an answer: the user moved on.
fn looks_like_new_question(text: &str) -> bool {
    let chars = text.chars().count();
    chars >= 6
        && [
            "？", "?", "吗", "怎么", "什么", "哪些", "如何", "多久", "多少", "how", "what",
            "which", "where",
        ]
        .iter()
        .any(|cue| text.to_lowercase().contains(cue))
}

/// The skill's arguments in the message: rules first (what they read may
/// correct a value given before), then the model for the fields neither the
/// rules nor earlier turns (`known`) filled, checked against what the user wrote.
async fn gather_arguments(
    cx: &TurnCx<'_>,
    skill: &SkillSummary,
    asked: &[String],
    known: &Map<String, Value>,
) -> Map<String, Value> {
    let rules = RuleContext {
        text: &cx.masked,
        topic_item: cx.session.topic.as_ref().map(|t| t.id.as_str()),
        today: CivilDate::today_in_china(),
    };
    let mut found = route::extract_by_rules(&skill.input_schema, &rules);
    if asked.is_empty() && !found.contains_key("item_id") {
        fill_named_item(cx, skill, &mut found).await;
    }
    // The topic fills an item only when the skill is started, not as an answer to another question.
    if !asked.is_empty() && !asked.iter().any(|f| f == "item_id") {
        if let (Some(topic), Some(Value::String(id))) = (&cx.session.topic, found.get("item_id")) {
            if *id == topic.id {
                found.remove("item_id");
            }
        }
    }
    let Some(engine) = cx.state.engine.clone() else {
        return found;
    };
    let mut filled = found.clone();
    filled.extend(known.iter().map(|(k, v)| (k.clone(), v.clone())));
    let Some(schema) = route::schema_for_model(&skill.input_schema, &filled) else {
        return found;
    };
    let messages = extraction_prompt(skill, &schema, &cx.masked);
    let masked = cx.masked.clone();
    let skill_schema = skill.input_schema.clone();
    let extracted = tokio::task::spawn_blocking(move || {
        let mut constraint = govassist_llm::JsonSchemaConstraint::from_schema(&schema).ok()?;
        let mut text = String::new();
        let params = GenerationParams::greedy(160);
        engine
            .generate_constrained(&messages, &params, &mut constraint, &mut |piece: &str| {
                text.push_str(piece);
                true
            })
            .ok()?;
        serde_json::from_str::<Value>(&text).ok()
    })
    .await
    .ok()
    .flatten();
    if let Some(extracted) = extracted {
        for (name, value) in route::validate_model_arguments(&extracted, &masked, &skill_schema) {
            found.entry(name).or_insert(value);
        }
    }
    found
}

/// A skill that takes a service item (`item_id` with `item_name`), started by a message that
/// names one (`帮我填一下技工学校设立审批的申请表`), gets that item, found by searching the
/// knowledge base for the message ([`route::item_named_in`]), rather than asking which is meant.
/// Where the province and the city each have an item of that name, only the name is given: the
/// skill then asks which of them the user means.
async fn fill_named_item(cx: &TurnCx<'_>, skill: &SkillSummary, found: &mut Map<String, Value>) {
    let properties = &skill.input_schema["properties"];
    if properties.get("item_id").is_none() || properties.get("item_name").is_none() {
        return;
    }
    let (kb, message) = (cx.state.kb.clone(), cx.masked.clone());
    let named = tokio::task::spawn_blocking(move || {
        let hits = kb.search(&message, 3).ok()?;
        let hit = route::item_named_in(&message, &hits)?;
        let twins = hits.iter().filter(|h| h.title == hit.title).count() > 1;
        Some((hit.doc_id.clone(), hit.title.clone(), twins))
    })
    .await
    .ok()
    .flatten();
    if let Some((id, name, twins)) = named {
        if !twins {
            found.insert("item_id".into(), Value::from(id));
        }
        found.insert("item_name".into(), Value::from(name));
    }
}

fn extraction_prompt(skill: &SkillSummary, schema: &Value, message: &str) -> Vec<ChatMessage> {
    let mut fields = String::new();
    if let Some(properties) = schema["properties"].as_object() {
        for name in properties.keys() {
            let description = skill.input_schema["properties"][name]["description"]
                .as_str()
                .unwrap_or_default();
            fields.push_str(&format!("- {name}: {description}\n"));
        }
    }
    vec![
        ChatMessage {
            role: Role::System,
            content: "你从用户的话中提取办事参数，只输出 JSON。用户没有明确说到的字段填 null，不要猜测，不要编造。".into(),
        },
        ChatMessage {
            role: Role::User,
            content: format!("事项：{}\n字段：\n{fields}用户的话：{message}", skill.description),
        },
    ]
}

/// Calls the skill with the real values of the personal fields it is
/// granted, and turns its outcome into the reply.
async fn invoke(
    cx: &mut TurnCx<'_>,
    skill: &SkillSummary,
    input: Map<String, Value>,
    route: RouteTaken,
) -> Result<DoneInfo, TurnError> {
    let (real_input, personal) = unmask_for(skill, &input, &cx.session.personal);
    let host = cx.state.skills.clone();
    let (name, lang, caller) = (skill.name.clone(), cx.lang.code(), cx.caller);
    let outcome = tokio::task::spawn_blocking(move || {
        host.invoke_as(caller, &name, &Value::Object(real_input), lang, &personal)
    })
    .await
    .map_err(|e| ("internal", e.to_string()))?;
    let mut done = DoneInfo::new(&cx.session.id, route);
    done.skill = Some(skill.name.clone());
    let event = |status: &'static str, result: Option<Value>, fields: Vec<String>| SkillEvent {
        name: skill.name.clone(),
        status,
        input: Value::Object(input.clone()),
        result,
        fields,
    };
    match outcome {
        Ok(Outcome::Done { result }) => {
            cx.skill_event(event("done", Some(result.clone()), vec![]))
                .await;
            cx.say(&render_result(&result)).await;
        }
        Ok(Outcome::NeedInput { fields, prompt }) => {
            cx.skill_event(event("need_input", None, fields.clone()))
                .await;
            cx.say(&prompt).await;
            cx.session.dialog = Some(PendingDialog {
                skill: skill.name.clone(),
                input: Value::Object(input),
                fields,
                prompt,
            });
        }
        Ok(Outcome::Failed { message }) => {
            cx.skill_event(event("failed", None, vec![])).await;
            cx.say(&message).await;
        }
        Err(error) => {
            tracing::warn!(
                skill = skill.name,
                code = error.code(),
                "skill call from chat failed"
            );
            cx.skill_event(event("error", None, vec![])).await;
            cx.say(&super::replies::skill_unavailable(cx.lang)).await;
        }
    }
    Ok(done)
}

/// The input the skill gets: placeholders of granted kinds become the real
/// values; arguments carrying an ungranted kind are left out (the skill asks
/// again, and the user sees why in its prompt). Also the granted personal
/// fields, latest value of each kind.
fn unmask_for(
    skill: &SkillSummary,
    input: &Map<String, Value>,
    vault: &std::collections::BTreeMap<String, String>,
) -> (Map<String, Value>, Vec<(String, String)>) {
    let granted = |label: PiiLabel| skill.personal_fields.iter().any(|f| f == label.field());
    let mut real = Map::new();
    'arguments: for (name, value) in input {
        let Value::String(text) = value else {
            real.insert(name.clone(), value.clone());
            continue;
        };
        let mut unmasked = text.clone();
        for placeholder in route::placeholders(text) {
            let allowed = PiiLabel::of_placeholder(placeholder).is_some_and(granted);
            match vault.get(placeholder) {
                Some(value) if allowed => unmasked = unmasked.replace(placeholder, value),
                _ => continue 'arguments,
            }
        }
        real.insert(name.clone(), Value::String(unmasked));
    }
    let mut personal: Vec<(String, String)> = Vec::new();
    for (placeholder, value) in vault {
        if let Some(label) = PiiLabel::of_placeholder(placeholder).filter(|l| granted(*l)) {
            personal.retain(|(field, _)| field != label.field());
            personal.push((label.field().to_owned(), value.clone()));
        }
    }
    (real, personal)
}

/// A skill's result as text: its `message`, then each list in it (offices,
/// policies, bookings, materials…) as short lines.
pub fn render_result(result: &Value) -> String {
    let mut text = result
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(object) = result.as_object() else {
        return text;
    };
    for (key, value) in object {
        let Some(items) = value.as_array() else {
            continue;
        };
        if items.is_empty() {
            continue;
        }
        let lines: Vec<String> = items.iter().take(8).filter_map(item_line).collect();
        if lines.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("{}：\n", key_label(key)));
        for line in lines {
            text.push_str(&format!("• {line}\n"));
        }
        if items.len() > 8 {
            text.push_str(&format!("… (+{})\n", items.len() - 8));
        }
    }
    if text.is_empty() {
        text = serde_json::to_string_pretty(result).unwrap_or_default();
    }
    text.trim_end().to_owned()
}

fn item_line(item: &Value) -> Option<String> {
    if let Some(s) = item.as_str() {
        return Some(s.to_owned());
    }
    let object = item.as_object()?;
    let head = ["name", "title", "agency", "label", "id"]
        .iter()
        .find_map(|k| object.get(*k)?.as_str())?;
    let mut line = head.to_owned();
    for key in ["date", "slot", "address", "reason", "status"] {
        if let Some(v) = object.get(key).and_then(Value::as_str) {
            line.push_str(&format!("，{v}"));
        }
    }
    for key in ["reasons", "lacking", "met"] {
        if let Some(list) = object.get(key).and_then(Value::as_array) {
            let parts: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            if !parts.is_empty() {
                line.push_str(&format!("（{}）", parts.join("；")));
            }
        }
    }
    Some(line)
}

fn key_label(key: &str) -> &str {
    match key {
        "eligible" => "可申报",
        "near_misses" => "差一点符合",
        "offices" => "办理地点",
        "bookings" => "预约",
        "slots" => "空闲时段",
        "materials" => "申请材料",
        "missing" => "尚缺",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn skill(personal: &[&str]) -> SkillSummary {
        SkillSummary {
            name: "s".into(),
            version: "0.1.0".into(),
            description: String::new(),
            examples: vec![],
            input_schema: json!({}),
            capabilities: vec![],
            personal_fields: personal.iter().map(|s| s.to_string()).collect(),
            limits: Default::default(),
            sha256: String::new(),
        }
    }

    #[test]
    fn only_granted_kinds_are_unmasked() {
        let vault = [
            ("〔电话1〕".to_owned(), "13800138000".to_owned()),
            ("〔身份证号1〕".to_owned(), "110101199003074514".to_owned()),
        ]
        .into_iter()
        .collect();
        let input =
            json!({"phone": "〔电话1〕", "id_number": "〔身份证号1〕", "date": "2026-12-02"});
        let (real, personal) = unmask_for(&skill(&["phone"]), input.as_object().unwrap(), &vault);
        assert_eq!(real["phone"], "13800138000");
        assert!(
            !real.contains_key("id_number"),
            "not granted: the skill never sees it"
        );
        assert_eq!(real["date"], "2026-12-02");
        assert_eq!(
            personal,
            vec![("phone".to_owned(), "13800138000".to_owned())]
        );
    }

    #[test]
    fn results_render_message_then_lists() {
        let result = json!({"message": "找到2项政策。", "eligible": [{"name": "稳岗补贴", "reasons": ["人数符合"]}], "near_misses": []});
        let text = render_result(&result);
        assert!(text.starts_with("找到2项政策。"));
        assert!(text.contains("• 稳岗补贴（人数符合）"));
    }

    #[test]
    fn a_question_is_not_an_answer() {
        assert!(looks_like_new_question("营业执照要什么材料？"));
        assert!(!looks_like_new_question("明天上午"));
    }
}
