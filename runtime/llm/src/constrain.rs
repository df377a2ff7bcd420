//! Constrained decoding: output that is valid by construction.
//!
//! A small model asked for JSON sometimes writes prose, forgets a quote or invents a field;
//! the conversation router cannot act on that. [`Engine::generate_constrained`] therefore asks
//! a [`TokenConstraint`] before taking each token: only tokens whose bytes keep the output a
//! valid prefix are taken, bytes that are the only possible continuation (object keys, the rest
//! of an enum value) are written by the constraint itself, and generation stops as soon as the
//! value is complete.
//!
//! [`JsonSchemaConstraint`] implements it for a practical subset of JSON Schema (see
//! [`JsonSchema::compile`]). Output is canonical: `{"a": 1, "b": "x"}` — no whitespace other
//! than one space after `:` and `,`, object keys in a fixed order.
//!
//! [`Engine::generate_constrained`]: crate::Engine::generate_constrained

use std::sync::Arc;

use serde_json::Value;

use crate::error::SchemaError;

/// Decides, byte by byte, which output is allowed. Used by
/// [`crate::Engine::generate_constrained`].
///
/// Besides validity, a constraint reports the shortest way to finish the output, so the engine
/// can always complete it within the token budget: each token the engine takes is checked to
/// leave no more closing bytes than tokens left (every byte has its own token).
pub trait TokenConstraint {
    /// If `bytes` may come next, the fewest bytes that would then still complete the output;
    /// `None` if they may not. Does not change the state.
    fn check(&self, bytes: &[u8]) -> Option<usize>;

    /// Appends `bytes` to the output; `false` (and no change) if they are not allowed.
    fn push(&mut self, bytes: &[u8]) -> bool;

    /// Bytes that must come next whatever the model prefers (empty when it has a choice).
    fn forced(&self) -> Vec<u8>;

    /// A shortest byte sequence that completes the output (empty once complete).
    fn closing(&self) -> Vec<u8>;

    /// Whether the output is a complete value; generation ends there.
    fn is_complete(&self) -> bool;
}

/// Most digits of an integer: 18 always fits an `i64`, and an integer cannot grow forever.
pub const MAX_INTEGER_DIGITS: usize = 18;

type NodeId = usize;
type ChoiceId = usize;

/// The choice holding just `null` (index 0 of every compiled schema).
const NULL_CHOICE: ChoiceId = 0;

#[derive(Debug, Clone)]
enum Kind {
    Object {
        start: ChoiceId,
    },
    String {
        min_chars: usize,
        max_chars: Option<usize>,
    },
    Integer,
    /// Enum strings, booleans and `null`: the value is one of the literals of a choice.
    Literal(ChoiceId),
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    /// `null` is allowed too (already folded into a `Literal` choice).
    nullable: bool,
    /// Bytes of the shortest value.
    min_len: usize,
}

/// What follows a literal once it is complete.
#[derive(Debug, Clone, Copy)]
enum Then {
    /// The literal finishes a value or an object.
    Done,
    /// A key was written: the property's value follows, then the choice `next`.
    Property { value: NodeId, next: ChoiceId },
}

/// Prefix-free literals, sorted: those still matching a prefix form a contiguous range.
#[derive(Debug, Clone, Default)]
struct Choice {
    options: Vec<Vec<u8>>,
    then: Vec<Then>,
    /// Per option: its length plus the shortest completion of what follows.
    cost: Vec<usize>,
}

/// A compiled schema, cheap to share: start each generation with [`JsonSchema::constraint`].
#[derive(Debug, Clone)]
pub struct JsonSchema {
    inner: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    nodes: Vec<Node>,
    choices: Vec<Choice>,
    root: NodeId,
}

impl JsonSchema {
    /// Compiles a JSON Schema subset:
    ///
    /// - `type`: `object` (at the root, and nested), `string`, `integer`, `boolean`, `null`, or a
    ///   pair `[T, "null"]` for a nullable value;
    /// - objects: `properties`, `required`, `additionalProperties: false` (the only kind: the
    ///   constraint writes the keys). Keys are written in the order of `required`, then the other
    ///   properties in key order; a property not in `required` may be left out;
    /// - strings: `enum` (strings, plus `null` when nullable), or `minLength` / `maxLength` in
    ///   characters;
    /// - annotations (`title`, `description`, `default`, `examples`, `$schema`, `$id`,
    ///   `$comment`) are ignored.
    ///
    /// Any other keyword is an error rather than silently unenforced.
    pub fn compile(schema: &Value) -> Result<Self, SchemaError> {
        let mut c = Compiler {
            nodes: Vec::new(),
            choices: vec![Choice::default()],
        };
        c.choices[NULL_CHOICE] = make_choice(vec![(b"null".to_vec(), Then::Done, 4)]);
        let root = c.node(schema, "#")?;
        if !matches!(c.nodes[root].kind, Kind::Object { .. }) || c.nodes[root].nullable {
            return Err(SchemaError::Invalid {
                path: "#".into(),
                detail: "the root must be a non-nullable object (its end must be unambiguous)"
                    .into(),
            });
        }
        Ok(Self {
            inner: Arc::new(Compiled {
                nodes: c.nodes,
                choices: c.choices,
                root,
            }),
        })
    }

