//! The data generator: N users with roles, a share of invited (some expired)
//! and disabled users, written with multi-row INSERTs in large transactions
//! straight into a database the real server has already migrated.
//!
//! Rows are what Roster itself would write: `email_norm` is the lower-cased
//! email, `name_sort` is `app::server::name_sort(first, last)`, active users
//! carry an Argon2id hash made by the app's own hasher (one hash, reused),
//! invited users have no name and no password, an `invite_expires_at`, an
//! invitation (SHA-256 of a fresh token) and its invitation email rendered by
//! the app's template; roles come from `server seed-demo` plus a few custom
//! roles with View grants. The audit log is not back-filled.

use app::server::crypto::Token;
use app::server::name_sort;
use app::settings::template::{render, TemplateKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{AnyConnection, Connection, Row};
use std::fmt::Write as _;
use std::time::Instant;

const FIRST: &[(&str, &str)] = &[
    ("Laura", "laura"),
    ("James", "james"),
    ("Maria", "maria"),
    ("Robert", "robert"),
    ("Linda", "linda"),
    ("Michael", "michael"),
    ("Barbara", "barbara"),
    ("William", "william"),
    ("Elizabeth", "elizabeth"),
    ("David", "david"),
    ("Jennifer", "jennifer"),
    ("Richard", "richard"),
    ("Susan", "susan"),
    ("Joseph", "joseph"),
    ("Jessica", "jessica"),
    ("Thomas", "thomas"),
    ("Sarah", "sarah"),
    ("Charles", "charles"),
    ("Karen", "karen"),
    ("Daniel", "daniel"),
    ("Nancy", "nancy"),
    ("Matthew", "matthew"),
    ("Lisa", "lisa"),
    ("Anthony", "anthony"),
    ("Betty", "betty"),
    ("Mark", "mark"),
    ("Sandra", "sandra"),
    ("Donald", "donald"),
    ("Ashley", "ashley"),
    ("Steven", "steven"),
    ("Kimberly", "kimberly"),
    ("Paul", "paul"),
    ("Emily", "emily"),
    ("Andrew", "andrew"),
    ("Donna", "donna"),
    ("Joshua", "joshua"),
    ("Michelle", "michelle"),
    ("Kenneth", "kenneth"),
    ("Carol", "carol"),
    ("Kevin", "kevin"),
    ("Amanda", "amanda"),
    ("Brian", "brian"),
    ("Melissa", "melissa"),
    ("George", "george"),
    ("Deborah", "deborah"),
    ("Timothy", "timothy"),
    ("Stephanie", "stephanie"),
    ("Ronald", "ronald"),
    ("Rebecca", "rebecca"),
    ("Jason", "jason"),
    ("Sharon", "sharon"),
    ("Edward", "edward"),
    ("Laura", "laura"),
    ("Jeffrey", "jeffrey"),
    ("Cynthia", "cynthia"),
    ("Ryan", "ryan"),
    ("Kathleen", "kathleen"),
    ("Jacob", "jacob"),
    ("Amy", "amy"),
    ("Gary", "gary"),
    ("Angela", "angela"),
    ("Nicholas", "nicholas"),
    ("Shirley", "shirley"),
    ("Eric", "eric"),
    ("Anna", "anna"),
    ("Jonathan", "jonathan"),
    ("Brenda", "brenda"),
    ("Stephen", "stephen"),
    ("Pamela", "pamela"),
    ("Larry", "larry"),
    ("Emma", "emma"),
    ("Justin", "justin"),
    ("Nicole", "nicole"),
    ("Scott", "scott"),
    ("Helen", "helen"),
    ("Brandon", "brandon"),
    ("Samantha", "samantha"),
    ("Benjamin", "benjamin"),
    ("Katherine", "katherine"),
    ("Samuel", "samuel"),
    ("Christine", "christine"),
    ("Gregory", "gregory"),
    ("Debra", "debra"),
    ("Alexander", "alexander"),
    ("Rachel", "rachel"),
    ("Patrick", "patrick"),
    ("Carolyn", "carolyn"),
    ("Frank", "frank"),
    ("Janet", "janet"),
    ("Raymond", "raymond"),
    ("Catherine", "catherine"),
    ("Jack", "jack"),
    ("Maria", "maria"),
    ("Dennis", "dennis"),
    ("Heather", "heather"),
    ("Jerry", "jerry"),
    ("Diane", "diane"),
    ("Tyler", "tyler"),
    ("Ruth", "ruth"),
    ("Aaron", "aaron"),
    ("Julie", "julie"),
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("Chloé", "chloe"),
    ("Jürgen", "jurgen"),
    ("Ana", "ana"),
    ("Mei", "mei"),
    ("Hiroshi", "hiroshi"),
    ("Priya", "priya"),
    ("Arjun", "arjun"),
    ("Fatima", "fatima"),
    ("Omar", "omar"),
    ("Ingrid", "ingrid"),
    ("Mateo", "mateo"),
    ("Sofia", "sofia"),
    ("Noah", "noah"),
    ("Olivia", "olivia"),
    ("Liam", "liam"),
    ("Ava", "ava"),
    ("Lucas", "lucas"),
    ("Mia", "mia"),
];

const LAST: &[(&str, &str)] = &[
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Williams", "williams"),
    ("Brown", "brown"),
    ("Jones", "jones"),
    ("Garcia", "garcia"),
    ("Miller", "miller"),
    ("Davis", "davis"),
    ("Rodriguez", "rodriguez"),
    ("Martinez", "martinez"),
    ("Hernandez", "hernandez"),
    ("Lopez", "lopez"),
    ("Gonzalez", "gonzalez"),
    ("Wilson", "wilson"),
    ("Anderson", "anderson"),
    ("Thomas", "thomas"),
    ("Taylor", "taylor"),
    ("Moore", "moore"),
    ("Jackson", "jackson"),
    ("Martin", "martin"),
    ("Lee", "lee"),
    ("Perez", "perez"),
    ("Thompson", "thompson"),
    ("White", "white"),
    ("Harris", "harris"),
    ("Sanchez", "sanchez"),
    ("Clark", "clark"),
    ("Ramirez", "ramirez"),
    ("Lewis", "lewis"),
    ("Robinson", "robinson"),
    ("Walker", "walker"),
    ("Young", "young"),
    ("Allen", "allen"),
    ("King", "king"),
    ("Wright", "wright"),
    ("Scott", "scott"),
    ("Torres", "torres"),
    ("Nguyen", "nguyen"),
    ("Hill", "hill"),
    ("Flores", "flores"),
    ("Green", "green"),
    ("Adams", "adams"),
    ("Nelson", "nelson"),
    ("Baker", "baker"),
    ("Hall", "hall"),
    ("Rivera", "rivera"),
    ("Campbell", "campbell"),
    ("Mitchell", "mitchell"),
    ("Carter", "carter"),
    ("Roberts", "roberts"),
    ("Kowalski", "kowalski"),
    ("Nowak", "nowak"),
    ("Wiśniewski", "wisniewski"),
    ("Müller", "muller"),
    ("Schmidt", "schmidt"),
    ("Schneider", "schneider"),
    ("Fischer", "fischer"),
    ("Weber", "weber"),
    ("Meyer", "meyer"),
    ("Wagner", "wagner"),
    ("Becker", "becker"),
    ("Dubois", "dubois"),
    ("Lefèvre", "lefevre"),
    ("Moreau", "moreau"),
    ("Laurent", "laurent"),
    ("Rossi", "rossi"),
    ("Russo", "russo"),
    ("Ferrari", "ferrari"),
    ("Esposito", "esposito"),
    ("Bianchi", "bianchi"),
    ("Romano", "romano"),
    ("Colombo", "colombo"),
    ("Ricci", "ricci"),
    ("Marino", "marino"),
    ("Greco", "greco"),
    ("Bruno", "bruno"),
    ("Gallo", "gallo"),
    ("Conti", "conti"),
    ("De Luca", "deluca"),
    ("Mancini", "mancini"),
    ("Costa", "costa"),
    ("Silva", "silva"),
    ("Santos", "santos"),
    ("Oliveira", "oliveira"),
    ("Souza", "souza"),
    ("Pereira", "pereira"),
    ("Almeida", "almeida"),
    ("Ferreira", "ferreira"),
    ("Carvalho", "carvalho"),
    ("Gomes", "gomes"),
    ("Martins", "martins"),
    ("Araújo", "araujo"),
    ("Ribeiro", "ribeiro"),
    ("Jensen", "jensen"),
    ("Nielsen", "nielsen"),
    ("Hansen", "hansen"),
    ("Pedersen", "pedersen"),
    ("Andersen", "andersen"),
    ("Larsen", "larsen"),
    ("Johansson", "johansson"),
    ("Karlsson", "karlsson"),
    ("Nilsson", "nilsson"),
    ("Eriksson", "eriksson"),
    ("Larsson", "larsson"),
    ("Olsson", "olsson"),
    ("Persson", "persson"),
    ("Svensson", "svensson"),
    ("Gustafsson", "gustafsson"),
    ("Tanaka", "tanaka"),
    ("Suzuki", "suzuki"),
    ("Takahashi", "takahashi"),
    ("Watanabe", "watanabe"),
    ("Yamamoto", "yamamoto"),
    ("Nakamura", "nakamura"),
    ("Kobayashi", "kobayashi"),
    ("Kim", "kim"),
    ("Park", "park"),
    ("Choi", "choi"),
    ("Wang", "wang"),
    ("Li", "li"),
    ("Zhang", "zhang"),
    ("Liu", "liu"),
    ("Chen", "chen"),
    ("Yang", "yang"),
    ("Huang", "huang"),
    ("Zhao", "zhao"),
    ("Wu", "wu"),
    ("Zhou", "zhou"),
    ("Patel", "patel"),
    ("Sharma", "sharma"),
    ("Singh", "singh"),
    ("Kumar", "kumar"),
    ("Gupta", "gupta"),
    ("Khan", "khan"),
    ("Ali", "ali"),
    ("Ahmed", "ahmed"),
    ("Hassan", "hassan"),
    ("O'Brien", "obrien"),
    ("O'Connor", "oconnor"),
    ("Murphy", "murphy"),
    ("Kelly", "kelly"),
    ("Byrne", "byrne"),
    ("Ryan", "ryan"),
    ("Walsh", "walsh"),
    ("McCarthy", "mccarthy"),
    ("Novák", "novak"),
    ("Svoboda", "svoboda"),
    ("Horváth", "horvath"),
    ("Kovács", "kovacs"),
    ("Szabó", "szabo"),
    ("Popescu", "popescu"),
    ("Ionescu", "ionescu"),
    ("Ivanov", "ivanov"),
    ("Petrov", "petrov"),
    ("Smirnov", "smirnov"),
    ("Kuznetsov", "kuznetsov"),
    ("Yilmaz", "yilmaz"),
    ("Kaya", "kaya"),
    ("Demir", "demir"),
    ("Cohen", "cohen"),
    ("Levi", "levi"),
    ("Van Dijk", "vandijk"),
    ("De Jong", "dejong"),
    ("Jansen", "jansen"),
    ("Bakker", "bakker"),
    ("Visser", "visser"),
];

const DOMAINS: &[&str] = &[
    "kbank.com",
    "example.com",
    "acme.io",
    "globex.net",
    "initech.com",
    "umbrella.org",
    "hooli.com",
    "stark.industries",
    "wayne.enterprises",
    "wonka.co.uk",
    "cyberdyne.systems",
    "tyrell.corp",
    "soylent.com",
    "vandelay.com",
    "oceanic.aero",
    "gringotts.bank",
    "aperture.science",
    "blackmesa.org",
    "monsters.inc",
    "dundermifflin.com",
];

/// Custom roles added beside `server seed-demo`'s two: (name, grants).
const CUSTOM_ROLES: &[(&str, &[(&str, &str)])] = &[
    ("Support", &[("users", "view"), ("email-queue", "view")]),
    ("Sales", &[("users", "view")]),
    ("Auditor", &[("users", "view"), ("roles", "view"), ("audit-log", "view")]),
];

#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub users: usize,
    pub active: usize,
    pub invited: usize,
    pub expired: usize,
    pub disabled: usize,
    pub administrators: usize,
    pub user_roles: usize,
    pub secs: f64,
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt(v: Option<i64>) -> String {
    v.map_or("NULL".to_string(), |v| v.to_string())
}

async fn scalar(conn: &mut AnyConnection, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(&mut *conn).await.unwrap().try_get::<i64, _>(0).unwrap()
}

async fn exec(conn: &mut AnyConnection, sql: &str) {
    sqlx::raw_sql(sql).execute(&mut *conn).await.unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(300)]));
}

