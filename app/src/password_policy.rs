//! Roster's password policy: the one place that decides whether a new password
//! is acceptable, used everywhere a password is set (first-run setup, sign-up,
//! reset and change). Server-side only (feature `ssr`).
//!
//! The rules, checked in this order, each refusing with its own message:
//! 1. Length: at least [`Policy::min_chars`] characters (configurable, default
//!    12, never below [`FLOOR_CHARS`]) and at most [`MAX_CHARS`], counted in
//!    characters (Unicode scalar values). Then the confirmation must match.
//! 2. Not on the blocklist of common and breached passwords shipped with
//!    Roster (`app/data/blocklist.txt.gz`, see `app/data/README.md`),
//!    compared case-insensitively.
//! 3. Does not contain the user's email name (the part before the @) or their
//!    first or last name, each only when at least 3 characters long, compared
//!    case-insensitively. Names made of several words (and email names made of
//!    several parts split by `.`, `_`, `-` or `+`) are also checked word by word.
//! 4. A zxcvbn score of at least [`MIN_SCORE`], with the user's email, names
//!    and "roster" as user inputs; the refusal carries zxcvbn's feedback.
//!
//! There are no composition rules (no "one digit, one symbol").
//!
//! [`Policy::parse`] is the only way to make a [`NewPassword`], the type every
//! service that stores a password hash takes.

use std::fmt;
use std::io::Read as _;
use std::sync::LazyLock;

/// No configuration may set the minimum length below this.
pub const FLOOR_CHARS: usize = 8;
/// The default minimum length.
pub const DEFAULT_MIN_CHARS: usize = 12;
/// The maximum length.
pub const MAX_CHARS: usize = 128;
/// The lowest acceptable zxcvbn score (0 to 4).
pub const MIN_SCORE: u8 = 3;
/// Personal information shorter than this is not looked for in the password.
const MIN_PERSONAL_CHARS: usize = 3;

/// Who the password is for: what it must not contain and what zxcvbn should
/// treat as easy to guess. Empty strings are fine (an unknown name is skipped).
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

impl<'a> Context<'a> {
    /// The part of the email address before the last @ (all of it if there is none).
    pub fn email_name(&self) -> &'a str {
        let email = self.email.trim();
        email.rsplit_once('@').map(|(local, _)| local).unwrap_or(email)
    }

    fn user_inputs(&self) -> Vec<&'a str> {
        [self.email.trim(), self.email_name(), self.first_name.trim(), self.last_name.trim(), "roster"]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Which piece of personal information a refused password contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalInfo {
    EmailName,
    FirstName,
    LastName,
}