    /// A fresh constraint at the start of the output.
    pub fn constraint(&self) -> JsonSchemaConstraint {
        let mut stack = vec![Frame::Value(self.inner.root)];
        self.inner.settle(&mut stack);
        JsonSchemaConstraint {
            schema: self.clone(),
            stack,
            output: Vec::new(),
        }
    }
}

struct Compiler {
    nodes: Vec<Node>,
    choices: Vec<Choice>,
}

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "$schema",
    "$id",
    "$comment",
];

fn make_choice(mut items: Vec<(Vec<u8>, Then, usize)>) -> Choice {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items.dedup_by(|a, b| a.0 == b.0);
    let mut c = Choice::default();
    for (bytes, then, cost) in items {
        c.options.push(bytes);
        c.then.push(then);
        c.cost.push(cost);
    }
    c
}

impl Compiler {
    fn push_choice(&mut self, c: Choice) -> ChoiceId {
        self.choices.push(c);
        self.choices.len() - 1
    }

    fn push_node(&mut self, kind: Kind, nullable: bool, kind_min: usize) -> NodeId {
        let min_len = if nullable { kind_min.min(4) } else { kind_min };
        self.nodes.push(Node {
            kind,
            nullable,
            min_len,
        });
        self.nodes.len() - 1
    }

    fn choice_min(&self, c: ChoiceId) -> usize {
        self.choices[c].cost.iter().copied().min().unwrap_or(0)
    }

    fn node(&mut self, schema: &Value, path: &str) -> Result<NodeId, SchemaError> {
        let invalid = |detail: &str| SchemaError::Invalid {
            path: path.to_owned(),
            detail: detail.to_owned(),
        };
        let obj = schema
            .as_object()
            .ok_or_else(|| invalid("a schema must be a JSON object"))?;
        const KNOWN: &[&str] = &[
            "type",
            "properties",
            "required",
            "additionalProperties",
            "enum",
            "minLength",
            "maxLength",
        ];
        for key in obj.keys() {
            if !KNOWN.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) {
                return Err(SchemaError::UnsupportedKeyword {
                    path: path.to_owned(),
                    keyword: key.clone(),
                });
            }
        }

