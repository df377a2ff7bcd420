//! Reading a skill's input leniently: the conversation layer extracts fields from free text, and
//! a phone number or ID number may arrive as a JSON number rather than a string.

use serde::{Deserialize, Deserializer};

/// For `#[serde(default, deserialize_with = "govassist_skill_sdk::input::text")]` on an
/// `Option<String>` field: a string, or a number taken as its digits; `null` and absence are `None`.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        N(serde_json::Number),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::S(s) => s,
        Text::N(n) => n.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Input {
        #[serde(default, deserialize_with = "super::text")]
        phone: Option<String>,
    }

    #[test]
    fn strings_and_numbers_are_text() {
        let phone = |json: &str| serde_json::from_str::<Input>(json).unwrap().phone;
        assert_eq!(
            phone(r#"{"phone":"138 0013 8000"}"#).as_deref(),
            Some("138 0013 8000")
        );
        assert_eq!(
            phone(r#"{"phone":13800138000}"#).as_deref(),
            Some("13800138000")
        );
        assert_eq!(phone(r#"{"phone":null}"#), None);
        assert_eq!(phone("{}"), None);
        assert!(serde_json::from_str::<Input>(r#"{"phone":[1]}"#).is_err());
    }
}
