//! `check-iam`: holds the AWS calls recorded by `make test` (the emulator front,
//! `.local/iam/calls.jsonl`) against each function's `Policies` in `template.yaml`, and
//! cronctl's against its documented policy (`infra/cronctl/iam-policy.json`).
//!
//! Exits 1 naming each function, action and resource not granted (and any wildcard action
//! or unknown caller); lists granted permissions no call used as warnings. Exit 2: the
//! recording or a policy could not be read.
//!
//! ```text
//! check-iam [--recording FILE] [--template FILE] [--cronctl-policy FILE] [--quiet-unused]
//! ```

use infra::iam::{check, Policies, Recorded, DEFAULT_REGION};

fn main() {
    let mut recording = ".local/iam/calls.jsonl".to_string();
    let mut template = "template.yaml".to_string();
    let mut cronctl = "infra/cronctl/iam-policy.json".to_string();
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--quiet-unused" => quiet = true,
            "--recording" | "--template" | "--cronctl-policy" => {
                let Some(v) = args.next() else {
                    fail(&format!("{flag} needs a value"))
                };
                match flag.as_str() {
                    "--recording" => recording = v,
                    "--template" => template = v,
                    _ => cronctl = v,
                }
            }
            other => fail(&format!("unknown flag {other}")),
        }
    }
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|e| fail(&format!("{p}: {e}")));
    let mut policies = Policies::from_template(&read(&template), DEFAULT_REGION)
        .unwrap_or_else(|e| fail(&e.to_string()));
    policies
        .add_json("cronctl", &read(&cronctl), DEFAULT_REGION)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let calls: Vec<Recorded> = read(&recording)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| fail(&format!("{recording}: {e}: {l}")))
        })
        .collect();
    let functions: std::collections::BTreeSet<_> =
        calls.iter().map(|c| c.function.as_str()).collect();
    let report = check(&policies, &calls);
    if !quiet {
        for u in &report.unused {
            println!(
                "warning: {} is granted {} on {} and no recorded call used it",
                u.function, u.action, u.resource
            );
        }
    }
    // One line per function and action: the resources it needed (3 shown) and how many.
    let mut grouped: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
    for m in &report.missing {
        grouped
            .entry((m.function.as_str(), m.action.as_str()))
            .or_default()
            .push(m.resource.as_str());
    }
    for ((function, action), resources) in &grouped {
        let shown: Vec<&str> = resources.iter().take(3).copied().collect();
        let more = match resources.len() {
            n if n > 3 => format!(" and {} more", n - 3),
            _ => String::new(),
        };
        println!(
            "MISSING: {function} calls {action} on {}{more}, and its policy does not allow it",
            shown.join(", ")
        );
    }
    for w in &report.wildcard_actions {
        println!(
            "WILDCARD ACTION: {} is granted {} on {}",
            w.function, w.action, w.resource
        );
    }
    for f in &report.unknown_functions {
        println!("UNKNOWN CALLER: {f} made AWS calls and has no policy in {template}");
    }
    println!(
        "check-iam: {} distinct calls by {} callers ({}), {} missing, {} unused grants",
        calls.len(),
        functions.len(),
        functions.into_iter().collect::<Vec<_>>().join(", "),
        report.missing.len(),
        report.unused.len()
    );
    if !report.ok() {
        std::process::exit(1);
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("check-iam: {msg}");
    std::process::exit(2)
}
