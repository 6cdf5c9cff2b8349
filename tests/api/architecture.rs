//! The structure ARCHITECTURE.md describes, checked on the source itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/conversation/step.rs` → `conversation::step`; `mod.rs` and `lib.rs` name their folder.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

/// Files named by `#[path = …]` are part of the module that includes them (tests).
fn is_included_test_file(file: &Path) -> bool {
    file.file_name().is_some_and(|n| n.to_string_lossy().ends_with("_tests.rs") || n == "tests.rs")
}

/// The module graph: which module's file names which other module
/// (`crate::a::b` or `super::x`), resolved to the longest known module path.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.retain(|f| !is_included_test_file(f));
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let resolve = |path: &str| -> Option<String> {
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        (1..=parts.len()).rev().map(|i| parts[..i].join("::")).find(|c| modules.contains(c))
    };
    let word =
        |s: &str| s.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == ':').collect::<String>();
    let mut graph = BTreeMap::new();
    for file in &files {
        let me = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests inside the file may reach anywhere.
        let text = text.split("#[cfg(test)]").next().unwrap();
        let parent = me.rsplit_once("::").map(|(p, _)| p.to_string()).unwrap_or_default();
        let mut deps = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            if let Some(m) = resolve(&word(&text[i + 7..])) {
                deps.insert(m);
            }
        }
        for (i, _) in text.match_indices("super::") {
            let name = word(&text[i + 7..]);
            let full = if parent.is_empty() { name } else { format!("{parent}::{name}") };
            if let Some(m) = resolve(&full) {
                deps.insert(m);
            }
        }
        deps.remove(&me);
        graph.insert(me, deps);
    }
    graph
}

#[test]
fn no_two_modules_import_each_other_even_through_others() {
    let graph = import_graph();
    // Depth-first search for a back edge; report the cycle it closes.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            cycles.push(format!("{} -> {node}", path[at..].join(" -> ")));
            return;
        }
        if !done.insert(node.to_string()) {
            return;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

fn source_files_under(dir: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            // Unit tests inside a file may do what they need.
            let code = text.split("#[cfg(test)]").next().unwrap().to_string();
            (f, code)
        })
        .collect()
}

/// Storage alone speaks SQL and alone names sqlx: others get `Store` methods
/// and the `storage::Tx` transaction type.
#[test]
fn only_storage_writes_sql() {
    let statements = ["sqlx", "\"SELECT ", "\"INSERT ", "\"UPDATE ", "\"DELETE ", "\"CREATE TABLE"];
    for (file, code) in source_files_under("src") {
        if file.components().any(|c| c.as_os_str() == "storage") {
            continue;
        }
        for s in statements {
            assert!(!code.contains(s), "{} contains {s}: SQL belongs in src/storage", file.display());
        }
    }
}

#[test]
fn the_pure_cores_never_wait_on_io() {
    let pure: Vec<(PathBuf, String)> = source_files_under("src/conversation")
        .into_iter()
        .filter(|(f, _)| !f.ends_with("shell.rs"))
        .chain(source_files_under("src/understanding"))
        .chain(source_files_under("src/scheduling").into_iter().filter(|(f, _)| f.ends_with("engine.rs")))
        .collect();
    assert!(pure.len() > 15, "the scan sees the modules ({})", pure.len());
    for (file, code) in pure {
        for io in [".await", "async fn", "std::fs", "tokio::", "reqwest", "Utc::now", "SystemTime"] {
            assert!(
                !code.contains(io),
                "{} uses {io}: the conversation (outside its shell), understanding and the slot engine are pure",
                file.display()
            );
        }
    }
}

/// Time comes from `Clock` (tests fix it); only the clock itself and the
/// command line (`src/cli`, which has no clock to be given) read the system time.
#[test]
fn only_the_clock_reads_the_system_time() {
    for (file, code) in source_files_under("src") {
        if file.ends_with("clock.rs") || file.parent().is_some_and(|p| p.ends_with("src/cli")) {
            continue;
        }
        for call in ["Utc::now()", "SystemTime::now()", "Local::now()"] {
            assert!(!code.contains(call), "{} calls {call}: take the time from Clock", file.display());
        }
    }
}

/// Scheduling alone interprets scheduling rules: the conversation asks
/// `SlotEngine` (free slots, who is in on a day, why a day is closed).
#[test]
fn only_scheduling_reads_the_rules() {
    let readers: Vec<(PathBuf, String)> =
        source_files_under("src/conversation").into_iter().chain(source_files_under("src/understanding")).collect();
    for (file, code) in readers {
        for rule in [".opening_days", ".holidays", ".exceptions", ".windows", "ExceptionTime"] {
            assert!(!code.contains(rule), "{} reads {rule}: ask scheduling::SlotEngine", file.display());
        }
    }
}

/// The domain carries no HTTP documentation: the admin API describes its own
/// shapes (`admin::schema`).
#[test]
fn the_domain_derives_no_api_schema() {
    for (file, code) in source_files_under("src/domain") {
        assert!(!code.contains("utoipa"), "{} derives an API schema: describe it in admin::schema", file.display());
    }
}

#[test]
fn storage_records_are_not_api_bodies() {
    for (file, code) in source_files_under("src/storage") {
        assert!(!code.contains("utoipa"), "{} derives an API schema: give the admin API its own view in admin::views", file.display());
    }
}
