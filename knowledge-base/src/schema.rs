//! The index schema, and the conversion between [`Entry`] and tantivy documents.
//!
//! Three analysed fields are searched by a citizen's question — `title` (boosted), `keywords` and
//! `passage` — with the folding jieba analyzer and term frequencies but no positions: queries are
//! bags of terms (see [`crate::search`]), so positions would only cost space. Ids are raw
//! (`STRING`) so that delete-by-`doc_id` replaces a whole source document.
//!
//! A service item's structured fields (实施主体, 受理条件, 申请材料, 办理地点, 时限, 电话, 网上预约,
//! 服务对象, 主题分类, URL) are each stored *and* indexed under their own name, so that an answer can
//! cite the field a fact came from, a skill can read it without parsing the rendered passage, and a
//! search can be restricted to one field ([`crate::KnowledgeBase::search_field`]).
//!
//! `embedding` holds the entry's passage vector (see [`crate::dense`]), stored next to the entry so
//! that both are committed and deleted together.

use std::path::Path;

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, INDEXED, STORED,
    STRING,
};
use tantivy::TantivyDocument;

use crate::document::{DocKind, Entry, ServiceItemFields};
use crate::tokenizer::ANALYZER_NAME;
use crate::KbError;

/// Handles to the schema's fields.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub id: Field,
    pub doc_id: Field,
    pub kind: Field,
    pub title: Field,
    pub keywords: Field,
    pub passage: Field,
    pub url: Field,
    pub phone: Field,
    pub agency: Field,
    pub conditions: Field,
    pub materials: Field,
    pub location: Field,
    pub legal_time_limit: Field,
    pub promised_time_limit: Field,
    pub platform: Field,
    pub online_booking: Field,
    pub audience: Field,
    pub topics: Field,
    /// A service item's 基本编码, exact: its province, city and district variants share it.
    pub base_code: Field,
    pub embedding: Field,
}

/// The service item's analysed text fields, by schema name.
pub const SERVICE_TEXT_FIELDS: [&str; 9] = [
    "agency",
    "conditions",
    "materials",
    "location",
    "legal_time_limit",
    "promised_time_limit",
    "platform",
    "audience",
    "topics",
];

/// Builds the schema of a new index.
pub fn build() -> Schema {
    let analysed = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(ANALYZER_NAME)
            .set_index_option(IndexRecordOption::WithFreqs);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let mut b = Schema::builder();
    b.add_text_field("id", STRING | STORED);
    b.add_text_field("doc_id", STRING | STORED);
    b.add_text_field("kind", STRING | STORED);
    b.add_text_field("title", analysed(true));
    // Stored so that an entry can be rewritten from the index alone (re-embedding).
    b.add_text_field("keywords", analysed(true));
    b.add_text_field("passage", analysed(true));
    for exact in ["url", "phone"] {
        b.add_text_field(exact, STRING | STORED);
    }
    for name in SERVICE_TEXT_FIELDS {
        b.add_text_field(name, analysed(true));
    }
    b.add_bool_field("online_booking", INDEXED | STORED);
    b.add_text_field("base_code", STRING | STORED);
    b.add_bytes_field("embedding", STORED);
    b.build()
}

