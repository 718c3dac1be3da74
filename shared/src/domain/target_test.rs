use super::*;

fn d(o: &str, r: &str, w: &str) -> Dispatch {
    Dispatch {
        owner: o.into(),
        repo: r.into(),
        workflow: w.into(),
    }
}

#[test]
fn dispatch_forms() {
    assert_eq!(
        parse_dispatch_url("https://github.com/o/r/actions/workflows/w.yml"),
        Ok(d("o", "r", "w.yml"))
    );
    assert_eq!(
        parse_dispatch_url("github.com/o/r/actions/workflows/w.yml"),
        Ok(d("o", "r", "w.yml"))
    );
    assert_eq!(
        parse_dispatch_url("https://api.github.com/repos/o/r/actions/workflows/w.yml/dispatches"),
        Ok(d("o", "r", "w.yml"))
    );
    assert_eq!(parse_dispatch_url("o/r/w"), Ok(d("o", "r", "w")));
    assert_eq!(parse_dispatch_url("/o/r/w/"), Ok(d("o", "r", "w")));
    assert_eq!(parse_dispatch_url("a.b/r/w"), Ok(d("a.b", "r", "w")));
    assert_eq!(
        parse_dispatch_url("/o/r/actions/workflows/w.yml"),
        Ok(d("o", "r", "w.yml"))
    );
    assert_eq!(
        parse_dispatch_url(" "),
        Err("dispatch_url is required.".into())
    );
    assert_eq!(
        parse_dispatch_url("https://github.com/o/r"),
        Err(MSG_DISPATCH_FORMAT.into())
    );
    assert_eq!(parse_dispatch_url("o/r"), Err(MSG_DISPATCH_FORMAT.into()));
}

#[test]
fn shorthand_and_webhooks() {
    assert!(looks_like_shorthand("o/r/w.yml"));
    assert!(!looks_like_shorthand("example.com/r/w"));
    assert!(!looks_like_shorthand("https://a/b/c"));
    assert!(parse_webhook_url("https://example.com/hook").is_some());
    assert!(parse_webhook_url("ftp://example.com/x").is_none());
    assert!(parse_webhook_url("example.com/x").is_none());
}

#[test]
fn github_segments_cannot_escape_the_dispatch_path() {
    for ok in [
        "o",
        "Pay-Baymax",
        "qa-automate-apiqa",
        "w.yml",
        "Parallelism_Testing_Launcher",
        "12345",
    ] {
        assert!(is_github_segment(ok), "{ok}");
    }
    for bad in [
        "",
        ".",
        "..",
        "../x",
        "a/b",
        "user/keys?",
        "w#x",
        "%2e%2e",
        "a b",
        "é",
        "w?x",
    ] {
        assert!(!is_github_segment(bad), "{bad}");
    }
    assert_eq!(
        Dispatch::from_parts(Some("o"), Some("r"), Some("../../user/keys?")),
        None
    );
    assert_eq!(
        parse_dispatch_url("o/r/%2e%2e"),
        Err(MSG_DISPATCH_FORMAT.to_string())
    );
    assert!(parse_dispatch_url("https://github.com/o/r/actions/workflows/..%2F..%2Fx/").is_err());
    let base = Url::parse("https://ghe.example.com/api/v3").unwrap();
    let url = d("o", "r", "w.yml").dispatch_url(&base, "w.yml").unwrap();
    assert_eq!(
        url.as_str(),
        "https://ghe.example.com/api/v3/repos/o/r/actions/workflows/w.yml/dispatches"
    );
    let root = Url::parse("http://127.0.0.1:9/").unwrap();
    assert_eq!(
        d("o", "r", "w")
            .dispatch_url(&root, "w.yaml")
            .unwrap()
            .path(),
        "/repos/o/r/actions/workflows/w.yaml/dispatches"
    );
    assert_eq!(d("o", "r", "w").dispatch_url(&root, ".."), None);
}