/// Load `n` users into the migrated database at `url`. `password_hash` is the
/// app's hash of the password every active user gets; `site` is the public URL
/// the invitation links point at.
pub async fn load(url: &str, n: usize, password_hash: &str, site: &str) -> Loaded {
    sqlx::any::install_default_drivers();
    let postgres = url.starts_with("postgres");
    let started = Instant::now();
    let mut conn = AnyConnection::connect(url).await.unwrap();
    if !postgres {
        // Loading only: durability of the half-loaded file does not matter.
        exec(&mut conn, "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;").await;
    }
    let now = app::server::now_ms();
    let domain =
        url::Url::parse(site).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or("roster.local".into());

    // Roles: Administrator (migration), the demo roles (server seed-demo), and custom ones.
    exec(&mut conn, "BEGIN").await;
    for (name, grants) in CUSTOM_ROLES {
        let exists =
            scalar(&mut conn, &format!("SELECT COUNT(*) FROM roles WHERE name_norm = {}", q(&name.to_lowercase())))
                .await;
        if exists > 0 {
            continue;
        }
        exec(
            &mut conn,
            &format!(
                "INSERT INTO roles (name, name_norm, description, created_at) VALUES ({}, {}, {}, {now})",
                q(name),
                q(&name.to_lowercase()),
                q(&format!("{name} staff"))
            ),
        )
        .await;
        let id =
            scalar(&mut conn, &format!("SELECT id FROM roles WHERE name_norm = {}", q(&name.to_lowercase()))).await;
        for (app, perm) in *grants {
            exec(
                &mut conn,
                &format!(
                    "INSERT INTO role_permissions (role_id, application, permission) VALUES ({id}, {}, {})",
                    q(app),
                    q(perm)
                ),
            )
            .await;
        }
    }
    exec(&mut conn, "COMMIT").await;
    let admin_role = scalar(&mut conn, "SELECT id FROM roles WHERE builtin = 'administrator'").await;
    let others: Vec<i64> = sqlx::query("SELECT id FROM roles WHERE builtin IS NULL ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<i64, _>(0).unwrap())
        .collect();
    assert!(!others.is_empty(), "run `server seed-demo` first");

    let mut next_user = scalar(&mut conn, "SELECT COALESCE(MAX(id), 0) FROM users").await + 1;
    let mut next_email = scalar(&mut conn, "SELECT COALESCE(MAX(id), 0) FROM emails").await + 1;
    let mut next_inv = scalar(&mut conn, "SELECT COALESCE(MAX(id), 0) FROM invitations").await + 1;

    let mut rng = StdRng::seed_from_u64(0x5eed_2026);
    let mut out = Loaded { users: n, ..Loaded::default() };
    const ROWS_PER_INSERT: usize = 1000;
    const ROWS_PER_TX: usize = 50_000;
    let day = 86_400_000i64;
    let span = 3 * 365 * day; // created over the last three years, in id order
    let ttl = 7 * day;
    let hash = q(password_hash);

    let mut done = 0usize;
    while done < n {
        exec(&mut conn, "BEGIN").await;
        let tx_end = (done + ROWS_PER_TX).min(n);
        while done < tx_end {
            let end = (done + ROWS_PER_INSERT).min(tx_end);
            let mut users = String::from(
                "INSERT INTO users (id, email, email_norm, first_name, last_name, password_hash, enabled, created_at, \
                 last_sign_in_at, name_sort, invite_expires_at) VALUES ",
            );
            let mut roles = String::from("INSERT INTO user_roles (user_id, role_id) VALUES ");
            let mut emails = String::from(
                "INSERT INTO emails (id, kind, user_id, to_addr, subject, body_text, body_html, message_id, status, \
                 attempts, max_attempts, created_at, next_attempt_at, lease_until, sent_at, last_error) VALUES ",
            );
            let mut invs = String::from(
                "INSERT INTO invitations (id, user_id, token_hash, created_at, expires_at, used_at, revoked_at, email_id) VALUES ",
            );
            let (mut n_roles, mut n_invs) = (0, 0);
            for i in done..end {
                let id = next_user;
                next_user += 1;
                let created = now - span + (span / n as i64) * i as i64;
                let (first, first_a) = FIRST[rng.gen_range(0..FIRST.len())];
                let (last, last_a) = LAST[rng.gen_range(0..LAST.len())];
                let dom = DOMAINS[rng.gen_range(0..DOMAINS.len())];
                // A third of the addresses were typed with capitals; email_norm is the lower-case form.
                let email = if rng.gen_bool(0.3) {
                    format!("{first_a}.{}{i}@{dom}", capitalize(last_a)).replacen(first_a, &capitalize(first_a), 1)
                } else {
                    format!("{first_a}.{last_a}{i}@{dom}")
                };
                let email_norm = email.to_lowercase();
                let kind = rng.gen_range(0..1000);
                let sign_in = rng.gen_bool(0.8).then(|| now - rng.gen_range(0..90 * day));
                let (first_name, last_name, pw, enabled, last_in, expires) = if kind < 70 {
                    out.disabled += 1;
                    (first, last, Some(&hash), false, sign_in, None)
                } else if kind < 150 {
                    // Invited: no name, no password yet. The last quarter have expired.
                    let expires = if kind < 130 {
                        out.invited += 1;
                        now + rng.gen_range(day / 24..ttl)
                    } else {
                        out.expired += 1;
                        now - rng.gen_range(day / 24..30 * day)
                    };
                    ("", "", None, true, None, Some(expires))
                } else {
                    out.active += 1;
                    (first, last, Some(&hash), true, sign_in, None)
                };
                if i > done {
                    users.push(',');
                }
                let _ = write!(
                    users,
                    "({id}, {}, {}, {}, {}, {}, {}, {created}, {}, {}, {})",
                    q(&email),
                    q(&email_norm),
                    q(first_name),
                    q(last_name),
                    pw.map_or("NULL", |h| h.as_str()),
                    if enabled { "TRUE" } else { "FALSE" },
                    opt(last_in),
                    q(&name_sort(first_name, last_name)),
                    opt(expires),
                );
                // Roles: a few administrators; otherwise none, one or two of the others.
                let mut mine = Vec::new();
                if i % 2000 == 1999 && enabled && pw.is_some() {
                    mine.push(admin_role);
                    out.administrators += 1;
                } else {
                    let k = rng.gen_range(0..4);
                    if k >= 1 {
                        mine.push(others[rng.gen_range(0..others.len())]);
                    }
                    if k == 3 {
                        let r = others[rng.gen_range(0..others.len())];
                        if !mine.contains(&r) {
                            mine.push(r);
                        }
                    }
                }
                for r in mine {
                    if n_roles > 0 {
                        roles.push(',');
                    }
                    let _ = write!(roles, "({id}, {r})");
                    n_roles += 1;
                }
                if let Some(expires) = expires {
                    let token = Token::generate();
                    let link = format!("{}/signup/{}", site.trim_end_matches('/'), token.expose());
                    let kind = TemplateKind::Invitation;
                    let values = [
                        ("site_name", "Roster".to_string()),
                        ("greeting", app::mail::templates::greeting(first)),
                        ("first_name", first.to_string()),
                        ("email", email.clone()),
                        ("link", link),
                        ("expires", app::time::format_time(expires)),
                        ("valid_for", "7 days".to_string()),
                    ];
                    let mail = render(kind, &kind.default_template(), &values).expect("the default template renders");
                    let message_id = format!("{}@{domain}", &Token::generate().hash()[..32]);
                    let at = expires - ttl;
                    let (status, attempts, sent_at, error) = match rng.gen_range(0..20) {
                        0 => ("failed", 8, None, Some("Connection refused (os error 111)")),
                        1 | 2 => ("queued", 0, None, None),
                        _ => ("sent", 1, Some(at + 2_000), None),
                    };
                    if n_invs > 0 {
                        emails.push(',');
                        invs.push(',');
                    }
                    let _ = write!(
                        emails,
                        "({next_email}, 'invitation', {id}, {}, {}, {}, {}, {}, '{status}', {attempts}, 8, {at}, {at}, NULL, {}, {})",
                        q(&email),
                        q(&mail.subject),
                        q(&mail.text),
                        q(&mail.html),
                        q(&message_id),
                        opt(sent_at),
                        error.map_or("NULL".to_string(), q),
                    );
                    let _ = write!(
                        invs,
                        "({next_inv}, {id}, {}, {at}, {expires}, NULL, NULL, {next_email})",
                        q(&token.hash())
                    );
                    next_email += 1;
                    next_inv += 1;
                    n_invs += 1;
                }
            }
            exec(&mut conn, &users).await;
            if n_roles > 0 {
                exec(&mut conn, &roles).await;
                out.user_roles += n_roles;
            }
            if n_invs > 0 {
                exec(&mut conn, &emails).await;
                exec(&mut conn, &invs).await;
            }
            done = end;
        }
        exec(&mut conn, "COMMIT").await;
        if done.is_multiple_of(200_000) || done == n {
            eprintln!("  generated {done} users in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    if postgres {
        // Explicit ids were written: move the identity sequences past them.
        for t in ["users", "emails", "invitations"] {
            exec(&mut conn, &format!("SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"))
                .await;
        }
    }
    conn.close().await.unwrap();
    out.secs = started.elapsed().as_secs_f64();
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
