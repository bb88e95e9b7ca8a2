//! Copies shaders/*.wgsl into OUT_DIR for `src/gpu/shaders.rs` to include. For wasm32 the copies
//! lose their comments and indentation (the page downloads them inside the wasm; about a third of
//! the WGSL bytes are comments), keeping the `//#if`/`//#else`/`//#endif` lines the preprocessor
//! reads. Native builds include the sources unchanged, so compiler messages point at real lines.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=shaders");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("shaders");
    fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let strip = env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    for entry in fs::read_dir("shaders").expect("shaders/ exists") {
        let path = entry.expect("readable shaders/").path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let source = fs::read_to_string(&path).expect("WGSL is UTF-8");
        let text = if strip { minify(&source) } else { source };
        fs::write(out.join(path.file_name().expect("a file")), text).expect("writable OUT_DIR");
    }
}

/// Drops comments, indentation and blank lines; keeps preprocessor lines (`//#…`). WGSL has no
/// string literals, so every `//` starts a comment.
fn minify(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let line = line.trim();
        let code = if line.starts_with("//#") {
            line
        } else {
            line.split("//").next().unwrap_or("").trim_end()
        };
        if !code.is_empty() {
            out.push_str(code);
            out.push('\n');
        }
    }
    out
}