        // The type, and whether null is allowed besides it.
        let mut types: Vec<&str> = match obj.get("type") {
            None => Vec::new(),
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts
                .iter()
                .map(|t| {
                    t.as_str()
                        .ok_or_else(|| invalid("`type` entries must be strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("`type` must be a string or an array of strings")),
        };
        let enum_values = match obj.get("enum") {
            None => None,
            Some(Value::Array(vs)) if !vs.is_empty() => Some(vs),
            Some(_) => return Err(invalid("`enum` must be a non-empty array")),
        };
        let mut nullable = types.contains(&"null");
        types.retain(|t| *t != "null");
        if let Some(vs) = enum_values {
            nullable |= vs.iter().any(Value::is_null);
        }
        let ty = match (types.as_slice(), enum_values) {
            ([], Some(_)) => "string",
            ([], None) if nullable => "null",
            ([], None) => return Err(invalid("`type` is required (or an `enum` of strings)")),
            ([t], _) => *t,
            _ => {
                return Err(invalid(
                    "only one type, optionally with \"null\", is supported",
                ))
            }
        };
        let forbid = |keys: &[&str]| -> Result<(), SchemaError> {
            match keys.iter().find(|k| obj.contains_key(**k)) {
                Some(k) => Err(SchemaError::UnsupportedKeyword {
                    path: path.to_owned(),
                    keyword: format!("{k} (with type {ty})"),
                }),
                None => Ok(()),
            }
        };

        match ty {
            "object" => {
                forbid(&["enum", "minLength", "maxLength"])?;
                self.object(obj, path, nullable)
            }
            "string" => {
                forbid(&["properties", "required", "additionalProperties"])?;
                if let Some(vs) = enum_values {
                    if obj.contains_key("minLength") || obj.contains_key("maxLength") {
                        return Err(invalid(
                            "`enum` with `minLength`/`maxLength` is not supported",
                        ));
                    }
                    let mut items = Vec::new();
                    for v in vs {
                        match v {
                            Value::String(s) => {
                                let bytes =
                                    serde_json::to_vec(s).map_err(|e| invalid(&e.to_string()))?;
                                let cost = bytes.len();
                                items.push((bytes, Then::Done, cost));
                            }
                            Value::Null => {}
                            _ => {
                                return Err(invalid(
                                    "only string (and null) enum values are supported",
                                ))
                            }
                        }
                    }
                    if nullable {
                        items.push((b"null".to_vec(), Then::Done, 4));
                    }
                    let choice = self.push_choice(make_choice(items));
                    let min = self.choice_min(choice);
                    return Ok(self.push_node(Kind::Literal(choice), nullable, min));
                }
                let length = |key: &str| -> Result<Option<usize>, SchemaError> {
                    match obj.get(key) {
                        None => Ok(None),
                        Some(v) => v.as_u64().map(|n| Some(n as usize)).ok_or_else(|| {
                            invalid(&format!("`{key}` must be a non-negative integer"))
                        }),
                    }
                };
                let min_chars = length("minLength")?.unwrap_or(0);
                let max_chars = length("maxLength")?;
                if max_chars.is_some_and(|max| max < min_chars) {
                    return Err(invalid("`maxLength` is below `minLength`"));
                }
                Ok(self.push_node(
                    Kind::String {
                        min_chars,
                        max_chars,
                    },
                    nullable,
                    2 + min_chars,
                ))
            }
            "integer" | "boolean" | "null" => {
                forbid(&[
                    "enum",
                    "minLength",
                    "maxLength",
                    "properties",
                    "required",
                    "additionalProperties",
                ])?;
                Ok(match ty {
                    "integer" => self.push_node(Kind::Integer, nullable, 1),
                    "boolean" => {
                        let mut items = vec![
                            (b"true".to_vec(), Then::Done, 4),
                            (b"false".to_vec(), Then::Done, 5),
                        ];
                        if nullable {
                            items.push((b"null".to_vec(), Then::Done, 4));
                        }
                        let choice = self.push_choice(make_choice(items));
                        self.push_node(Kind::Literal(choice), nullable, 4)
                    }
                    _ => self.push_node(Kind::Literal(NULL_CHOICE), true, 4),
                })
            }
            other => Err(SchemaError::UnsupportedKeyword {
                path: path.to_owned(),
                keyword: format!("type {other}"),
            }),
        }
    }

    fn object(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        path: &str,
        nullable: bool,
    ) -> Result<NodeId, SchemaError> {
        let invalid = |detail: String| SchemaError::Invalid {
            path: path.to_owned(),
            detail,
        };
        match obj.get("additionalProperties") {
            None | Some(Value::Bool(false)) => {}
            Some(_) => {
                return Err(SchemaError::UnsupportedKeyword {
                    path: path.to_owned(),
                    keyword: "additionalProperties (only `false` is supported)".into(),
                })
            }
        }
        let empty = serde_json::Map::new();
        let props = match obj.get("properties") {
            None => &empty,
            Some(Value::Object(p)) => p,
            Some(_) => return Err(invalid("`properties` must be an object".into())),
        };
        let required: Vec<&str> = match obj.get("required") {
            None => Vec::new(),
            Some(Value::Array(r)) => r
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| invalid("`required` entries must be strings".into()))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("`required` must be an array".into())),
        };
        // Key order: `required` first, as listed, then the optional ones.
        let mut order: Vec<(&str, bool)> = Vec::new();
        for name in &required {
            if !props.contains_key(*name) {
                return Err(invalid(format!(
                    "required property `{name}` is not in `properties`"
                )));
            }
            if !order.iter().any(|(n, _)| n == name) {
                order.push((name, true));
            }
        }
        for name in props.keys() {
            if !required.contains(&name.as_str()) {
                order.push((name, false));
            }
        }
        let mut children = Vec::new();
        for (name, req) in &order {
            let child = self.node(&props[*name], &format!("{path}/properties/{name}"))?;
            let key = serde_json::to_string(name).map_err(|e| invalid(e.to_string()))?;
            children.push((key, *req, child));
        }
        // Choices after property j (from the last backwards), then the start choice.
        let n = children.len();
        let mut after: Vec<ChoiceId> = vec![0; n];
        let build = |c: &Compiler, from: usize, after: &[ChoiceId], sep: &str| {
            let mut items = Vec::new();
            let mut all_optional = true;
            for k in from..n {
                let (key, req, child) = &children[k];
                let bytes = format!("{sep}{key}: ").into_bytes();
                let cost = bytes.len() + c.nodes[*child].min_len + c.choice_min(after[k]);
                items.push((
                    bytes,
                    Then::Property {
                        value: *child,
                        next: after[k],
                    },
                    cost,
                ));
                if *req {
                    all_optional = false;
                    break;
                }
            }
            if all_optional {
                items.push((b"}".to_vec(), Then::Done, 1));
            }
            make_choice(items)
        };
        for j in (0..n).rev() {
            let choice = build(self, j + 1, &after, ", ");
            after[j] = self.push_choice(choice);
        }
        let start = build(self, 0, &after, "");
        let start = self.push_choice(start);
        let min = 1 + self.choice_min(start);
        Ok(self.push_node(Kind::Object { start }, nullable, min))
    }
}

/// Where the output is, one frame per open value.
#[derive(Debug, Clone)]
enum Frame {
    /// The start of a value.
    Value(NodeId),
    /// Inside one of the literals of a choice: `pos` bytes matched, options `lo..hi` still match.
    Literal {
        choice: ChoiceId,
        pos: usize,
        lo: usize,
        hi: usize,
    },
    /// Inside a string, after the opening quote.
    Str {
        node: NodeId,
        chars: usize,
        escape: Escape,
        /// Continuation bytes still due for the current UTF-8 character, and the range the next
        /// one must lie in.
        utf8_due: u8,
        utf8_lo: u8,
        utf8_hi: u8,
    },
    /// Inside an integer: digits so far, and whether the first is `0` (no more may follow).
    Int { digits: usize, zero: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// After `\`.
    Backslash,
    /// After `\u` and `done` hex digits, the first of which was `d`/`D` if `d_first`.
    Hex {
        done: u8,
        d_first: bool,
    },
}

fn literal(choice: &Choice, id: ChoiceId) -> Frame {
    Frame::Literal {
        choice: id,
        pos: 0,
        lo: 0,
        hi: choice.options.len(),
    }
}

impl Compiled {
    /// Turns a value frame on top whose every form starts with a literal into that literal.
    fn settle(&self, stack: &mut [Frame]) {
        if let Some(top) = stack.last_mut() {
            if let Frame::Value(n) = *top {
                if let Kind::Literal(c) = self.nodes[n].kind {
                    *top = literal(&self.choices[c], c);
                }
            }
        }
    }

