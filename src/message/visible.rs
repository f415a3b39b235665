//! Names from a message (attachment names, subjects, display names) are
//! written by whoever sent it, and some characters make a name lie: a
//! right-to-left override (U+202E) before "fdp.exe" makes "invoice" +
//! U+202E + "fdp.exe" show as "invoiceexe.pdf",
//! zero-width characters hide inside a familiar name, and NUL or other
//! control characters confuse what shows them. [`visible`] turns each of
//! them into a marker the reader can see (`[U+202E]`); [`extension`] gives
//! an attachment's real final extension, to show on its own.

/// Whether `c` is a character that must not reach a reader as it is:
/// control characters (NUL among them), bidirectional controls, and
/// invisible formatting characters.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `s` with every hidden character shown as `[U+XXXX]`.
pub fn visible(s: &str) -> String {
    if !s.chars().any(hidden) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hidden(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The real final extension of a file name, lower case, without the dot
/// ("exe" for "invoice\u{202E}fdp.exe"); empty when there is none. Hidden
/// characters are left out before it is read.
pub fn extension(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !hidden(*c)).collect();
    let base = clean.rsplit(['/', '\\']).next().unwrap_or("");
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() && ext.len() <= 16 => {
            ext.trim().to_lowercase()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_cannot_disguise_an_extension() {
        let name = "invoice\u{202E}fdp.exe";
        assert_eq!(visible(name), "invoice[U+202E]fdp.exe");
        assert_eq!(extension(name), "exe");
    }

    #[test]
    fn zero_width_nul_and_controls_are_shown() {
        assert_eq!(visible("Cla\u{200B}ra"), "Cla[U+200B]ra");
        assert_eq!(visible("a\0b"), "a[U+0000]b");
        assert_eq!(visible("tab\there"), "tab[U+0009]here");
        assert_eq!(visible("Siân Llewellyn"), "Siân Llewellyn");
        assert_eq!(extension("report"), "");
        assert_eq!(extension(".profile"), "");
        assert_eq!(extension("minutes.PDF"), "pdf");
    }
}