impl Fields {
    /// Resolves the fields of an opened index, failing with [`KbError::IncompatibleIndex`] when the
    /// index was built with another schema.
    pub fn resolve(schema: &Schema, path: &Path) -> Result<Self, KbError> {
        let expected = build();
        let field = |name: &'static str| -> Result<Field, KbError> {
            let incompatible = || KbError::IncompatibleIndex {
                path: path.to_path_buf(),
                field: name,
            };
            let field = schema.get_field(name).map_err(|_| incompatible())?;
            let wanted = expected.get_field(name).map_err(|_| incompatible())?;
            if schema.get_field_entry(field) != expected.get_field_entry(wanted) {
                return Err(incompatible());
            }
            Ok(field)
        };
        Ok(Fields {
            id: field("id")?,
            doc_id: field("doc_id")?,
            kind: field("kind")?,
            title: field("title")?,
            keywords: field("keywords")?,
            passage: field("passage")?,
            url: field("url")?,
            phone: field("phone")?,
            agency: field("agency")?,
            conditions: field("conditions")?,
            materials: field("materials")?,
            location: field("location")?,
            legal_time_limit: field("legal_time_limit")?,
            promised_time_limit: field("promised_time_limit")?,
            platform: field("platform")?,
            online_booking: field("online_booking")?,
            audience: field("audience")?,
            topics: field("topics")?,
            base_code: field("base_code")?,
            embedding: field("embedding")?,
        })
    }

    /// The schema field of a service item's text field, by its schema name (see
    /// [`SERVICE_TEXT_FIELDS`]) or its label in the source (`申请材料`, …).
    pub fn service_field(&self, name: &str) -> Option<Field> {
        Some(match name {
            "agency" | "实施主体" => self.agency,
            "conditions" | "受理条件" => self.conditions,
            "materials" | "申请材料" => self.materials,
            "location" | "办理地点" => self.location,
            "legal_time_limit" | "法定办结时限" => self.legal_time_limit,
            "promised_time_limit" | "承诺办结时限" => self.promised_time_limit,
            "platform" | "办理平台" => self.platform,
            "audience" | "服务对象" => self.audience,
            "topics" | "主题分类" => self.topics,
            _ => return None,
        })
    }

    /// The tantivy document for an entry, with its vector (as `dense::encode_stored` wrote it) if
    /// it has one.
    pub fn to_document(&self, entry: &Entry, stored_vector: Option<&[u8]>) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        let mut base_code = None;
        doc.add_text(self.id, &entry.id);
        doc.add_text(self.doc_id, &entry.doc_id);
        doc.add_text(self.kind, entry.kind.as_str());
        doc.add_text(self.title, &entry.title);
        doc.add_text(self.passage, &entry.passage);
        for keyword in &entry.keywords {
            doc.add_text(self.keywords, keyword);
        }
        let mut optional = |field: Field, value: Option<&String>| {
            if let Some(v) = value {
                doc.add_text(field, v);
            }
        };
        optional(self.url, entry.url.as_ref());
        optional(self.phone, entry.phone.as_ref());
        if let Some(s) = &entry.service {
            optional(self.agency, s.agency.as_ref());
            optional(self.conditions, s.conditions.as_ref());
            optional(self.location, s.location.as_ref());
            optional(self.legal_time_limit, s.legal_time_limit.as_ref());
            optional(self.promised_time_limit, s.promised_time_limit.as_ref());
            optional(self.platform, s.platform.as_ref());
            for (field, values) in [
                (self.materials, &s.materials),
                (self.audience, &s.audience),
                (self.topics, &s.topics),
            ] {
                for v in values {
                    doc.add_text(field, v);
                }
            }
            doc.add_bool(self.online_booking, s.online_booking);
            base_code = s.base_code.clone();
        }
        if let Some(code) = base_code {
            doc.add_text(self.base_code, code);
        }
        if let Some(vector) = stored_vector {
            doc.add_bytes(self.embedding, vector);
        }
        doc
    }

    /// The entry read back from a tantivy document.
    pub fn to_entry(&self, doc: &TantivyDocument) -> Entry {
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_string))
        };
        let all = |field: Field| -> Vec<String> {
            doc.get_all(field)
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let kind = text(self.kind)
            .as_deref()
            .and_then(DocKind::parse)
            .unwrap_or(DocKind::Faq);
        let title = text(self.title).unwrap_or_default();
        let service = (kind == DocKind::ServiceItem).then(|| ServiceItemFields {
            name: title.clone(),
            agency: text(self.agency),
            conditions: text(self.conditions),
            materials: all(self.materials),
            location: text(self.location),
            legal_time_limit: text(self.legal_time_limit),
            promised_time_limit: text(self.promised_time_limit),
            platform: text(self.platform),
            phone: text(self.phone),
            online_booking: doc
                .get_first(self.online_booking)
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            audience: all(self.audience),
            topics: all(self.topics),
            guide_url: text(self.url),
            base_code: text(self.base_code),
        });
        Entry {
            id: text(self.id).unwrap_or_default(),
            doc_id: text(self.doc_id).unwrap_or_default(),
            kind,
            title,
            passage: text(self.passage).unwrap_or_default(),
            keywords: all(self.keywords),
            url: text(self.url),
            phone: text(self.phone),
            service,
        }
    }
}