    /// Feeds one byte; `Err` if it is not allowed (the stack may then be partly changed).
    fn step(&self, stack: &mut Vec<Frame>, b: u8) -> Result<(), ()> {
        loop {
            let top = stack.last_mut().ok_or(())?;
            match top {
                Frame::Value(n) => {
                    let node = &self.nodes[*n];
                    if node.nullable && b == b'n' {
                        *top = literal(&self.choices[NULL_CHOICE], NULL_CHOICE);
                        continue;
                    }
                    match node.kind {
                        Kind::Object { start } if b == b'{' => {
                            *top = literal(&self.choices[start], start);
                        }
                        Kind::String { .. } if b == b'"' => {
                            *top = Frame::Str {
                                node: *n,
                                chars: 0,
                                escape: Escape::None,
                                utf8_due: 0,
                                utf8_lo: 0,
                                utf8_hi: 0,
                            };
                        }
                        Kind::Integer if b == b'-' => {
                            *top = Frame::Int {
                                digits: 0,
                                zero: false,
                            }
                        }
                        Kind::Integer if b.is_ascii_digit() => {
                            *top = Frame::Int {
                                digits: 1,
                                zero: b == b'0',
                            }
                        }
                        _ => return Err(()),
                    }
                    return Ok(());
                }
                Frame::Literal {
                    choice,
                    pos,
                    lo,
                    hi,
                } => {
                    let c = &self.choices[*choice];
                    let at = |i: usize| c.options[i].get(*pos).copied();
                    let new_lo = (*lo..*hi).find(|&i| at(i) == Some(b)).ok_or(())?;
                    let new_hi = (new_lo..*hi).find(|&i| at(i) != Some(b)).unwrap_or(*hi);
                    *pos += 1;
                    *lo = new_lo;
                    *hi = new_hi;
                    if new_hi - new_lo == 1 && c.options[new_lo].len() == *pos {
                        let then = c.then[new_lo];
                        stack.pop();
                        if let Then::Property { value, next } = then {
                            stack.push(literal(&self.choices[next], next));
                            stack.push(Frame::Value(value));
                        }
                        self.settle(stack);
                    }
                    return Ok(());
                }
                Frame::Str {
                    node,
                    chars,
                    escape,
                    utf8_due,
                    utf8_lo,
                    utf8_hi,
                } => {
                    let Kind::String {
                        min_chars,
                        max_chars,
                    } = self.nodes[*node].kind
                    else {
                        return Err(());
                    };
                    if *utf8_due > 0 {
                        if !(*utf8_lo..=*utf8_hi).contains(&b) {
                            return Err(());
                        }
                        *utf8_due -= 1;
                        (*utf8_lo, *utf8_hi) = (0x80, 0xBF);
                        return Ok(());
                    }
                    match *escape {
                        Escape::Backslash => {
                            *escape = match b {
                                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                                    Escape::None
                                }
                                b'u' => Escape::Hex {
                                    done: 0,
                                    d_first: false,
                                },
                                _ => return Err(()),
                            };
                            return Ok(());
                        }
                        Escape::Hex { done, d_first } => {
                            if !b.is_ascii_hexdigit() {
                                return Err(());
                            }
                            // No surrogates (`\uD800`–`\uDFFF`): serde_json rejects a lone one,
                            // and pairing them is never needed (UTF-8 can be written directly).
                            // Refused at the second digit, so no prefix is a dead end.
                            if done == 1 && d_first && !(b'0'..=b'7').contains(&b) {
                                return Err(());
                            }
                            *escape = if done == 3 {
                                Escape::None
                            } else {
                                Escape::Hex {
                                    done: done + 1,
                                    d_first: if done == 0 {
                                        b.eq_ignore_ascii_case(&b'd')
                                    } else {
                                        d_first
                                    },
                                }
                            };
                            return Ok(());
                        }
                        Escape::None => {}
                    }
                    if b == b'"' {
                        if *chars < min_chars {
                            return Err(());
                        }
                        stack.pop();
                        self.settle(stack);
                        return Ok(());
                    }
                    if max_chars.is_some_and(|max| *chars >= max) || b < 0x20 {
                        return Err(());
                    }
                    let (due, lo, hi) = match b {
                        b'\\' => {
                            *escape = Escape::Backslash;
                            (0, 0, 0)
                        }
                        0x00..=0x7F => (0, 0, 0),
                        0xC2..=0xDF => (1, 0x80, 0xBF),
                        0xE0 => (2, 0xA0, 0xBF),
                        0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
                        0xED => (2, 0x80, 0x9F),
                        0xF0 => (3, 0x90, 0xBF),
                        0xF1..=0xF3 => (3, 0x80, 0xBF),
                        0xF4 => (3, 0x80, 0x8F),
                        _ => return Err(()),
                    };
                    *chars += 1;
                    (*utf8_due, *utf8_lo, *utf8_hi) = (due, lo, hi);
                    return Ok(());
                }
                Frame::Int { digits, zero } => {
                    if b.is_ascii_digit() {
                        if *zero || *digits >= MAX_INTEGER_DIGITS {
                            return Err(());
                        }
                        *zero = *digits == 0 && b == b'0';
                        *digits += 1;
                        return Ok(());
                    }
                    if *digits == 0 {
                        return Err(());
                    }
                    // The integer ended; the byte belongs to what follows it.
                    stack.pop();
                    self.settle(stack);
                }
            }
        }
    }