/// Why a password was refused. `Display` gives the message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    TooShort {
        min: usize,
        got: usize,
    },
    /// The confirmation differs from the password.
    Mismatch,
    TooLong {
        max: usize,
        got: usize,
    },
    Blocklisted,
    ContainsPersonalInfo {
        field: PersonalInfo,
    },
    TooGuessable {
        warning: Option<String>,
        suggestions: Vec<String>,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooShort { min, got } => {
                write!(f, "The password is too short: use at least {min} characters (this one has {got}).")
            }
            Refusal::Mismatch => f.write_str("The passwords do not match."),
            Refusal::TooLong { max, got } => {
                write!(f, "The password is too long: use at most {max} characters (this one has {got}).")
            }
            Refusal::Blocklisted => {
                f.write_str("This password is too common: it appears in lists of leaked passwords. Choose another one.")
            }
            Refusal::ContainsPersonalInfo { field } => f.write_str(match field {
                PersonalInfo::EmailName => "The password must not contain the name in your email address.",
                PersonalInfo::FirstName => "The password must not contain your first name.",
                PersonalInfo::LastName => "The password must not contain your last name.",
            }),
            Refusal::TooGuessable { warning, suggestions } => {
                f.write_str("This password is too easy to guess.")?;
                if let Some(w) = warning {
                    write!(f, " {w}")?;
                }
                if suggestions.is_empty() {
                    f.write_str(" Add another word or two. Uncommon words are better.")?;
                }
                for s in suggestions {
                    write!(f, " {s}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// What a live strength meter shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strength {
    /// 0 (very weak) to 4 (very strong). A password the policy refuses never
    /// scores above 2, and a blocklisted one scores 0.
    pub score: u8,
    /// Whether [`Policy::check`] would accept the password.
    pub ok: bool,
    /// Why it would be refused (the refusal's message), if it would be.
    pub message: Option<String>,
    /// zxcvbn's suggestions for a stronger password.
    pub suggestions: Vec<String>,
}

/// The configured policy. Build it with [`Policy::new`] (or `Default`, 12 characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The minimum length in characters. [`Policy::check`] never applies less than [`FLOOR_CHARS`].
    pub min_chars: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self { min_chars: DEFAULT_MIN_CHARS }
    }
}

impl Policy {
    /// A policy with a minimum length of `min_chars`, which must be from
    /// [`FLOOR_CHARS`] to [`MAX_CHARS`].
    pub fn new(min_chars: usize) -> Result<Self, String> {
        if min_chars < FLOOR_CHARS {
            return Err(format!(
                "The minimum password length must be at least {FLOOR_CHARS} characters (it is set to {min_chars})."
            ));
        }
        if min_chars > MAX_CHARS {
            return Err(format!(
                "The minimum password length must be at most {MAX_CHARS} characters (it is set to {min_chars})."
            ));
        }
        Ok(Self { min_chars })
    }

    /// The minimum length applied: the configured one, never below [`FLOOR_CHARS`].
    pub fn min(&self) -> usize {
        self.min_chars.clamp(FLOOR_CHARS, MAX_CHARS)
    }

    /// The only way to make a [`NewPassword`]: the length, then the
    /// confirmation, then every other rule, each refusal saying why.
    pub fn parse(&self, password: &str, confirmation: &str, ctx: &Context) -> Result<NewPassword, Refusal> {
        self.check_length(password)?;
        if password != confirmation {
            return Err(Refusal::Mismatch);
        }
        self.check(password, ctx)?;
        Ok(NewPassword(password.to_string()))
    }

    /// Accept the password, or say exactly why not.
    pub fn check(&self, password: &str, ctx: &Context) -> Result<(), Refusal> {
        self.check_rules(password, ctx)?;
        let entropy = zxcvbn::zxcvbn(password, &ctx.user_inputs());
        if u8::from(entropy.score()) < MIN_SCORE {
            return Err(too_guessable(&entropy));
        }
        Ok(())
    }

    /// How strong the password is, and whether it would be accepted, for a live meter.
    pub fn strength(&self, password: &str, ctx: &Context) -> Strength {
        // zxcvbn looks at the first 100 characters only, so this is bounded.
        let entropy = zxcvbn::zxcvbn(password, &ctx.user_inputs());
        let zscore = u8::from(entropy.score());
        let suggestions =
            entropy.feedback().map(|fb| fb.suggestions().iter().map(ToString::to_string).collect()).unwrap_or_default();
        let refusal = match self.check_rules(password, ctx) {
            Err(r) => Some(r),
            Ok(()) if zscore < MIN_SCORE => Some(too_guessable(&entropy)),
            Ok(()) => None,
        };
        let score = match &refusal {
            None => zscore,
            Some(Refusal::Blocklisted) => 0,
            Some(_) => zscore.min(MIN_SCORE - 1),
        };
        Strength { score, ok: refusal.is_none(), message: refusal.map(|r| r.to_string()), suggestions }
    }

    fn check_length(&self, password: &str) -> Result<(), Refusal> {
        let got = password.chars().count();
        let min = self.min();
        if got < min {
            return Err(Refusal::TooShort { min, got });
        }
        if got > MAX_CHARS {
            return Err(Refusal::TooLong { max: MAX_CHARS, got });
        }
        Ok(())
    }

    /// Every rule but zxcvbn's, cheapest first.
    fn check_rules(&self, password: &str, ctx: &Context) -> Result<(), Refusal> {
        self.check_length(password)?;
        if is_blocklisted(password) {
            return Err(Refusal::Blocklisted);
        }
        if let Some(field) = personal_info_in(password, ctx) {
            return Err(Refusal::ContainsPersonalInfo { field });
        }
        Ok(())
    }
}

/// A new password that satisfies the policy: made only by [`Policy::parse`].
///
/// Never `Serialize`, never `Display`, and `Debug` is redacted, so it cannot
/// be logged or sent back by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

fn too_guessable(entropy: &zxcvbn::Entropy) -> Refusal {
    let feedback = entropy.feedback();
    Refusal::TooGuessable {
        warning: feedback.and_then(|fb| fb.warning()).map(|w| w.to_string()),
        suggestions: feedback.map(|fb| fb.suggestions().iter().map(ToString::to_string).collect()).unwrap_or_default(),
    }
}

/// The first piece of personal information (of at least 3 characters) that
/// the password contains, case-insensitively.
fn personal_info_in(password: &str, ctx: &Context) -> Option<PersonalInfo> {
    let password = password.to_lowercase();
    let contains = |value: &str, separators: &[char]| {
        let value = value.trim().to_lowercase();
        std::iter::once(value.as_str())
            .chain(value.split(separators))
            .any(|part| part.chars().count() >= MIN_PERSONAL_CHARS && password.contains(part))
    };
    let name_separators: &[char] = &[' ', '\t', '-', '\'', '’', '.'];
    if contains(ctx.email_name(), &['.', '_', '-', '+']) {
        Some(PersonalInfo::EmailName)
    } else if contains(ctx.first_name, name_separators) {
        Some(PersonalInfo::FirstName)
    } else if contains(ctx.last_name, name_separators) {
        Some(PersonalInfo::LastName)
    } else {
        None
    }
}

/// The blocklist as shipped: gzipped, one lower-case password per line.
static BLOCKLIST_GZ: &[u8] = include_bytes!("../data/blocklist.txt.gz");

/// Decompressed at first use, sorted for binary search.
#[allow(clippy::expect_used, reason = "embedded at compile time; the tests decompress and search it")]
static BLOCKLIST: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut text = String::new();
    flate2::read::GzDecoder::new(BLOCKLIST_GZ)
        .read_to_string(&mut text)
        .expect("the embedded password blocklist is valid gzipped UTF-8");
    // Loaded once for the life of the process.
    let text: &'static str = Box::leak(text.into_boxed_str());
    let mut words: Vec<&'static str> = text.lines().filter(|l| !l.is_empty()).collect();
    words.sort_unstable();
    words.dedup();
    words
});

