//! The one arrow direction (README "Code map", issue 22): the core crate (`shared`) speaks the
//! domain and no HTTP server type; the `web` adapter maps it to status codes and bodies; the
//! functions that serve no HTTP (executor, maintenance) and `cronctl` build without the adapter.
//! Read from `cargo metadata` and the core's sources, so a new dependency or a status code
//! slipping into the core fails here.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Crates that make a crate an HTTP server or name HTTP types.
const HTTP_CRATES: [&str; 5] = ["axum", "tower-http", "utoipa", "http", "lambda_http"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

fn metadata() -> Value {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--no-deps",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON")
}

/// Workspace package name → its normal (not dev, not build) dependencies' names.
fn normal_deps(meta: &Value) -> HashMap<String, Vec<String>> {
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap_or_default().to_string())
                .collect();
            (p["name"].as_str().unwrap_or_default().to_string(), deps)
        })
        .collect()
}

/// The workspace crates `root` builds with (itself included).
fn workspace_closure(deps: &HashMap<String, Vec<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for d in deps.get(&name).into_iter().flatten() {
            if deps.contains_key(d) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn the_core_and_the_non_http_binaries_declare_no_http_crate() {
    let meta = metadata();
    let deps = normal_deps(&meta);
    assert!(
        deps.contains_key("web"),
        "the adapter crate is in the workspace"
    );
    for root in ["shared", "executor-fn", "maintenance-fn", "cronctl"] {
        let closure = workspace_closure(&deps, root);
        assert!(
            !closure.contains("web"),
            "{root} must not build with the web adapter: {closure:?}"
        );
        for krate in &closure {
            let declared: Vec<_> = deps[krate]
                .iter()
                .filter(|d| HTTP_CRATES.contains(&d.as_str()))
                .collect();
            assert!(
                declared.is_empty(),
                "{krate} (built by {root}) declares {declared:?}"
            );
        }
    }
    // And the API functions do go through the adapter.
    for api in ["jobs-fn", "auth-fn", "system-fn"] {
        assert!(workspace_closure(&deps, api).contains("web"), "{api}");
    }
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Non-test code of a file: up to its `#[cfg(test)]` module, comments dropped.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("readable source");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_core_sources_speak_no_http() {
    let mut files = Vec::new();
    rust_sources(&workspace_root().join("shared/src"), &mut files);
    assert!(
        files.len() > 20,
        "found the core's sources: {}",
        files.len()
    );
    let mut found = Vec::new();
    for f in files
        .iter()
        .filter(|f| !f.to_string_lossy().ends_with("_test.rs"))
    {
        let code = code_of(f);
        for word in ["StatusCode", "json!(", "HeaderMap", "ApiError"] {
            if code.contains(word) {
                found.push(format!("{} uses {word}", f.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn one_place_builds_a_job() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["shared/src", "functions", "infra"] {
        rust_sources(&root.join(dir), &mut files);
    }
    let mut sites = Vec::new();
    for f in files
        .iter()
        .filter(|f| !f.to_string_lossy().ends_with("_test.rs"))
    {
        for line in code_of(f).lines() {
            let t = line.trim();
            let declares = ["struct ", "impl ", "enum ", "fn ", "for "]
                .iter()
                .any(|w| t.contains(w));
            if !declares && (t.ends_with("::Job {") || t.ends_with(" Job {") || t == "Job {") {
                sites.push(format!("{}: {t}", f.display()));
            }
        }
    }
    assert_eq!(
        sites.len(),
        1,
        "one Job construction (JobDraft::into_job): {sites:#?}"
    );
    assert!(sites[0].contains("draft.rs"), "{sites:?}");
}