    /// Fewest bytes that complete the output from `stack`.
    fn closing_len(&self, stack: &[Frame]) -> usize {
        stack
            .iter()
            .map(|f| match *f {
                Frame::Value(n) => self.nodes[n].min_len,
                Frame::Literal {
                    choice,
                    pos,
                    lo,
                    hi,
                } => {
                    let c = &self.choices[choice];
                    (lo..hi).map(|i| c.cost[i] - pos).min().unwrap_or(0)
                }
                Frame::Str {
                    node,
                    chars,
                    escape,
                    utf8_due,
                    ..
                } => {
                    let min_chars = match self.nodes[node].kind {
                        Kind::String { min_chars, .. } => min_chars,
                        _ => 0,
                    };
                    let escape_rest = match escape {
                        Escape::None => 0,
                        Escape::Backslash => 1,
                        Escape::Hex { done, .. } => 4 - done as usize,
                    };
                    utf8_due as usize + escape_rest + min_chars.saturating_sub(chars) + 1
                }
                Frame::Int { digits, .. } => usize::from(digits == 0),
            })
            .sum()
    }

    /// The next byte of a shortest completion, or `None` when complete.
    fn closing_byte(&self, stack: &[Frame]) -> Option<u8> {
        let top = stack.last()?;
        Some(match *top {
            Frame::Value(n) => {
                let node = &self.nodes[n];
                match node.kind {
                    _ if node.nullable && self.kind_min(n) > 4 => b'n',
                    Kind::Object { .. } => b'{',
                    Kind::String { .. } => b'"',
                    Kind::Integer => b'0',
                    Kind::Literal(c) => {
                        let c = &self.choices[c];
                        let best = (0..c.options.len()).min_by_key(|&i| c.cost[i])?;
                        c.options[best][0]
                    }
                }
            }
            Frame::Literal {
                choice,
                pos,
                lo,
                hi,
            } => {
                let c = &self.choices[choice];
                let best = (lo..hi).min_by_key(|&i| c.cost[i])?;
                c.options[best][pos]
            }
            Frame::Str {
                node,
                chars,
                escape,
                utf8_due,
                utf8_lo,
                ..
            } => match (utf8_due, escape) {
                (1.., _) => utf8_lo,
                (0, Escape::Backslash) => b'n',
                (0, Escape::Hex { .. }) => b'0',
                (0, Escape::None) => match self.nodes[node].kind {
                    Kind::String { min_chars, .. } if chars < min_chars => b'a',
                    _ => b'"',
                },
            },
            Frame::Int { digits: 0, .. } => b'0',
            Frame::Int { .. } => {
                let mut rest = stack[..stack.len() - 1].to_vec();
                self.settle(&mut rest);
                return self.closing_byte(&rest);
            }
        })
    }

