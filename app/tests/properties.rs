//! Property tests for Roster's parsers: email addresses, secret tokens, the
//! post-sign-in destination (`next`), and the Users import file (CSV).
//! (The password policy's properties live beside it, in `app/src/password_policy.rs`.)
//!
//! Run with `cargo test -p app --features ssr --test properties`.
#![cfg(feature = "ssr")]
// Test code: a failed step panics with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::domain::EmailAddress;
use app::server::crypto::Token;
use app::server::session::next_destination;
use proptest::prelude::*;
use url::Url;

const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Mostly well-formed addresses, with the odd defect and surrounding whitespace.
fn address_like() -> impl Strategy<Value = String> {
    (
        "[ \t]{0,2}",
        "[a-zA-Z0-9._%+\\-]{0,20}",
        prop_oneof![Just("@"), Just("@@"), Just("")],
        "[a-zA-Z0-9\\-]{0,12}(\\.[a-zA-Z0-9\\-]{0,8}){0,3}",
        "[ \t\n]{0,2}",
    )
        .prop_map(|(lead, local, at, domain, trail)| format!("{lead}{local}{at}{domain}{trail}"))
}

fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![address_like(), "\\PC{0,40}", ".{0,40}", "[a-zé@. ]{0,30}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_accepted_email_address_is_well_formed(input in any_input()) {
        if let Ok(email) = EmailAddress::parse(&input) {
            let s = email.as_str();
            prop_assert_eq!(s, input.trim());
            prop_assert!(s.contains('@'));
            prop_assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()));
            prop_assert!(s.chars().count() <= 254);
            let local = email.local_part();
            prop_assert!(!local.is_empty() && local.len() <= 64 && !local.contains('@'));
            let (_, domain) = s.rsplit_once('@').unwrap();
            prop_assert!(domain.contains('.'));
            let normalized = email.normalized();
            prop_assert_eq!(normalized.to_lowercase(), normalized.clone());
            prop_assert_eq!(normalized, s.to_lowercase());
        }
    }

    #[test]
    fn parsing_an_email_address_is_idempotent(input in any_input()) {
        if let Ok(email) = EmailAddress::parse(&input) {
            prop_assert_eq!(EmailAddress::parse(email.as_str()), Ok(email.clone()));
            prop_assert_eq!(EmailAddress::parse(&email.to_string()), Ok(email.clone()));
            // Through serde too, as a server function receives it.
            let json = serde_json::to_string(&email).unwrap();
            prop_assert_eq!(serde_json::from_str::<EmailAddress>(&json).unwrap(), email);
        }
    }

    #[test]
    fn a_well_formed_email_address_is_accepted_trimmed_and_lower_cased_on_demand(
        local in "[a-zA-Z0-9]{1,6}([.+_-][a-zA-Z0-9]{1,6}){0,2}",
        domain in "[a-zA-Z0-9]{1,10}(-[a-zA-Z0-9]{1,5})?\\.[a-zA-Z]{2,6}",
        pad in "[ \t]{0,2}",
    ) {
        let bare = format!("{local}@{domain}");
        let input = format!("{pad}{bare}{pad}");
        let email = EmailAddress::parse(&input);
        prop_assert!(email.is_ok(), "{:?}", email);
        let email = email.unwrap();
        prop_assert_eq!(email.as_str(), bare.as_str());
        prop_assert_eq!(email.local_part(), local.as_str());
        prop_assert_eq!(email.normalized(), bare.to_lowercase());
        prop_assert_eq!(EmailAddress::parse(email.as_str()), Ok(email.clone()));
        prop_assert_eq!(EmailAddress::parse(&email.normalized()).map(|e| e.normalized()), Ok(email.normalized()));
    }

    #[test]
    fn an_email_address_with_inner_whitespace_is_refused(
        a in "[a-z]{1,8}",
        ws in prop_oneof![Just(" "), Just("\t"), Just("\u{a0}"), Just("\n")],
        b in "[a-z]{1,8}",
    ) {
        let in_local = format!("{a}{ws}{b}@example.com");
        let in_domain = format!("{a}@exa{ws}{b}.com");
        let without = format!("{a}{b}@example.com");
        prop_assert!(EmailAddress::parse(&in_local).is_err());
        prop_assert!(EmailAddress::parse(&in_domain).is_err());
        prop_assert!(EmailAddress::parse(&without).is_ok());
    }

    #[test]
    fn an_email_address_without_an_at_sign_is_refused(input in "[^@]{0,60}") {
        prop_assert!(EmailAddress::parse(&input).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_tokens_always_parse(_round in 0..1u8) {
        let token = Token::generate();
        let parsed = Token::parse(token.expose());
        prop_assert!(parsed.is_some());
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.expose(), token.expose());
        prop_assert_eq!(parsed.hash(), token.hash());
        prop_assert_eq!(token.expose().len(), 43);
    }

    #[test]
    fn any_43_character_base64url_string_parses(s in "[A-Za-z0-9_-]{43}") {
        prop_assert_eq!(Token::parse(&s).map(|t| t.expose().to_string()), Some(s));
    }

    #[test]
    fn strings_of_another_length_never_parse(
        s in prop_oneof!["[A-Za-z0-9_-]{0,42}", "[A-Za-z0-9_-]{44,100}", "\\PC{0,100}"]
    ) {
        prop_assume!(s.len() != 43);
        prop_assert!(Token::parse(&s).is_none());
    }

    #[test]
    fn a_character_outside_base64url_is_never_accepted(
        base in "[A-Za-z0-9_-]{43}",
        bad in any::<char>().prop_filter("outside base64url", |c| !BASE64URL.contains(*c)),
        at in 0..43usize,
    ) {
        // In place of one character: still 43 characters.
        let mut chars: Vec<char> = base.chars().collect();
        chars[at] = bad;
        let replaced: String = chars.iter().collect();
        prop_assert!(Token::parse(&replaced).is_none(), "{:?}", replaced);
        // Inserted: 44 characters.
        let mut inserted = base.clone();
        inserted.insert(at, bad);
        prop_assert!(Token::parse(&inserted).is_none(), "{:?}", inserted);
    }
}

