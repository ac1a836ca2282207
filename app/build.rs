// `sqlx::migrate!` embeds the migrations at compile time, but cargo does not
// know about them: without this, a new migration file is left out of an
// incremental build (sqlx's documented build script).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