    /// Bytes of the shortest value of node `n` leaving out `null`.
    fn kind_min(&self, n: NodeId) -> usize {
        match self.nodes[n].kind {
            Kind::Object { start } => {
                1 + self.choices[start].cost.iter().copied().min().unwrap_or(0)
            }
            Kind::String { min_chars, .. } => 2 + min_chars,
            Kind::Integer => 1,
            Kind::Literal(_) => self.nodes[n].min_len,
        }
    }

    /// The one byte allowed next, if there is exactly one.
    fn forced_byte(&self, stack: &[Frame]) -> Option<u8> {
        match *stack.last()? {
            Frame::Value(n) => {
                let node = &self.nodes[n];
                if node.nullable {
                    return None;
                }
                match node.kind {
                    Kind::Object { .. } => Some(b'{'),
                    Kind::String { .. } => Some(b'"'),
                    _ => None,
                }
            }
            Frame::Literal {
                choice,
                pos,
                lo,
                hi,
            } => {
                let c = &self.choices[choice];
                let first = c.options[lo].get(pos)?;
                (c.options[hi - 1].get(pos) == Some(first)).then_some(*first)
            }
            Frame::Str {
                node,
                chars,
                escape: Escape::None,
                utf8_due: 0,
                ..
            } => match self.nodes[node].kind {
                Kind::String {
                    max_chars: Some(max),
                    ..
                } if chars >= max => Some(b'"'),
                _ => None,
            },
            Frame::Str { .. } | Frame::Int { .. } => None,
        }
    }
}

/// The state of one constrained output against a [`JsonSchema`].
#[derive(Debug, Clone)]
pub struct JsonSchemaConstraint {
    schema: JsonSchema,
    stack: Vec<Frame>,
    output: Vec<u8>,
}

impl JsonSchemaConstraint {
    /// Compiles `schema` (see [`JsonSchema::compile`]) and starts at the beginning.
    pub fn from_schema(schema: &Value) -> Result<Self, SchemaError> {
        Ok(JsonSchema::compile(schema)?.constraint())
    }

    /// The bytes accepted so far.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    fn compiled(&self) -> &Compiled {
        &self.schema.inner
    }
}

impl TokenConstraint for JsonSchemaConstraint {
    fn check(&self, bytes: &[u8]) -> Option<usize> {
        let mut stack = self.stack.clone();
        let c = self.compiled();
        for &b in bytes {
            c.step(&mut stack, b).ok()?;
        }
        Some(c.closing_len(&stack))
    }

    fn push(&mut self, bytes: &[u8]) -> bool {
        let mut stack = self.stack.clone();
        let c = self.compiled();
        for &b in bytes {
            if c.step(&mut stack, b).is_err() {
                return false;
            }
        }
        self.stack = stack;
        self.output.extend_from_slice(bytes);
        true
    }

