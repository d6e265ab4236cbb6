//! Lists the conformance cases once: every `pub async fn` in `src/cases/` is a case.
//!
//! The build writes the `__all_cases!` macro from the case files, in the order of the
//! `mod` lines of `src/cases/mod.rs` and of the functions in each file, so a case
//! written is a case run: there is no second list to forget.

use std::{env, fs, io, path::Path};

fn main() -> io::Result<()> {
    let cases = Path::new("src/cases");
    println!("cargo:rerun-if-changed={}", cases.display());
    let mut names = Vec::new();
    for module in modules(&fs::read_to_string(cases.join("mod.rs"))?) {
        let file = cases.join(format!("{module}.rs"));
        println!("cargo:rerun-if-changed={}", file.display());
        names.extend(case_names(&fs::read_to_string(&file)?));
    }
    let list: String = names
        .iter()
        .map(|n| format!("            {n},\n"))
        .collect();
    let generated = format!(
        "#[doc(hidden)]\n#[macro_export]\nmacro_rules! __all_cases {{\n    \
         ($kit:path, $factory:expr) => {{\n        $crate::__tests!(\n            \
         $kit, $factory;\n{list}        );\n    }};\n}}\n\n\
         /// The name of every case, in the order the macro runs them.\n\
         pub const CASE_NAMES: &[&str] = &[{}];\n",
        names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let out = env::var_os("OUT_DIR").ok_or_else(|| io::Error::other("OUT_DIR is not set"))?;
    fs::write(Path::new(&out).join("all_cases.rs"), generated)
}

/// The modules of `mod.rs`, in order (`mod api;` gives `api`).
fn modules(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter_map(|line| line.trim().strip_prefix("mod "))
        .filter_map(|rest| rest.strip_suffix(';'))
        .collect()
}

/// The names of a file's `pub async fn`s, in order.
fn case_names(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("pub async fn "))
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}