fn select(v: Vec<&'static str>) -> impl Strategy<Value = String> {
    prop::sample::select(v).prop_map(str::to_string)
}

/// What an open redirect is made of: a scheme or none, a run of slashes,
/// backslashes, tabs, newlines and their encodings, a host, and a tail; or
/// tricks strung together; or arbitrary text.
fn next_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        3 => Just(String::new()),
        1 => select(vec!["http:", "https:", "HTTPS:", "javascript:", "data:", "ftp:", "file:"]),
    ];
    let slashes = prop::collection::vec(select(vec!["/", "\\", "\t", "\n", "%09"]), 0..5).prop_map(|v| v.concat());
    let host = select(vec![
        "",
        "evil.example",
        "evil.example:443",
        "user:pass@evil.example",
        "roster.example.com@evil.example",
        "[::1]",
        "127.0.0.1:3000",
        "roster.example.com",
        "evil\u{3002}example",
    ]);
    let shaped = (scheme, slashes, host, "[a-z0-9/?#=&.%]{0,10}").prop_map(|(a, b, c, d)| format!("{a}{b}{c}{d}"));
    let tricks = select(vec![
        "/",
        "//",
        "\\",
        "/\\",
        "\t",
        "\n",
        "\r",
        " ",
        "\u{0}",
        "\u{a0}",
        "%0a",
        "%2F",
        "%5C",
        "%2e",
        ".",
        "..",
        "/./",
        "/../",
        "@",
        ":",
        "?",
        "#",
        ";",
        "https:",
        "javascript:",
        "//evil.example",
        "evil.example",
        "\u{ff0f}",
        "\u{2215}",
    ]);
    let strung = prop::collection::vec(prop_oneof![3 => tricks, 1 => "[a-z0-9]{1,6}", 1 => "\\PC{1,3}"], 0..8)
        .prop_map(|v| v.concat());
    prop_oneof![4 => shaped, 2 => strung, 1 => "\\PC{0,40}", 1 => ".{0,40}"]
}

