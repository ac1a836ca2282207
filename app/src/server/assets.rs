//! The site's static file names. With `hash-files = true` (Cargo.toml),
//! cargo-leptos names the JS, WASM and CSS `roster.<hash>.<ext>` and writes
//! the hashes to a hash file (`hash.txt`, beside the server binary it built):
//! `js: <hash>`, `wasm: <hash>`, `css: <hash>`, one a line. The page names the
//! hashed files, so the server may let browsers keep them for a year.

use leptos::config::LeptosOptions;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The content hashes of one build, as its hash file lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetHashes {
    pub js: String,
    pub wasm: String,
    pub css: String,
}

impl AssetHashes {
    /// Reads `ext: hash` lines; `None` unless js, wasm and css are all there.
    pub fn parse(text: &str) -> Option<Self> {
        let (mut js, mut wasm, mut css) = (None, None, None);
        for line in text.lines() {
            if let Some((kind, hash)) = line.split_once(':') {
                let hash = hash.trim().to_string();
                match kind.trim() {
                    "js" => js = Some(hash),
                    "wasm" => wasm = Some(hash),
                    "css" => css = Some(hash),
                    _ => {}
                }
            }
        }
        Some(Self { js: js?, wasm: wasm?, css: css? })
    }

    /// The hash file cargo-leptos writes for a site whose `pkg/` holds the
    /// files `names`, read back from their hashed names: `js`, `wasm` and
    /// `css` of `output_name`, then the WASM split's `manifest` and `split`
    /// loader when the site has them. `None` when the names carry no hashes.
    pub fn hash_file_for(names: &[String], output_name: &str) -> Option<String> {
        let hash_of = |stem: &str, ext: &str| {
            names.iter().find_map(|name| {
                let hash = name.strip_prefix(stem)?.strip_prefix('.')?.strip_suffix(ext)?.strip_suffix('.')?;
                is_hashed_name(name).then(|| hash.to_string())
            })
        };
        let mut text = format!(
            "js: {}\nwasm: {}\ncss: {}\n",
            hash_of(output_name, "js")?,
            hash_of(output_name, "wasm")?,
            hash_of(output_name, "css")?
        );
        if let Some(h) = hash_of("__wasm_split_manifest", "json") {
            text.push_str(&format!("manifest: {h}\n"));
        }
        if let Some(h) = hash_of("__wasm_split", "js") {
            text.push_str(&format!("split: {h}\n"));
        }
        Some(text)
    }

    /// The three file names under `pkg/`.
    pub fn file_names(&self, output_name: &str) -> [String; 3] {
        [
            format!("{output_name}.{}.js", self.js),
            format!("{output_name}.{}.wasm", self.wasm),
            format!("{output_name}.{}.css", self.css),
        ]
    }
}

/// The hash file that describes the files in `site_root/pkg`: `site_root/hash.txt`
/// (a site copied with its hash file), then `hash.txt` beside the running
/// binary (where cargo-leptos writes it). A hash file whose files are not all
/// in `pkg/` belongs to another build (debug and release share `target/site`)
/// and is passed over. `None`: the site's files are not hashed.
pub fn find_hash_file(site_root: &Path, pkg_dir: &str, output_name: &str) -> Option<(PathBuf, AssetHashes)> {
    let beside_binary = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")));
    let candidates = [Some(site_root.join("hash.txt")), beside_binary];
    candidates.into_iter().flatten().find_map(|path| {
        let hashes = AssetHashes::parse(&std::fs::read_to_string(&path).ok()?)?;
        let pkg = site_root.join(pkg_dir);
        let complete = hashes.file_names(output_name).iter().all(|name| pkg.join(name).is_file());
        complete.then(|| (std::path::absolute(&path).unwrap_or(path), hashes))
    })
}

/// Whether a file name under `pkg/` carries a content hash, so its content
/// never changes: `name.<hash>.ext`, the hash being cargo-leptos's 22
/// characters of unpadded base64url (an MD5), also with `.br` or `.gz` after it.
pub fn is_hashed_name(file_name: &str) -> bool {
    let name = file_name.strip_suffix(".br").or_else(|| file_name.strip_suffix(".gz")).unwrap_or(file_name);
    let mut parts = name.rsplit('.');
    let (_ext, hash) = (parts.next(), parts.next());
    hash.is_some_and(|h| h.len() == 22 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        && parts.next().is_some()
}

/// The stylesheet's address for the page's `<head>`: the hashed name when
/// the site's files are hashed (`options.hash_files`), read once per process.
pub fn stylesheet_href(options: &LeptosOptions) -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| {
        let name = &options.output_name;
        let pkg = &options.site_pkg_dir;
        let hashes = options
            .hash_files
            .then(|| std::fs::read_to_string(options.hash_file.as_ref()).ok())
            .flatten()
            .and_then(|text| AssetHashes::parse(&text));
        match hashes {
            Some(h) => format!("/{pkg}/{name}.{}.css", h.css),
            None => format!("/{pkg}/{name}.css"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_file_lines_are_read() {
        let text = "js: AAAAAAAAAAAAAAAAAAAAAA\nwasm: BBBBBBBBBBBBBBBBBBBBBB\ncss: CCCCCCCCCCCCCCCCCCCCCC\n";
        let h = AssetHashes::parse(text).unwrap();
        assert_eq!(h.wasm, "BBBBBBBBBBBBBBBBBBBBBB");
        assert_eq!(h.file_names("roster")[2], "roster.CCCCCCCCCCCCCCCCCCCCCC.css");
        assert_eq!(AssetHashes::parse("js: A\nwasm: B\n"), None, "css missing");
    }

    #[test]
    fn a_sites_file_names_give_back_its_hash_file() {
        let h = |c: char| c.to_string().repeat(22);
        let names: Vec<String> = [
            format!("roster.{}.js", h('a')),
            format!("roster.{}.js.br", h('x')),
            format!("roster.{}.wasm", h('b')),
            format!("roster.{}.css", h('c')),
            format!("__wasm_split_manifest.{}.json", h('d')),
            format!("__wasm_split.{}.js", h('e')),
            "favicon.ico".to_string(),
        ]
        .into();
        let text = AssetHashes::hash_file_for(&names, "roster").expect("hashed names");
        assert_eq!(
            text,
            format!("js: {}\nwasm: {}\ncss: {}\nmanifest: {}\nsplit: {}\n", h('a'), h('b'), h('c'), h('d'), h('e'))
        );
        assert_eq!(AssetHashes::parse(&text).map(|a| a.wasm), Some(h('b')));
        let unhashed = vec!["roster.js".to_string(), "roster.wasm".to_string(), "roster.css".to_string()];
        assert_eq!(AssetHashes::hash_file_for(&unhashed, "roster"), None);
    }

    #[test]
    fn only_names_with_a_content_hash_count_as_hashed() {
        assert!(is_hashed_name("roster.k1vx0LqTmgGr-4Xe_wQ9Zw.wasm"));
        assert!(is_hashed_name("roster.k1vx0LqTmgGr-4Xe_wQ9Zw.wasm.br"));
        assert!(is_hashed_name("roster.k1vx0LqTmgGr-4Xe_wQ9Zw.css.gz"));
        assert!(!is_hashed_name("roster.wasm"));
        assert!(!is_hashed_name("roster.wasm.br"));
        assert!(!is_hashed_name("k1vx0LqTmgGr-4Xe_wQ9Zw.wasm"), "no name before the hash");
        assert!(!is_hashed_name("roster.short.js"));
        assert!(!is_hashed_name("roster.k1vx0LqTmgGr+4Xe/wQ9Zw.js"), "not base64url");
    }
}
