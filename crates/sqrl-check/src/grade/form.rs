//! The POST body: its fields (§7) and the base64url spelling of their values (§1.1).

use sqrl_proto::{b64, MAX_BODY_LEN};

use super::model::Grade;

/// The fields of a POST body, as sent; a field repeated keeps its first value.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Fields<'a> {
    pub(super) client: Option<&'a str>,
    pub(super) server: Option<&'a str>,
    pub(super) ids: Option<&'a str>,
    pub(super) pids: Option<&'a str>,
    pub(super) urs: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn slot(&mut self, name: &str) -> Option<&mut Option<&'a str>> {
        match name {
            "client" => Some(&mut self.client),
            "server" => Some(&mut self.server),
            "ids" => Some(&mut self.ids),
            "pids" => Some(&mut self.pids),
            "urs" => Some(&mut self.urs),
            _ => None,
        }
    }

    fn present(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        [
            ("client", self.client),
            ("server", self.server),
            ("ids", self.ids),
            ("pids", self.pids),
            ("urs", self.urs),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
    }
}

/// A name from the client, cut short and made printable for the evidence.
fn shown(text: &str) -> String {
    text.chars()
        .take(24)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Splits the body and grades its form (`body-form`) and its values' alphabet and padding
/// (`base64url-alphabet`, `base64url-no-padding`).
pub(super) fn grade_fields<'a>(body: &'a [u8], grades: &mut Vec<Grade>) -> Fields<'a> {
    const RULE: &str = "body-form";
    let mut fields = Fields::default();
    if body.len() > MAX_BODY_LEN {
        grades.push(Grade::fail(
            RULE,
            "§7",
            format!(
                "the body is {} bytes; the limit is {MAX_BODY_LEN}",
                body.len()
            ),
        ));
        return fields;
    }
    let Ok(text) = core::str::from_utf8(body) else {
        grades.push(Grade::fail(RULE, "§7", "the body is not UTF-8 text"));
        return fields;
    };
    let mut problems = Vec::new();
    let mut count = 0usize;
    for pair in text.trim_end_matches(['\r', '\n']).split('&') {
        if pair.is_empty() {
            continue;
        }
        count = count.saturating_add(1);
        let Some((name, value)) = pair.split_once('=') else {
            problems.push(format!("a field without '=' ({})", shown(pair)));
            continue;
        };
        match fields.slot(name) {
            Some(slot) if slot.is_some() => problems.push(format!("{name} sent twice")),
            Some(slot) => *slot = Some(value),
            None => {}
        }
    }
    if count > 16 {
        problems.push(format!("{count} fields; at most 16"));
    }
    for (name, value) in [
        ("client", fields.client),
        ("server", fields.server),
        ("ids", fields.ids),
    ] {
        if value.is_none() {
            problems.push(format!("no {name}"));
        }
    }
    grades.push(if problems.is_empty() {
        let names: Vec<&str> = fields.present().map(|(name, _)| name).collect();
        Grade::pass(RULE, "§7", format!("fields {}", names.join(", ")))
    } else {
        Grade::fail(RULE, "§7", problems.join("; "))
    });
    grade_alphabet(&fields, grades);
    fields
}

fn grade_alphabet(fields: &Fields<'_>, grades: &mut Vec<Grade>) {
    let mut foreign = Vec::new();
    let mut padded = Vec::new();
    for (name, value) in fields.present() {
        let unpadded = value.trim_end_matches('=');
        if value.len() != unpadded.len() {
            padded.push(name);
        }
        if let Some((position, byte)) = value
            .bytes()
            .enumerate()
            .find(|&(i, b)| !(b64::is_alphabet(b) || (b == b'=' && i >= unpadded.len())))
        {
            foreign.push(format!(
                "{name} has {:?} at position {position}",
                char::from(byte)
            ));
        } else if value.is_empty() {
            foreign.push(format!("{name} is empty"));
        }
    }
    if fields.present().next().is_none() {
        return;
    }
    grades.push(if foreign.is_empty() {
        Grade::pass(
            "base64url-alphabet",
            "§1.1",
            "every value is base64url (A-Z a-z 0-9 - _), not percent-encoded",
        )
    } else {
        Grade::fail("base64url-alphabet", "§1.1", foreign.join("; "))
    });
    grades.push(if padded.is_empty() {
        Grade::pass(
            "base64url-no-padding",
            "§1.1",
            "no value ends in '=' padding",
        )
    } else {
        Grade::fail(
            "base64url-no-padding",
            "§1.1",
            format!(
                "{} end in '=' padding; SQRL encodes without it",
                padded.join(", ")
            ),
        )
    });
}
