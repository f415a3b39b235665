//! The admin's files: arbitrary text as rules.toml, wordlists.toml,
//! examples.toml, protocol.toml and directory.toml. Each is refused with an
//! error naming the file, or accepted — never a panic. A protocol that
//! parses is applied to the shipped rules, and an examples file that parses
//! takes an added example and still parses.
#![no_main]

use councilgate::policy::{Lexicon, directory::Directory, protocol::Protocol, rules, semantic};
use libfuzzer_sys::fuzz_target;

/// The shipped word lists and rules, compiled once (compiling them for
/// every input made the target run a few inputs a second).
fn shipped() -> &'static (Lexicon, Vec<rules::Rule>) {
    static SHIPPED: std::sync::OnceLock<(Lexicon, Vec<rules::Rule>)> = std::sync::OnceLock::new();
    SHIPPED.get_or_init(|| {
        let lex = Lexicon::parse(councilgate::policy::lexicon::DEFAULT_WORDLISTS, "w").expect("lists");
        let rs = rules::compile(rules::DEFAULT_RULES, "rules.toml", &lex)
            .expect("shipped rules")
            .rules;
        (lex, rs)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (lex, shipped_rules) = shipped();
    if let Err(e) = rules::compile(text, "rules.toml", lex) {
        assert!(e.to_string().contains("rules.toml"));
    }
    if let Err(e) = Lexicon::parse(text, "wordlists.toml") {
        assert!(e.to_string().contains("wordlists.toml"));
    }
    if let Err(e) = Directory::parse(text, "directory.toml") {
        assert!(e.to_string().contains("directory.toml"));
    }
    match semantic::Examples::parse(text, "examples.toml") {
        Ok(_) => {
            let added = semantic::examples::with_added(
                text,
                "instruction",
                semantic::Label::Negative,
                &["A sentence the fuzzer adds.".to_string()],
            );
            // Adding to a valid file keeps it valid, or is refused by name.
            if let Err(e) = semantic::Examples::parse(&added, "examples.toml") {
                assert!(e.to_string().contains("examples.toml"));
            }
        }
        Err(e) => assert!(e.to_string().contains("examples.toml")),
    }
    match Protocol::parse(text, "protocol.toml") {
        Ok(p) => {
            let mut rs = shipped_rules.clone();
            let _ = p.apply("Example Town Council", &mut rs, "protocol.toml");
            let _ = p.coverage(&rs);
        }
        Err(e) => assert!(e.to_string().contains("protocol.toml")),
    }
});
