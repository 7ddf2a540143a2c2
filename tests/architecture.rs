//! ARCHITECTURE.md's table of which module may use which, checked against
//! every `use crate::…` (and `crate::…` path) in the library's non-test code.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Parses the "may use" column of ARCHITECTURE.md's module table.
fn allowed() -> BTreeMap<String, Vec<String>> {
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let mut table = BTreeMap::new();
    for line in doc.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | layer | `module` | job | may use |
        let (Some(module), Some(uses)) = (cells.get(2), cells.get(4)) else { continue };
        let Some(module) = module.strip_prefix('`').and_then(|m| m.strip_suffix('`')) else { continue };
        if module.ends_with(".rs") {
            continue;
        }
        let uses = uses.split(',').map(|u| u.trim().to_string()).filter(|u| !u.is_empty() && u != "—").collect();
        table.insert(module.to_string(), uses);
    }
    table
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: `src/verdict/reset.rs` → `verdict`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// The file's code without its test module and comments.
fn non_test_code(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

#[test]
fn modules_use_only_the_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed = allowed();
    assert!(allowed.len() >= 14, "ARCHITECTURE.md's table not found: {allowed:?}");
    let test_only = ["tests.rs", "wire.rs", "testkit.rs", "scripted.rs"];
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let module = module_of(&src, &file);
        if test_only.contains(&name.as_str()) || module == "main" || module == "lib" {
            continue;
        }
        let Some(may_use) = allowed.get(&module) else {
            violations.push(format!("{}: module `{module}` is not in ARCHITECTURE.md", file.display()));
            continue;
        };
        let code = non_test_code(&fs::read_to_string(&file).unwrap());
        for (i, _) in code.match_indices("crate::") {
            let used: String = code[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            // `diag` (stderr that never panics) is for every module: ARCHITECTURE.md says so.
            if used != module && used != "diag" && !may_use.contains(&used) {
                violations.push(format!("{}: `{module}` uses `crate::{used}`", file.display()));
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} files checked");
    assert!(violations.is_empty(), "not allowed by ARCHITECTURE.md:\n{}", violations.join("\n"));
}

#[test]
fn only_the_judge_judges_and_builds_reports() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut callers = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if ["tests.rs", "wire.rs"].contains(&name.as_str()) {
            continue;
        }
        let code = non_test_code(&fs::read_to_string(&file).unwrap());
        // Calls, not the definitions (`fn judge(`, `fn new(`).
        let calls_judge =
            code.match_indices("judge(").any(|(i, _)| !code[..i].ends_with("fn ") && !code[..i].ends_with('_'));
        if calls_judge || code.contains("ConnectionReport::new(") {
            callers.push(module_of(&src, &file));
        }
    }
    callers.sort();
    callers.dedup();
    assert_eq!(callers, ["pipeline"], "judge() and ConnectionReport::new() are called outside the Judge");
}
