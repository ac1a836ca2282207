//! The site the server sends: the compiled WASM, JS and CSS under `pkg/`
//! (with their brotli and gzip copies in a release build) and the public
//! files (favicon). The binary carries the site it was built with, so one
//! file is all a machine needs to run Roster.
//!
//! Where the site comes from, in order:
//! 1. `site_root` (or `LEPTOS_SITE_ROOT`) when set: that directory, as in
//!    development, where `cargo leptos` rebuilds it while the server runs;
//! 2. else the site inside the binary, unpacked at start into a private
//!    temporary directory (0700) that is removed when the server stops: the
//!    leptos page shell reads the hash file and the WASM split manifest from
//!    disk, and `tower-http` serves the precompressed copies from there;
//! 3. else `target/site`, with a warning when it is missing too.
//!
//! `rust-embed` takes `target/site` as it is when the server crate is
//! compiled: `cargo leptos build` compiles the server after the site when the
//! file names carry hashes (`hash-files = true`), and `make test` builds the
//! site before the Rust tests.

use app::server::assets::AssetHashes;
use std::path::{Path, PathBuf};

#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../target/site"]
#[allow_missing = true]
struct Embedded;

/// The site in use, kept for the life of the server (an unpacked copy is
/// removed when this is dropped).
pub enum Site {
    /// A directory on disk: `site_root`, or `target/site`.
    Directory(PathBuf),
    /// The binary's own site, unpacked here.
    Unpacked(tempfile::TempDir),
}

impl Site {
    pub fn root(&self) -> &Path {
        match self {
            Site::Directory(path) => path,
            Site::Unpacked(dir) => dir.path(),
        }
    }

    /// The configured directory, else the binary's site, else `target/site`.
    pub fn locate(configured: Option<&str>) -> Result<Site, String> {
        if let Some(dir) = configured.filter(|d| !d.is_empty()) {
            return Ok(Site::Directory(PathBuf::from(dir)));
        }
        let files = Embedded::iter().count();
        if files > 0 {
            let dir = unpack()?;
            tracing::info!(files, dir = %dir.path().display(), "serving the site this binary carries");
            return Ok(Site::Unpacked(dir));
        }
        let fallback = PathBuf::from("target/site");
        if !fallback.join("pkg").is_dir() {
            tracing::warn!(
                "this binary carries no site and site_root is not set: pages load without their scripts and styles \
                 (build with `make build`, or set site_root)"
            );
        }
        Ok(Site::Directory(fallback))
    }
}

/// Write the carried site into a new private temporary directory, with a
/// hash file (`hash.txt`) naming the hashed files, as cargo-leptos writes it
/// beside the binary it builds.
fn unpack() -> Result<tempfile::TempDir, String> {
    let dir = tempfile::Builder::new()
        .prefix("roster-site-")
        .tempdir()
        .map_err(|e| format!("cannot make a directory to unpack the site into: {e}"))?;
    let mut names = Vec::new();
    for name in Embedded::iter() {
        let Some(file) = Embedded::get(&name) else { continue };
        let path = dir.path().join(name.as_ref());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot unpack the site into {}: {e}", dir.path().display()))?;
        }
        std::fs::write(&path, &file.data)
            .map_err(|e| format!("cannot unpack the site into {}: {e}", dir.path().display()))?;
        if let Some(pkg_file) = name.strip_prefix("pkg/") {
            names.push(pkg_file.to_string());
        }
    }
    if let Some(text) = AssetHashes::hash_file_for(&names, "roster") {
        std::fs::write(dir.path().join("hash.txt"), text)
            .map_err(|e| format!("cannot write the site's hash file: {e}"))?;
    }
    Ok(dir)
}
