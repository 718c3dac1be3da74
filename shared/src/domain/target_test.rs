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
