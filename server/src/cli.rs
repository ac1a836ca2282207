//! The command line (clap): `server` alone runs Roster, like `server serve`;
//! the other commands do one job against the configured database and exit.
//! `server --help` lists every command with its options; `server COMMAND
//! --help` explains one.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// `0.1.0 (commit 1a2b3c4)`: the commit comes from `build.rs`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ROSTER_GIT_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version = VERSION,
    about = "Roster: people, roles and sign-in for your applications.",
    long_about = "Roster: people, roles and sign-in for your applications.\n\n\
        Without a command it runs the server (`server serve`).")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Roster (what `server` alone does).
    Serve,
    /// Create a Global administrator, for headless installs: the password is read from standard input
    /// (its first line).
    CreateAdmin {
        /// The administrator's email address (their sign-in name).
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// Their first name.
        #[arg(long, value_name = "NAME", default_value = "")]
        first_name: String,
        /// Their last name.
        #[arg(long, value_name = "NAME", default_value = "")]
        last_name: String,
    },
    /// Create the demo roles Digital Channel Manager and Content Editor (once), to try the restricted
    /// Dashboard.
    SeedDemo,
    /// Rotate the ID token signing keys now.
    #[command(long_about = "Rotate the ID token signing keys now: the key published since the last rotation \
        signs from now on, the one it replaces leaves the JWKS once its tokens have expired, and a new one is \
        published.")]
    RotateSigningKey,
    /// Write a consistent copy of the SQLite database to PATH, also while Roster runs.
    #[command(long_about = "Write a consistent copy of the SQLite database to PATH (a new file), also while \
        Roster runs and writes (SQLite's VACUUM INTO). The encryption key is not in the copy: keep roster.key \
        (or encryption_key) separately. With PostgreSQL, use pg_dump -Fc instead.")]
    Backup {
        /// The new file to write; an existing file is never overwritten.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Replace the SQLite database with the backup at PATH; Roster must be stopped.
    #[command(long_about = "Replace the SQLite database with the backup at PATH. Roster must be stopped (no \
        server or other command may use the database). The backup is checked first: SQLite's integrity check, a \
        Roster database, no migration newer than this version. The database it replaces is kept beside it \
        (roster.db.before-restore-<time>). An older backup is brought up to date when the server next starts. \
        With PostgreSQL, use pg_restore --clean --if-exists instead.")]
    Restore {
        /// The backup to restore (a file `server backup` wrote).
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Every registered server function, one `METHOD /path` a line (for the integration tests).
    #[command(hide = true)]
    ListServerFns,
}

impl Cli {
    /// Parse the process's arguments; `--help`, `--version` and mistakes print and exit here.
    pub fn parse_args() -> Self {
        let command = Self::command();
        let summary = commands_summary(&command);
        let matches = command.after_help(summary).get_matches();
        match Self::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(e) => e.exit(),
        }
    }
}

/// The `--help` epilogue: every command with all its options, so one
/// `server --help` shows how to call each.
fn commands_summary(command: &clap::Command) -> String {
    let mut text = String::from("Commands and their options:\n");
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut line = format!("  server {}", sub.get_name());
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let value = arg
                .get_value_names()
                .and_then(|names| names.first())
                .map_or_else(|| arg.get_id().as_str().to_uppercase(), |n| n.to_string());
            let word = match arg.get_long() {
                Some(long) => format!("--{long} <{value}>"),
                None => format!("<{value}>"),
            };
            if arg.is_required_set() {
                line.push_str(&format!(" {word}"));
            } else {
                line.push_str(&format!(" [{word}]"));
            }
        }
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(
        "\nEach command explains itself: server COMMAND --help.\nConfiguration: roster.toml (or the file named by \
         ROSTER_CONFIG) and ROSTER_* environment variables; the README lists every setting.",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_keep_their_arguments() {
        let cli = Cli::try_parse_from(["server"]).unwrap();
        assert!(cli.command.is_none(), "no command: serve");
        let cli =
            Cli::try_parse_from(["server", "create-admin", "--email", "a@example.com", "--first-name", "A"]).unwrap();
        match cli.command {
            Some(Command::CreateAdmin { email, first_name, last_name }) => {
                assert_eq!((email.as_str(), first_name.as_str(), last_name.as_str()), ("a@example.com", "A", ""));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["server", "create-admin"]).is_err(), "--email is required");
        for args in [
            &["seed-demo"][..],
            &["rotate-signing-key"],
            &["list-server-fns"],
            &["backup", "x.db"],
            &["restore", "x.db"],
        ] {
            let mut argv = vec!["server"];
            argv.extend_from_slice(args);
            assert!(Cli::try_parse_from(&argv).is_ok(), "{args:?}");
        }
        assert!(Cli::try_parse_from(["server", "backup"]).is_err(), "backup needs a path");
    }

    #[test]
    fn help_lists_every_command_with_its_options() {
        let summary = commands_summary(&Cli::command());
        for needle in [
            "serve",
            "create-admin --email <EMAIL> [--first-name <NAME>] [--last-name <NAME>]",
            "seed-demo",
            "rotate-signing-key",
            "backup <PATH>",
            "restore <PATH>",
        ] {
            assert!(summary.contains(needle), "{needle} in\n{summary}");
        }
        assert!(!summary.contains("list-server-fns"), "hidden");
        Cli::command().debug_assert();
    }
}
