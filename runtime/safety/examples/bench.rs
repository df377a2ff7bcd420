//! Time per call of each check on a 500-character chat message (they run on every turn).
//!
//!     cargo run --release -p govassist-safety --example bench

use std::hint::black_box;
use std::time::Instant;

use govassist_safety::{pii, scope, script, sensitive::SensitiveWords};

fn time<T>(name: &str, rounds: u32, mut f: impl FnMut() -> T) {
    for _ in 0..rounds / 10 {
        black_box(f());
    }
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(f());
    }
    let per_call = start.elapsed() / rounds;
    println!("{name:<28} {:>8.1} µs", per_call.as_secs_f64() * 1e6);
}

fn main() {
    let unit = "您好，我想咨询一下办理营业执照需要哪些材料。我的手机号是13812345678，身份证号440301199001011234，\
                公司在福田区，统一社会信用代码91350100M000100Y43。之前在北京办过，现在想在深圳重新登记，\
                工资卡6222021234567890128。请问需要本人到现场吗？";
    let mut message = String::new();
    while message.chars().count() < 500 {
        message.push_str(unit);
    }
    let message: String = message.chars().take(500).collect();
    let plain: String = "请问在深圳办理居住证需要准备哪些材料，网上可以预约吗？"
        .repeat(20)
        .chars()
        .take(500)
        .collect();
    let words = SensitiveWords::default_list();
    let area = scope::ServiceArea::default();
    let answer =
        "办理营业执照需要提供申请书、身份证明、住所证明等材料。复杂的情况请拨打12345热线咨询。"
            .repeat(10);

    println!("500-character message ({} bytes):", message.len());
    time("pii::mask (with PII)", 20_000, || pii::mask(&message));
    time("pii::mask (no PII)", 20_000, || pii::mask(&plain));
    time("pii::redact", 20_000, || pii::redact(&message));
    time("sensitive.censor", 20_000, || words.censor(&message));
    time("scope::classify", 20_000, || {
        scope::classify(&message, &area)
    });
    time("scope::classify (short)", 50_000, || {
        scope::classify("北京居住证怎么办理？", &area)
    });
    time("script::to_traditional", 20_000, || {
        script::to_traditional(&answer)
    });
}
