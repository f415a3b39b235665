//! `councilgate directory import members.csv`: people from a spreadsheet.
//!
//! Councils keep their member and staff lists in spreadsheets. The CSV has a
//! header row with the columns `name, role, addresses, positions, manager`
//! (any order, any case; addresses and positions separated by `;`). The
//! council section, exemptions and periods of the existing directory are
//! kept; its people are replaced. Every row is checked and every problem
//! reported with its row number; the result must then load as a directory
//! (one Proper Officer, managers that exist, no shared address) before
//! anything is written, so a bad file changes nothing.

use super::directory::{Directory, Position};

const COLUMNS: &[&str] = &["name", "role", "addresses", "positions", "manager"];

fn role(s: &str) -> Option<&'static str> {
    match s.trim().to_lowercase().as_str() {
        "councillor" | "cllr" | "member" | "councilor" => Some("councillor"),
        "officer" | "staff" | "employee" | "clerk" => Some("officer"),
        _ => None,
    }
}

fn position(s: &str) -> Option<Position> {
    let key = s.trim().to_lowercase().replace(['_', ' '], "-");
    let p = match key.as_str() {
        "chair" | "chairman" | "chairperson" | "mayor" => Position::Chair,
        "vice-chair" | "vice-chairman" | "deputy-mayor" => Position::ViceChair,
        "committee-chair" => Position::CommitteeChair,
        "proper-officer" | "town-clerk" | "parish-clerk" => Position::ProperOfficer,
        "deputy-proper-officer" | "deputy-clerk" => Position::DeputyProperOfficer,
        "senior" | "senior-officer" | "manager" => Position::Senior,
        "rfo" | "responsible-financial-officer" => Position::Rfo,
        _ => return None,
    };
    Some(p)
}

