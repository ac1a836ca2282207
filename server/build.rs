//! Watches the site the binary embeds (`src/site.rs`), and puts the git
//! commit the binary is built from into `ROSTER_GIT_COMMIT`, for
//! `server --version`: `git rev-parse --short HEAD`, or the
//! `ROSTER_GIT_COMMIT` environment variable when set (a build from a source
//! archive), or "unknown" without git.
//!
//! Cargo runs this again only when HEAD moves: it watches `HEAD` and the ref
//! it points to (the files that exist: a file that does not would make cargo
//! run this script on every build).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ROSTER_GIT_COMMIT");
    // The site the binary carries (src/site.rs): rust-embed reads
    // `target/site` when this crate compiles, and a rebuilt site must be
    // embedded again, also when it appears after the first build. Cargo
    // scans a watched directory's files; while it does not exist, this
    // script (and so the embedding) runs on every build.
    if let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") {
        println!("cargo:rerun-if-changed={}", Path::new(&dir).join("../target/site").display());
    }
    let commit = std::env::var("ROSTER_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=ROSTER_GIT_COMMIT={}", commit.trim());

    // `--git-path` finds the files in a linked worktree too (its HEAD in its
    // own directory, the refs in the shared one).
    let Some(head) = git_path("HEAD") else { return };
    watch(&head);
    if let Some(reference) =
        std::fs::read_to_string(&head).ok().and_then(|h| Some(h.strip_prefix("ref:")?.trim().to_string()))
    {
        if let Some(path) = git_path(&reference) {
            watch(&path);
        }
        // A packed ref changes there instead.
        if let Some(path) = git_path("packed-refs") {
            watch(&path);
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// The path of a file in the git directory, absolute.
fn git_path(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(git(&["rev-parse", "--git-path", name])?);
    if path.is_absolute() {
        return Some(path);
    }
    // Relative to the working directory, which is the manifest's directory.
    let dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    Some(Path::new(&dir).join(path))
}

fn watch(path: &Path) {
    if path.is_file() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