fn publics() -> [Url; 3] {
    [
        Url::parse("https://roster.example.com/").unwrap(),
        Url::parse("http://127.0.0.1:3000/").unwrap(),
        Url::parse("https://[2001:db8::1]:8443/").unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn the_destination_after_sign_in_always_resolves_to_the_public_origin(next in next_like()) {
        for public in publics() {
            let to = next_destination(&public, Some(&next));
            prop_assert!(to.starts_with('/'), "{:?} -> {:?}", next, to);
            // Resolved as the browser resolves it, from the sign-in page or any other.
            for page in ["/signin?next=x", "/users/42", "/"] {
                let here = public.join(page).unwrap();
                let there = here.join(&to);
                prop_assert!(there.is_ok(), "{:?} -> {:?}", next, to);
                prop_assert_eq!(there.unwrap().origin(), public.origin(), "{:?} -> {:?} on {}", next, to, public);
            }
        }
    }

    #[test]
    fn a_path_on_roster_is_kept(
        path in "(/[a-z0-9_-]{1,8}){1,4}/?",
        query in prop::option::of("[a-z]{1,5}=[a-z0-9%]{0,6}(&[a-z]{1,5}=[a-z0-9]{0,6}){0,2}"),
    ) {
        let next = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        for public in publics() {
            prop_assert_eq!(next_destination(&public, Some(&next)), next.clone());
        }
    }
}

// ---- the Users import file ---------------------------------------------------------

use app::users::csv::{defuse, parse_import, ImportLine, MAX_IMPORT_BYTES};

/// A cell: any text, separators, quotes and line breaks included.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9 .@'-]{0,12}", "[a-z,;\"|\r\n\t é=+-]{0,12}", "\\PC{0,10}",]
}

/// A role name as people write them (no `;` or `|`, which separate roles).
fn role_name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9 ,\"é-]{0,10}"
}

/// (email, first name, last name, roles) of one person.
fn person() -> impl Strategy<Value = (String, String, String, Vec<String>)> {
    ("[a-z0-9.,;\" ]{0,8}@[a-z]{1,8}\\.[a-z]{2,3}", cell(), cell(), prop::collection::vec(role_name(), 0..4))
}

/// The file a spreadsheet would write for these people, and what reading it must give.
fn written(
    people: &[(String, String, String, Vec<String>)],
    delimiter: u8,
    bom: bool,
    crlf: bool,
    role_separator: &str,
) -> (Vec<u8>, Vec<ImportLine>) {
    let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
    let mut out = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
    {
        let mut w = csv::WriterBuilder::new().delimiter(delimiter).terminator(terminator).from_writer(&mut out);
        w.write_record(["Email", "First name", "Last name", "Roles"]).unwrap();
        for (email, first, last, roles) in people {
            w.write_record([email.as_str(), first, last, &roles.join(role_separator)]).unwrap();
        }
        w.flush().unwrap();
    }
    let expected = people
        .iter()
        .map(|(email, first, last, roles)| ImportLine {
            line: 0,
            email: email.trim().to_string(),
            first_name: first.trim().to_string(),
            last_name: last.trim().to_string(),
            roles: roles.iter().map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect(),
            problem: None,
        })
        .collect();
    (out, expected)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever a spreadsheet writes (either separator, BOM or not, CRLF or
    /// LF, quotes wherever needed), reading it gives back every cell.
    #[test]
    fn an_import_file_reads_back_what_was_written(
        people in prop::collection::vec(person(), 1..12),
        semicolons in any::<bool>(),
        bom in any::<bool>(),
        crlf in any::<bool>(),
        pipes in any::<bool>(),
    ) {
        let delimiter = if semicolons { b';' } else { b',' };
        let (file, expected) = written(&people, delimiter, bom, crlf, if pipes { " | " } else { ";" });
        let rows = parse_import(&file).unwrap();
        let got: Vec<ImportLine> = rows.iter().cloned().map(|r| ImportLine { line: 0, ..r }).collect();
        prop_assert_eq!(got, expected);
        // Lines count up from 2 (the header is line 1), whatever the cells hold.
        prop_assert_eq!(rows[0].line, 2);
        prop_assert!(rows.windows(2).all(|w| w[0].line < w[1].line));
    }

    /// No input makes the reader panic, and what it accepts is within its limits.
    #[test]
    fn any_bytes_are_read_or_refused_with_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        match parse_import(&bytes) {
            Ok(rows) => prop_assert!(!rows.is_empty() && bytes.len() <= MAX_IMPORT_BYTES),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    /// An exported cell never starts a formula, and only a leading quote is added.
    #[test]
    fn exported_cells_never_start_a_formula(s in "\\PC{0,20}|[=+@\t\r-].{0,10}") {
        let d = defuse(&s);
        prop_assert!(!d.starts_with(['=', '+', '-', '@', '\t', '\r']));
        let quoted = format!("'{s}");
        prop_assert!(d == s || d == quoted);
    }
}
