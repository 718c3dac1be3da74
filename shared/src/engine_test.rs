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
        // Forms that embed or reach IPv4 and other special-purpose IPv6 ranges.
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a9fe:a9fe",
        "::169.254.169.254",
        "::127.0.0.1",
        "2002:a9fe:a9fe::1",
        "2001::a9fe:a9fe",
        "2001:db8::1",
        "fec0::1",
        "100::1",
        "ff02::1",
        "3fff::1",
        "::",
        "192.0.0.8",
        "198.51.100.7",
        "203.0.113.9",
        "192.88.99.1",
        "240.0.0.1",
        "255.255.255.255",
        "224.0.0.1",
    ] {
        assert!(!is_public(ip.parse().unwrap()), "{ip}");
    }
    for ip in [
        "8.8.8.8",
        "140.82.112.3",
        "2606:4700::1111",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
    ] {
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
