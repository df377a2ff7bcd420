//! Classifies questions read from standard input, one per line, with the bundled rules and the
//! default service area: prints `in_scope` or the reason (with the request to look up when only
//! weak rules declined it, see `Judgement::unnamed_service`), a tab, and the question.
//!
//!     printf '北京居住证怎么办理\n医保怎么报销\n' | cargo run -p govassist-safety --example classify

use std::io::BufRead;

use govassist_safety::scope::{judge, Scope, ServiceArea};

fn main() {
    let area = ServiceArea::default();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("standard input is text");
        if line.trim().is_empty() {
            continue;
        }
        let judgement = judge(&line, &area);
        let verdict = match judgement.scope {
            Scope::InScope => "in_scope".to_string(),
            Scope::OutOfScope(reason) => match judgement.unnamed_service {
                Some(request) => format!("{reason} (weak: {request})"),
                None => reason.to_string(),
            },
        };
        println!("{verdict}\t{line}");
    }
}
