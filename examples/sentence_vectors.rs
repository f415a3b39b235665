//! The gateway's sentence vectors, for `scripts/meaning-eval.py`:
//! `sentence_vectors CONFIG FILE…` prints, per message file, one JSON line
//! `{"file", "sentences": [{"i", "text", "v"}]}` with the vectors of the
//! new-text sentences the meaning reading would read (as the gateway
//! chooses them); `sentence_vectors -` reads texts from standard input,
//! one per line, and prints `{"text", "v"}` for each (the examples).
//! Build: `cargo build --release --example sentence_vectors`.
use std::io::BufRead;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: sentence_vectors CONFIG FILE... | sentence_vectors -");
        std::process::exit(2);
    }
    if args[1] == "-" {
        let model = councilgate::policy::semantic::Model::load().expect("model");
        let lines: Vec<String> = std::io::stdin()
            .lock()
            .lines()
            .map(|l| l.expect("standard input"))
            .collect();
        for chunk in lines.chunks(32) {
            let texts: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
            let vs = model.embed(&texts).expect("embed");
            for (t, v) in texts.iter().zip(vs) {
                println!("{}", serde_json::json!({"text": t, "v": v.to_vec()}));
            }
        }
        return;
    }
    let snapshot = councilgate::policy::Snapshot::load(Path::new(&args[1])).expect("policy");
    let sem = snapshot.semantic.as_ref().expect("semantic on");
    for f in &args[2..] {
        let raw = std::fs::read(f).expect("file");
        let sentences = councilgate::policy::engine::new_text_sentences(&snapshot, &raw);
        let vectors = sem.embed_sentences(&sentences);
        let mut ss = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            if let Some(v) = &vectors[i] {
                ss.push(serde_json::json!({"i": i, "text": s.text, "v": v.to_vec()}));
            }
        }
        println!("{}", serde_json::json!({"file": f, "sentences": ss}));
    }
}
