//! MIME rewriting alone: arbitrary bytes as a message, with every kind of
//! change the rules make (headers, visible copies, footers, a banner).
//! Must never panic, and the rewritten message must still be a message:
//! it parses, its header section ends where one ends, and it keeps most of
//! the original's bytes (all but the Content-Type and
//! Content-Transfer-Encoding fields it may replace). Input is read as the
//! DATA phase stores it (`message::crlf`: every bare CR or LF a CRLF).
#![no_main]

use councilgate::message::View;
use councilgate::message::rewrite::{Changes, apply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = councilgate::message::crlf(data);
    let view = View::parse(&raw);
    let changes = Changes {
        headers: vec![("X-Council-Protocol".into(), "instruction-to-staff".into())],
        cc: vec![("Clara Hughes".into(), "clerk@example-tc.gov.uk".into())],
        footer: vec!["CC councillor Siân Llewellyn".into()],
        banner: vec!["CAUTION: this message could not be verified.".into()],
    };
    // The rewrite may replace these fields of a part whose charset or
    // transfer encoding it changes: their length is not content.
    let replaceable: usize = view
        .parsed()
        .map(|m| {
            m.parts
                .iter()
                .flat_map(|p| p.headers.iter())
                .filter(|h| {
                    h.name().eq_ignore_ascii_case("Content-Type")
                        || h.name().eq_ignore_ascii_case("Content-Transfer-Encoding")
                })
                .map(|h| (h.offset_end() as usize).saturating_sub(h.offset_field() as usize))
                .sum()
        })
        .unwrap_or(0);
    let out = apply(&view, &changes);
    let end = councilgate::message::header_section_len(&out);
    assert!(end <= out.len());
    assert!(
        out.len() + 64 + replaceable >= raw.len() / 2,
        "the rewrite lost most of the message"
    );
    let _ = View::parse(&out);
});
