//! `display-name`: a From display name that shows a person in the
//! directory ("Clara Hughes (Clerk)") or a council post joined to the
//! council ("Clerk, Example Town Council"). The rule adds the condition
//! that the address itself is outside the council: the classic "the clerk
//! asks the RFO to pay this invoice" fraud arrives that way, and mail
//! clients show the name, not the address. A person's own personal address
//! is that person (the directory says so), never an outsider.

use super::{Ctx, Finding};
use crate::policy::lexicon::normalise;

pub const LISTS: &[&str] = &["impersonation.posts"];

/// `text` lower case, punctuation as spaces, single spaces.
fn words(text: &str) -> String {
    normalise(text)
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `phrase` stands in `text` as whole words (both in [`words`] form).
fn has_words(text: &str, phrase: &str) -> bool {
    !phrase.is_empty() && format!(" {text} ").contains(&format!(" {phrase} "))
}

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let posts = ctx.lex.list("impersonation.posts");
    let council = words(&ctx.dir.council_name);
    let from = ctx.analysis.from.first().map(String::as_str).unwrap_or("");
    let mut evidence = Vec::new();
    for name in &ctx.analysis.from_names {
        let shown = words(name);
        // A directory person's full name (two words or more).
        for p in &ctx.dir.people {
            let full = words(&p.name);
            if full.contains(' ') && has_words(&shown, &full) {
                evidence.push(format!(
                    "display name \"{name}\" is {} ({}), but the message is from {from}",
                    p.name,
                    p.primary_address()
                ));
            }
        }
        // A council post with the council's name (or the word "council").
        if evidence.is_empty()
            && let Some(post) = posts.find(&shown)
            && (has_words(&shown, &council) || has_words(&shown, "council"))
        {
            evidence.push(format!(
                "display name \"{name}\" shows the post \"{post}\" of the council, but the message is from {from}"
            ));
        }
    }
    Finding::from_sentences(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compared_as_whole_words() {
        assert_eq!(words("Clara  Hughes (Clerk)"), "clara hughes clerk");
        assert!(has_words("clara hughes clerk", "clara hughes"));
        assert!(!has_words("clarabel hughesley", "clara hughes"));
        assert!(!has_words("anything", ""));
    }
}