/// Whether the password is on the blocklist, ignoring case and surrounding whitespace.
pub fn is_blocklisted(password: &str) -> bool {
    let key = password.trim().to_lowercase();
    BLOCKLIST.binary_search(&key.as_str()).is_ok()
}

/// How many passwords the blocklist holds.
pub fn blocklist_len() -> usize {
    BLOCKLIST.len()
}

/// Decompress the blocklist now (at server start, say) rather than on the first check.
pub fn preload() {
    LazyLock::force(&BLOCKLIST);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CTX: Context<'static> = Context { email: "laura.martin@kbank.com", first_name: "Laura", last_name: "Martin" };
    const STRONG: &str = "correct horse battery staple violet";

    fn blocklist() -> &'static [&'static str] {
        &BLOCKLIST
    }

    #[test]
    fn the_blocklist_has_at_least_100_000_lower_case_entries_of_acceptable_length() {
        assert!(blocklist_len() >= 100_000, "{}", blocklist_len());
        for w in blocklist() {
            let n = w.chars().count();
            assert!((FLOOR_CHARS..=MAX_CHARS).contains(&n), "{w:?}");
            assert_eq!(w.to_lowercase(), *w);
            assert_eq!(w.trim(), *w);
        }
    }

    #[test]
    fn common_passwords_are_blocklisted_whatever_their_case() {
        for p in ["password1234", "PASSWORD1234", "Password1234", " qwertyuiop ", "iloveyou", "1qaz2wsx3edc"] {
            assert!(is_blocklisted(p), "{p}");
        }
        assert!(!is_blocklisted(STRONG));
        assert!(!is_blocklisted("correcthorsebatterystapleviolet"));
    }

    #[test]
    fn a_strong_passphrase_passes() {
        assert_eq!(Policy::default().check(STRONG, &CTX), Ok(()));
        let s = Policy::default().strength(STRONG, &CTX);
        assert!(s.ok && s.score >= MIN_SCORE && s.message.is_none(), "{s:?}");
        // Without any context too.
        assert_eq!(Policy::default().check(STRONG, &Context::default()), Ok(()));
    }

    #[test]
    fn each_rule_refuses_with_its_own_message() {
        let p = Policy::default();
        let short = p.check("tiny horse", &CTX).unwrap_err();
        assert_eq!(short, Refusal::TooShort { min: 12, got: 10 });
        assert_eq!(short.to_string(), "The password is too short: use at least 12 characters (this one has 10).");

        let long = p.check(&"horse ".repeat(22), &CTX).unwrap_err();
        assert_eq!(long, Refusal::TooLong { max: 128, got: 132 });
        assert_eq!(long.to_string(), "The password is too long: use at most 128 characters (this one has 132).");

        let common = p.check("password1234", &CTX).unwrap_err();
        assert_eq!(common, Refusal::Blocklisted);
        assert_eq!(
            common.to_string(),
            "This password is too common: it appears in lists of leaked passwords. Choose another one."
        );

        let email = p.check("violet laura.martin staple", &CTX).unwrap_err();
        assert_eq!(email, Refusal::ContainsPersonalInfo { field: PersonalInfo::EmailName });
        assert_eq!(email.to_string(), "The password must not contain the name in your email address.");

        let ctx = Context { email: "lm@kbank.com", ..CTX };
        let first = p.check("violet LAURA staple horse", &ctx).unwrap_err();
        assert_eq!(first, Refusal::ContainsPersonalInfo { field: PersonalInfo::FirstName });
        assert_eq!(first.to_string(), "The password must not contain your first name.");
        let last = p.check("violet staple Martin horse", &ctx).unwrap_err();
        assert_eq!(last, Refusal::ContainsPersonalInfo { field: PersonalInfo::LastName });
        assert_eq!(last.to_string(), "The password must not contain your last name.");

        let weak = p.check("kkkkkkkkkkkkkkkkkkkkkkkk", &CTX).unwrap_err();
        let Refusal::TooGuessable { warning, suggestions } = &weak else { panic!("{weak:?}") };
        assert_eq!(warning.as_deref(), Some("Repeats like \"aaa\" are easy to guess."));
        assert!(!suggestions.is_empty());
        let msg = weak.to_string();
        assert!(
            msg.starts_with("This password is too easy to guess. Repeats like \"aaa\" are easy to guess. "),
            "{msg}"
        );
        for s in suggestions {
            assert!(msg.contains(s.as_str()), "{msg}");
        }
    }

    #[test]
    fn zxcvbn_gets_the_users_details_as_inputs() {
        // Too short an email name for the personal-information rule, on no
        // list, and strong enough for a stranger; but not for this user.
        let pw = "zq@quillfeather.org1987";
        let ctx = Context { email: "zq@quillfeather.org", first_name: "Al", last_name: "Ng" };
        assert!(!is_blocklisted(pw));
        assert_eq!(Policy::default().check(pw, &Context::default()), Ok(()));
        assert!(matches!(Policy::default().check(pw, &ctx), Err(Refusal::TooGuessable { .. })));
        assert!(Policy::default().strength(pw, &ctx).score < MIN_SCORE);
    }

    #[test]
    fn personal_information_is_only_looked_for_from_three_characters_and_word_by_word() {
        let p = Policy::default();
        let ctx = Context { email: "al@kbank.com", first_name: "Al", last_name: "Ng" };
        assert_eq!(p.check("almond nightingale violet", &ctx), Ok(()));
        let ctx = Context { email: "x@kbank.com", first_name: "Mary Ann", last_name: "de la Cruz" };
        assert_eq!(
            p.check("violet staple cruz horse", &ctx),
            Err(Refusal::ContainsPersonalInfo { field: PersonalInfo::LastName })
        );
        assert_eq!(
            p.check("violet staple mary horse", &ctx),
            Err(Refusal::ContainsPersonalInfo { field: PersonalInfo::FirstName })
        );
        let ctx = Context { email: "j.smithers+hr@kbank.com", first_name: "", last_name: "" };
        assert_eq!(
            p.check("violet staple Smithers horse", &ctx),
            Err(Refusal::ContainsPersonalInfo { field: PersonalInfo::EmailName })
        );
    }

    #[test]
    fn the_minimum_is_configurable_but_never_below_8() {
        assert!(Policy::new(7).unwrap_err().contains("at least 8"));
        assert!(Policy::new(129).unwrap_err().contains("at most 128"));
        assert_eq!(Policy::new(8), Ok(Policy { min_chars: 8 }));
        assert_eq!(Policy::default().min_chars, 12);
        let p = Policy::new(16).unwrap();
        assert_eq!(p.check(STRONG, &CTX), Ok(()));
        assert_eq!(p.check("violet staple", &CTX), Err(Refusal::TooShort { min: 16, got: 13 }));
        // A hand-built policy below the floor still gets the floor.
        let lax = Policy { min_chars: 2 };
        assert_eq!(lax.check("abc", &CTX), Err(Refusal::TooShort { min: 8, got: 3 }));
    }

    #[test]
    fn parse_checks_length_then_confirmation_then_the_rules() {
        let p = Policy::default();
        assert_eq!(p.parse("short", "other", &CTX).unwrap_err(), Refusal::TooShort { min: 12, got: 5 });
        assert_eq!(p.parse(STRONG, &format!("{STRONG}!"), &CTX).unwrap_err(), Refusal::Mismatch);
        assert_eq!(Refusal::Mismatch.to_string(), "The passwords do not match.");
        assert_eq!(p.parse("password1234", "password1234", &CTX).unwrap_err(), Refusal::Blocklisted);
        let made = p.parse(STRONG, STRONG, &CTX).unwrap();
        assert_eq!(made.expose(), STRONG);
        assert_eq!(format!("{made:?}"), "NewPassword(..)");
    }

    #[test]
    fn length_is_counted_in_characters_as_in_the_browser() {
        let p = Policy::default();
        let eleven = "é".repeat(11);
        assert_eq!(p.check(&eleven, &CTX), Err(Refusal::TooShort { min: 12, got: 11 }));
        assert_eq!(p.parse(&eleven, &eleven, &CTX).unwrap_err(), Refusal::TooShort { min: 12, got: 11 });
        assert_eq!(p.check(&"ü".repeat(129), &CTX), Err(Refusal::TooLong { max: 128, got: 129 }));
    }

    #[test]
    fn strength_reports_the_refusal_and_caps_the_score() {
        let p = Policy::default();
        let s = p.strength("password1234", &CTX);
        assert_eq!((s.score, s.ok), (0, false));
        assert_eq!(s.message.as_deref(), Some(Refusal::Blocklisted.to_string().as_str()));

        let s = p.strength("violet laura.martin staple", &CTX);
        assert!(!s.ok && s.score < MIN_SCORE, "{s:?}");
        assert_eq!(s.message.unwrap(), "The password must not contain the name in your email address.");

        let s = p.strength("kkkkkkkkkkkkkkkkkkkkkkkk", &CTX);
        assert!(!s.ok && s.score < MIN_SCORE && !s.suggestions.is_empty(), "{s:?}");
        assert!(s.message.unwrap().starts_with("This password is too easy to guess."));

        let s = p.strength("", &CTX);
        assert_eq!((s.score, s.ok), (0, false));
    }

    /// A blocklist entry with the case of its ASCII letters changed at random.
    fn blocklisted_entry() -> impl Strategy<Value = String> {
        (any::<prop::sample::Index>(), prop::collection::vec(any::<bool>(), 128)).prop_map(|(i, flips)| {
            let w = i.get(blocklist());
            w.chars().zip(flips.iter().cycle()).map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c }).collect()
        })
    }

    fn context() -> impl Strategy<Value = (String, String, String)> {
        ("[a-z][a-z0-9._+-]{0,10}@[a-z]{1,8}\\.[a-z]{2,3}", "[A-Za-z]{0,8}", "[A-Za-z' -]{0,10}")
    }

    fn candidate() -> impl Strategy<Value = String> {
        prop_oneof!["[a-zA-Z0-9 ]{0,140}", "\\PC{0,140}", "[a-z]{3,10}( [a-z]{3,10}){0,5}", blocklisted_entry(),]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn shorter_than_the_minimum_is_refused_as_too_short(
            min in FLOOR_CHARS..=40usize,
            chars in prop::collection::vec(any::<char>(), 0..40),
        ) {
            let password: String = chars.into_iter().take(min - 1).collect();
            let got = password.chars().count();
            let policy = Policy::new(min).unwrap();
            prop_assert_eq!(policy.check(&password, &CTX), Err(Refusal::TooShort { min, got }));
            prop_assert!(!policy.strength(&password, &CTX).ok);
        }

        #[test]
        fn longer_than_128_is_refused_as_too_long(
            min in FLOOR_CHARS..=MAX_CHARS,
            chars in prop::collection::vec(any::<char>(), 129..300),
        ) {
            let password: String = chars.into_iter().collect();
            let got = password.chars().count();
            prop_assert_eq!(Policy::new(min).unwrap().check(&password, &CTX), Err(Refusal::TooLong { max: 128, got }));
        }

        #[test]
        fn an_accepted_password_is_within_bounds_unlisted_and_impersonal(
            password in candidate(),
            (email, first, last) in context(),
            min in FLOOR_CHARS..=16usize,
        ) {
            let ctx = Context { email: &email, first_name: &first, last_name: &last };
            let policy = Policy::new(min).unwrap();
            let verdict = policy.check(&password, &ctx);
            let strength = policy.strength(&password, &ctx);
            prop_assert_eq!(verdict.is_ok(), strength.ok);
            prop_assert_eq!(verdict.as_ref().err().map(ToString::to_string), strength.message.clone());
            if verdict.is_ok() {
                let n = password.chars().count();
                prop_assert!((min..=MAX_CHARS).contains(&n));
                prop_assert!(!is_blocklisted(&password));
                let lower = password.to_lowercase();
                let email_name = email.split('@').next().unwrap();
                prop_assert!(email_name.len() < 3 || !lower.contains(email_name));
                for name in [&first, &last] {
                    prop_assert!(name.trim().chars().count() < 3 || !lower.contains(&name.trim().to_lowercase()));
                }
                prop_assert!(strength.score >= MIN_SCORE);
            } else {
                prop_assert!(strength.score < MIN_SCORE);
            }
        }

        #[test]
        fn blocklist_lookup_ignores_case(password in blocklisted_entry(), s in "[a-zA-Z0-9!@#. ]{0,20}") {
            prop_assert!(is_blocklisted(&password));
            prop_assert!(is_blocklisted(&password.to_ascii_uppercase()));
            prop_assert_eq!(is_blocklisted(&s), is_blocklisted(&s.to_ascii_uppercase()));
            // With the floor as minimum, every entry reaches the blocklist rule and is refused by it.
            prop_assert_eq!(Policy::new(FLOOR_CHARS).unwrap().check(&password, &Context::default()), Err(Refusal::Blocklisted));
        }

        #[test]
        fn a_password_containing_a_name_is_refused(
            name in "[A-Za-z]{3,12}",
            prefix in "[a-z0-9 ]{0,20}",
            suffix in "[a-z0-9 ]{9,20}",
            upper in any::<bool>(),
        ) {
            let shown = if upper { name.to_uppercase() } else { name.to_lowercase() };
            let password = format!("{prefix}{shown}{suffix}");
            for ctx in [
                Context { email: &format!("{name}@example.com"), first_name: "", last_name: "" },
                Context { email: "x@example.com", first_name: &name, last_name: "" },
                Context { email: "x@example.com", first_name: "", last_name: &name },
            ] {
                let verdict = Policy::default().check(&password, &ctx);
                if !is_blocklisted(&password) {
                    prop_assert!(matches!(verdict, Err(Refusal::ContainsPersonalInfo { .. })), "{:?}", verdict);
                } else {
                    prop_assert_eq!(verdict, Err(Refusal::Blocklisted));
                }
            }
        }
    }
}
