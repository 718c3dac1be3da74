use super::safe_http::*;

#[test]
fn private_ranges_are_not_public() {
    for ip in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fd00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
    ] {
        assert!(!is_public(ip.parse().unwrap()), "{ip}");
    }
    for ip in ["8.8.8.8", "140.82.112.3", "2606:4700::1111"] {
        assert!(is_public(ip.parse().unwrap()), "{ip}");
    }
}

#[test]
fn literal_hosts_are_checked() {
    let u = url::Url::parse("http://127.0.0.1:8080/x").unwrap();
    assert!(check_literal_host(&u, false).is_err());
    assert!(check_literal_host(&u, true).is_ok());
    let u = url::Url::parse("https://example.com/x").unwrap();
    assert!(check_literal_host(&u, false).is_ok());
}
