//! Detectors over the envelope rather than the words.

use super::{Ctx, Finding};

/// `manager-not-copied`: a target officer whose line manager (the
/// `manager` address in the directory, or any other address of that
/// person) is not among the recipients. Narrows the targets to them.
pub fn manager_not_copied(ctx: &Ctx<'_>) -> Option<Finding> {
    let mut evidence = Vec::new();
    let mut targets = Vec::new();
    for &i in ctx.targets {
        let Some(officer) = ctx.recipients[i].person else {
            continue;
        };
        let Some((manager_address, manager)) = ctx.dir.manager_of(officer) else {
            continue;
        };
        let copied =
            ctx.recipients.iter().any(|r| r.person == Some(manager)) || ctx.sender == Some(manager);
        if !copied {
            evidence.push(format!(
                "{}'s manager {} <{}> is not a recipient",
                ctx.dir.person(officer).name,
                ctx.dir.person(manager).name,
                manager_address
            ));
            targets.push(i);
        }
    }
    if targets.is_empty() {
        None
    } else {
        Some(Finding {
            evidence,
            targets: Some(targets),
        })
    }
}
