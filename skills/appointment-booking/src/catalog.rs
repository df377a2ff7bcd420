//! The offices one can book at (`offices.json`, generated from the bundled
//! knowledge base by `gen_offices.py`), embedded at build time.
//!
//! Embedded rather than searched for: the knowledge base can only be
//! searched by words, while booking needs the exact list of items each
//! office handles, and a component that carries its catalogue answers the
//! same way on every call.

use govassist_skill_sdk::serde_json;
use serde::Deserialize;

const OFFICES_JSON: &str = include_str!("../offices.json");

#[derive(Debug, Deserialize)]
pub struct Catalog {
    pub offices: Vec<Office>,
}

/// One place of handling (办理地点).
#[derive(Debug, Deserialize)]
pub struct Office {
    /// `of-` and the FNV-1a hash of the address: stable while the address is.
    pub id: String,
    /// 实施主体 of the items handled there.
    pub agency: String,
    pub address: String,
    /// `(事项编码, 事项名称)` of the items that can be booked there.
    pub items: Vec<(String, String)>,
}

impl Office {
    /// The name of item `item_id`, when this office handles it.
    pub fn item_name(&self, item_id: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(id, _)| id == item_id)
            .map(|(_, name)| name.as_str())
    }
}

impl Catalog {
    pub fn bundled() -> Result<Catalog, String> {
        serde_json::from_str(OFFICES_JSON)
            .map_err(|e| format!("the bundled offices.json is invalid: {e}"))
    }

    pub fn office(&self, id: &str) -> Option<&Office> {
        self.offices.iter().find(|o| o.id == id)
    }

    /// Offices that handle item `item_id` (usually one).
    pub fn offices_for_item(&self, item_id: &str) -> Vec<&Office> {
        self.offices
            .iter()
            .filter(|o| o.item_name(item_id).is_some())
            .collect()
    }
}