    fn forced(&self) -> Vec<u8> {
        let c = self.compiled();
        let mut stack = self.stack.clone();
        let mut out = Vec::new();
        while let Some(b) = c.forced_byte(&stack) {
            if c.step(&mut stack, b).is_err() {
                break;
            }
            out.push(b);
        }
        out
    }

    fn closing(&self) -> Vec<u8> {
        let c = self.compiled();
        let mut stack = self.stack.clone();
        let mut out = Vec::new();
        while let Some(b) = c.closing_byte(&stack) {
            if c.step(&mut stack, b).is_err() {
                break;
            }
            out.push(b);
        }
        out
    }

    fn is_complete(&self) -> bool {
        self.stack.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn router() -> JsonSchemaConstraint {
        JsonSchemaConstraint::from_schema(&json!({
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": ["search", "smalltalk", "skill"]},
                "query": {"type": "string", "maxLength": 8},
                "count": {"type": "integer"},
                "urgent": {"type": "boolean"},
                "skill": {"type": ["string", "null"]},
            },
            "required": ["intent", "query", "count", "urgent", "skill"],
            "additionalProperties": false,
        }))
        .unwrap()
    }

    /// Feeds `text` byte by byte, returning how many bytes were accepted.
    fn accepted(c: &mut JsonSchemaConstraint, text: &str) -> usize {
        text.bytes().take_while(|b| c.push(&[*b])).count()
    }

    #[test]
    fn accepts_a_valid_object_and_completes_exactly_at_its_end() {
        let mut c = router();
        let text = r#"{"intent": "search", "query": "a\"\u00e9b", "count": -12, "urgent": true, "skill": null}"#;
        for (i, b) in text.bytes().enumerate() {
            assert!(!c.is_complete(), "complete early at {i}");
            assert!(
                c.push(&[b]),
                "rejected byte {i} ({:?}) of {text}",
                b as char
            );
        }
        assert!(c.is_complete());
        assert!(!c.push(b" "), "nothing may follow a complete value");
        let v: Value = serde_json::from_slice(c.output()).unwrap();
        assert_eq!(v["query"], "a\"éb");
    }