fn split_list(s: &str) -> Vec<String> {
    s.split([';', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// The new `directory.toml` text, or every problem found.
pub fn import_csv(csv_text: &str, csv_name: &str, existing: &str) -> Result<String, Vec<String>> {
    let mut errors = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|x| x.trim().to_lowercase()).collect(),
        Err(e) => {
            return Err(vec![format!(
                "{csv_name}: the header row cannot be read: {e}"
            )]);
        }
    };
    for h in &headers {
        if !COLUMNS.contains(&h.as_str()) {
            errors.push(format!(
                "{csv_name}: unknown column {h:?}; expected {}",
                COLUMNS.join(", ")
            ));
        }
    }
    for needed in ["name", "role", "addresses"] {
        if !headers.iter().any(|h| h == needed) {
            errors.push(format!("{csv_name}: the column {needed:?} is missing"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let col = |name: &str| headers.iter().position(|h| h == name);
    let mut people: Vec<toml::Value> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2; // the header is row 1
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{csv_name} row {row}: {e}"));
                continue;
            }
        };
        let get = |name: &str| {
            col(name)
                .and_then(|c| record.get(c))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let name = get("name");
        let at = if name.is_empty() {
            format!("{csv_name} row {row}")
        } else {
            format!("{csv_name} row {row} ({name})")
        };
        if name.is_empty() {
            errors.push(format!("{at}: the name is empty"));
        }
        let Some(role) = role(&get("role")) else {
            errors.push(format!(
                "{at}: role {:?} — expected councillor or officer",
                get("role")
            ));
            continue;
        };
        let addresses = split_list(&get("addresses"));
        if addresses.is_empty() {
            errors.push(format!("{at}: no address"));
        }
        for a in &addresses {
            if !a.contains('@') || a.starts_with('@') || a.ends_with('@') || a.contains(' ') {
                errors.push(format!("{at}: {a:?} is not an email address"));
            }
        }
        let mut positions = Vec::new();
        for p in split_list(&get("positions")) {
            match position(&p) {
                Some(x) => positions.push(toml::Value::String(x.as_str().to_string())),
                None => errors.push(format!(
                    "{at}: position {p:?} — expected chair, vice-chair, committee-chair, proper-officer, deputy-proper-officer, senior or rfo"
                )),
            }
        }
        let manager = get("manager");
        if !manager.is_empty() && role == "councillor" {
            errors.push(format!("{at}: a councillor has no manager"));
        }
        let mut person = toml::map::Map::new();
        person.insert("name".into(), toml::Value::String(name));
        person.insert("role".into(), toml::Value::String(role.into()));
        person.insert(
            "addresses".into(),
            toml::Value::Array(addresses.into_iter().map(toml::Value::String).collect()),
        );
        person.insert("positions".into(), toml::Value::Array(positions));
        if !manager.is_empty() {
            person.insert("manager".into(), toml::Value::String(manager));
        }
        people.push(toml::Value::Table(person));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if people.is_empty() {
        return Err(vec![format!("{csv_name}: no people in the file")]);
    }
    let mut doc: toml::Table = match toml::from_str(existing) {
        Ok(t) => t,
        Err(e) => return Err(vec![format!("the existing directory cannot be read: {e}")]),
    };
    doc.insert("people".into(), toml::Value::Array(people));
    let body = match toml::to_string_pretty(&doc) {
        Ok(b) => b,
        Err(e) => return Err(vec![format!("cannot write the directory: {e}")]),
    };
    let text = format!(
        "# The council directory. People imported from {csv_name} on {}; the council,\n# exemptions and periods are kept from the previous file.\n\n{body}",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    // The whole must load as a directory before anything is written.
    Directory::parse(&text, "the imported directory").map_err(|e| vec![e.to_string()])?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXISTING: &str = include_str!("../../config/directory.toml");

    #[test]
    fn imports_people_and_keeps_the_rest() {
        let csv = "Name,Role,Addresses,Positions,Manager\nClara Hughes,officer,clerk@example-tc.gov.uk;clara.hughes@example-tc.gov.uk,proper officer;RFO,\nDafydd Rees,Officer,deputy.clerk@example-tc.gov.uk,deputy clerk,clerk@example-tc.gov.uk\nAlex Green,staff,alex.green@example-tc.gov.uk,,deputy.clerk@example-tc.gov.uk\nJane Smith,Cllr,cllr.smith@example-tc.gov.uk; janesmith@gmail.com,Chair,\n";
        let text = import_csv(csv, "members.csv", EXISTING).expect("imports");
        let d = Directory::parse(&text, "t").expect("valid");
        assert_eq!(d.people.len(), 4);
        assert_eq!(d.person(d.proper_officer()).name, "Clara Hughes");
        assert_eq!(d.council_name, "Example Town Council");
        assert_eq!(d.exemptions.len(), 1, "exemptions kept");
        assert_eq!(d.periods.len(), 1, "periods kept");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_number() {
        let csv = "name,role,addresses,positions,manager\nClara Hughes,officer,clerk@example-tc.gov.uk,proper-officer,\nBob,gardener,bob@example-tc.gov.uk,,\n,councillor,someone@x.org,,\nAnn,councillor,not-an-address,mayoress,\n";
        let errors = import_csv(csv, "members.csv", EXISTING).expect_err("bad rows");
        let all = errors.join("\n");
        assert!(all.contains("row 3 (Bob): role \"gardener\""), "{all}");
        assert!(all.contains("row 4: the name is empty"), "{all}");
        assert!(
            all.contains("row 5 (Ann): \"not-an-address\" is not an email address"),
            "{all}"
        );
        assert!(all.contains("row 5 (Ann): position \"mayoress\""), "{all}");
    }

    #[test]
    fn the_whole_must_be_a_valid_directory() {
        // No Proper Officer; the exemption names people who are gone.
        let csv = "name,role,addresses\nJane Smith,councillor,cllr.smith@example-tc.gov.uk\n";
        let errors = import_csv(csv, "members.csv", EXISTING).expect_err("invalid");
        assert!(
            errors[0].contains("proper-officer") || errors[0].contains("exemptions"),
            "{errors:?}"
        );
    }

    #[test]
    fn unknown_columns_are_refused() {
        let errors = import_csv("name,role,adresses\n", "m.csv", EXISTING).expect_err("typo");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("unknown column \"adresses\"")),
            "{errors:?}"
        );
    }
}