    #[test]
    fn rejects_invalid_bytes_at_each_kind_of_position() {
        // The constraint writes keys; a different key, or whitespace, is refused.
        let mut c = router();
        assert_eq!(accepted(&mut c, r#"{"intnt""#), 5);
        let mut c = router();
        assert_eq!(accepted(&mut c, "{ "), 1);
        // Enum: only the listed values.
        let mut c = router();
        assert_eq!(accepted(&mut c, r#"{"intent": "sex"#), 14);
        // maxLength 8 counts characters, escapes and multi-byte ones as one.
        let mut c = router();
        let prefix = r#"{"intent": "skill", "query": ""#;
        assert_eq!(accepted(&mut c, prefix), prefix.len());
        assert_eq!(accepted(&mut c, r#"办\n\u0041bcdef"#), 16, "8 characters");
        assert!(!c.push(b"g"));
        assert!(c.push(b"\""));
        // Control characters, bad escapes, lone surrogates, invalid UTF-8.
        for bad in ["\n", "\\x", "\\uD800", "\\udc00", "\u{1}"] {
            let mut c = router();
            c.push(prefix.as_bytes());
            assert!(c.check(bad.as_bytes()).is_none(), "{bad:?}");
        }
        let mut c = router();
        c.push(prefix.as_bytes());
        assert!(c.check(&[0xC0, 0x80]).is_none(), "overlong");
        assert!(c.check(&[0xED, 0xA0, 0x80]).is_none(), "UTF-8 surrogate");
        assert!(c.check(&[0xE4, 0xBD]).is_some(), "a character in progress");
        // Integers: no leading zeros, at most 18 digits, a sign only first.
        let mut c = router();
        let to_count = r#"{"intent": "skill", "query": "", "count": "#;
        c.push(to_count.as_bytes());
        assert!(c.check(b"01").is_none());
        assert!(c.check(b"0,").is_some());
        assert!(c.check(b"-").is_some());
        assert!(c.check(b"-,").is_none());
        assert!(c.check(b"1-").is_none());
        assert!(c.check(&[b'9'; 18]).is_some());
        assert!(c.check(&[b'9'; 19]).is_none());
        // Booleans and null: only the literals, only where allowed.
        assert!(c.check(b"1, \"urgent\": tru").is_some());
        assert!(c.check(b"1, \"urgent\": null").is_none());
        assert!(c.check(b"1, \"urgent\": false, \"skill\": nul").is_some());
    }

    #[test]
    fn forces_keys_and_the_rest_of_an_enum_value() {
        let mut c = router();
        // Every intent starts with `s`.
        assert_eq!(c.forced(), br#"{"intent": "s"#);
        c.push(&c.forced());
        assert!(c.forced().is_empty(), "the model chooses the value");
        c.push(b"m");
        assert_eq!(c.forced(), br#"alltalk", "query": ""#);
        c.push(&c.forced());
        c.push(b"x\"");
        assert_eq!(c.forced(), br#", "count": "#);
    }

    #[test]
    fn closing_is_the_shortest_completion_and_check_reports_its_length() {
        let c = router();
        let closing = c.closing();
        let text = String::from_utf8(closing.clone()).unwrap();
        assert_eq!(
            text,
            r#"{"intent": "skill", "query": "", "count": 0, "urgent": true, "skill": ""}"#
        );
        assert_eq!(c.check(b"").unwrap(), closing.len());
        // From the middle of a string with an escape and a character in progress.
        let mut c = router();
        c.push(br#"{"intent": "search", "query": "\u00"#);
        let mut rest = c.clone();
        let closing = rest.closing();
        assert_eq!(c.check(b"").unwrap(), closing.len());
        assert!(rest.push(&closing) && rest.is_complete());
        serde_json::from_slice::<Value>(rest.output()).unwrap();
        let mut c = router();
        c.push(br#"{"intent": "search", "query": ""#);
        c.push(&[0xE4]);
        let closing = c.closing();
        assert!(c.push(&closing) && c.is_complete());
        serde_json::from_slice::<Value>(c.output()).unwrap();
    }

    #[test]
    fn optional_properties_may_be_left_out_and_nested_objects_work() {
        let schema = json!({
            "type": "object",
            "properties": {
                "b": {"type": "integer"},
                "a": {"type": "object", "properties": {"x": {"type": "boolean"}}, "required": ["x"]},
                "c": {"enum": ["p", "q", null]},
            },
            "required": ["b"],
        });
        let compiled = JsonSchema::compile(&schema).unwrap();
        for text in [
            r#"{"b": 1}"#,
            r#"{"b": 1, "a": {"x": false}}"#,
            r#"{"b": 1, "c": null}"#,
            r#"{"b": 1, "a": {"x": true}, "c": "q"}"#,
        ] {
            let mut c = compiled.constraint();
            assert!(c.push(text.as_bytes()), "{text}");
            assert!(c.is_complete(), "{text}");
        }
        let mut c = compiled.constraint();
        assert!(
            !c.push(br#"{"b": 1, "c": "p", "a""#),
            "fixed order: a before c"
        );
        let mut c = compiled.constraint();
        assert_eq!(c.forced(), br#"{"b": "#);
        c.push(br#"{"b": 7"#);
        assert_eq!(c.closing(), b"}");
        assert!(c.check(b", \"").is_some());
    }

    #[test]
    fn unsupported_or_invalid_schemas_are_clear_errors() {
        let err = |v: Value| JsonSchema::compile(&v).unwrap_err();
        let e =
            err(json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}));
        assert_eq!(e.code(), "unsupported_schema");
        assert!(
            e.to_string().contains("#/properties/n") && e.to_string().contains("minimum"),
            "{e}"
        );
        assert_eq!(err(json!({"type": "array"})).code(), "unsupported_schema");
        assert_eq!(
            err(json!({"type": "string"})).code(),
            "invalid_schema",
            "root must be an object"
        );
        assert_eq!(
            err(json!({"type": "object", "required": ["x"]})).code(),
            "invalid_schema"
        );
        assert_eq!(
            err(json!({"type": "object", "additionalProperties": true})).code(),
            "unsupported_schema"
        );
        assert_eq!(
            err(json!({"type": "object", "properties": {"s": {"type": "string", "minLength": 3, "maxLength": 2}}}))
                .code(),
            "invalid_schema"
        );
        assert_eq!(
            err(json!({"type": "object", "properties": {"s": {"enum": [1, 2]}}})).code(),
            "invalid_schema"
        );
        // Annotations are fine.
        JsonSchema::compile(
            &json!({"type": "object", "title": "t", "description": "d", "properties": {}}),
        )
        .unwrap();
    }

    #[test]
    fn every_prefix_of_a_shortest_completion_can_still_be_completed() {
        // Walk the closing path byte by byte: at every prefix the reported closing length is
        // exactly what closing() produces, and no state is a dead end.
        let mut c = router();
        while !c.is_complete() {
            let closing = c.closing();
            assert_eq!(c.check(b""), Some(closing.len()));
            assert!(c.push(&closing[..1]));
        }
    }
}
