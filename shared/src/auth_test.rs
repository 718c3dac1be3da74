use super::*;

fn user(id: &str) -> crate::store::User {
    crate::store::User {
        id: id.into(),
        username: id.into(),
        email: format!("{id}@x.io"),
        password_hash: String::new(),
        role: crate::domain::Role::User,
        is_active: true,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        session_version: 3,
        kept_session: None,
        revoked_sessions: Default::default(),
    }
}

#[derive(Deserialize)]
struct Vector {
    password: String,
    hash: String,
    verifies: bool,
}

#[test]
fn passlib_vectors_verify_exactly() {
    let raw = include_str!("../../tests/fixtures/passlib-pbkdf2-sha256-vectors.json");
    let v: serde_json::Value = serde_json::from_str(raw).unwrap();
    let vectors: Vec<Vector> = serde_json::from_value(v["vectors"].clone()).unwrap();
    assert_eq!(vectors.len(), 7);
    for t in vectors {
        assert_eq!(
            verify_password(&t.password, &t.hash),
            t.verifies,
            "{:?}",
            t.password
        );
    }
}

#[test]
fn new_hashes_round_trip_and_malformed_fail() {
    let h = hash_password("s3cret!");
    assert!(h.starts_with("$pbkdf2-sha256$29000$"));
    assert!(verify_password("s3cret!", &h));
    assert!(!verify_password("s3cret?", &h));
    for bad in [
        "",
        "$pbkdf2-sha256$x$a$b",
        "$pbkdf2-sha256$0$aaaa$bbbb",
        "$md5$1$a$b",
        "$pbkdf2-sha256$29000$$",
    ] {
        assert!(!verify_password("x", bad), "{bad}");
    }
}

#[test]
fn token_kinds_are_not_interchangeable() {
    let t = Tokens::new(&Secret::new("k"), 60, 120);
    let access = t.issue(TokenKind::Access, &user("u1"), "s1").unwrap();
    let refresh = t.issue(TokenKind::Refresh, &user("u1"), "s1").unwrap();
    assert_eq!(t.verify(&access, TokenKind::Access).unwrap(), "u1");
    assert_eq!(t.verify(&refresh, TokenKind::Refresh).unwrap(), "u1");
    assert_eq!(
        t.verify(&access, TokenKind::Refresh)
            .unwrap_err()
            .to_string(),
        "Invalid token type"
    );
    assert_eq!(
        t.verify(&refresh, TokenKind::Access)
            .unwrap_err()
            .to_string(),
        "Invalid token type"
    );
    assert_eq!(
        t.verify("garbage", TokenKind::Access)
            .unwrap_err()
            .to_string(),
        "Invalid token"
    );
}

#[test]
fn exp_is_required_and_enforced() {
    let key = EncodingKey::from_secret(b"k");
    let t = Tokens::new(&Secret::new("k"), 60, 120);
    let now = chrono::Utc::now().timestamp();
    let no_exp = jsonwebtoken::encode(
        &Header::default(),
        &serde_json::json!({"sub":"u","iat":now,"iss":ISSUER,"aud":AUDIENCE}),
        &key,
    )
    .unwrap();
    assert_eq!(
        t.verify(&no_exp, TokenKind::Access)
            .unwrap_err()
            .to_string(),
        "Invalid token"
    );
    let expired = jsonwebtoken::encode(
        &Header::default(),
        &serde_json::json!({"sub":"u","exp":now - 5,"iss":ISSUER,"aud":AUDIENCE}),
        &key,
    )
    .unwrap();
    assert_eq!(
        t.verify(&expired, TokenKind::Access)
            .unwrap_err()
            .to_string(),
        "Token has expired"
    );
    let no_sub = jsonwebtoken::encode(
        &Header::default(),
        &serde_json::json!({"exp":now + 60,"iss":ISSUER,"aud":AUDIENCE}),
        &key,
    )
    .unwrap();
    assert_eq!(
        t.verify(&no_sub, TokenKind::Access)
            .unwrap_err()
            .to_string(),
        "Invalid token: missing subject"
    );
    let other = EncodingKey::from_secret(b"other");
    let forged = jsonwebtoken::encode(
        &Header::default(),
        &serde_json::json!({"sub":"u","exp":now + 60,"iss":ISSUER,"aud":AUDIENCE}),
        &other,
    )
    .unwrap();
    assert_eq!(
        t.verify(&forged, TokenKind::Access)
            .unwrap_err()
            .to_string(),
        "Invalid token"
    );
}

#[test]
fn issuer_audience_and_header_type_are_checked() {
    let key = EncodingKey::from_secret(b"k");
    let t = Tokens::new(&Secret::new("k"), 60, 120);
    let now = chrono::Utc::now().timestamp();
    let good = serde_json::json!({"sub":"u","exp":now + 60,"iss":ISSUER,"aud":AUDIENCE});
    let ok = jsonwebtoken::encode(&Header::default(), &good, &key).unwrap();
    assert_eq!(t.verify(&ok, TokenKind::Access).unwrap(), "u");
    for claims in [
        serde_json::json!({"sub":"u","exp":now + 60,"aud":AUDIENCE}),
        serde_json::json!({"sub":"u","exp":now + 60,"iss":"someone-else","aud":AUDIENCE}),
        serde_json::json!({"sub":"u","exp":now + 60,"iss":ISSUER,"aud":"other-api"}),
        serde_json::json!({"sub":"u","exp":now + 60,"iss":ISSUER}),
    ] {
        let tok = jsonwebtoken::encode(&Header::default(), &claims, &key).unwrap();
        assert_eq!(
            t.verify(&tok, TokenKind::Access).unwrap_err().to_string(),
            "Invalid token",
            "{claims}"
        );
    }
    let h = Header {
        typ: Some("at+jwt".into()),
        ..Default::default()
    };
    let tok = jsonwebtoken::encode(&h, &good, &key).unwrap();
    assert_eq!(
        t.verify(&tok, TokenKind::Access).unwrap_err().to_string(),
        "Invalid token"
    );
    let issued = t.issue(TokenKind::Refresh, &user("u"), "s9").unwrap();
    let v = t.verify_claims(&issued, TokenKind::Refresh).unwrap();
    assert!(v.jti.is_some() && v.exp > now);
    assert_eq!(
        v.session,
        crate::store::SessionClaims {
            sid: "s9".into(),
            sv: 3
        }
    );
    // Issued in the future beyond the leeway: refused.
    let future = serde_json::json!({"sub":"u","exp":now + 7200,"iat":now + 3600,"iss":ISSUER,"aud":AUDIENCE});
    let tok = jsonwebtoken::encode(&Header::default(), &future, &key).unwrap();
    assert_eq!(
        t.verify(&tok, TokenKind::Access).unwrap_err().to_string(),
        "Invalid token"
    );
}

#[test]
fn outside_local_mode_a_real_key_is_required() {
    let mut c = crate::config::Config::from_env();
    c.local_mode = false;
    c.jwt_secret_configured = false;
    assert!(c.check_http_secrets().is_err());
    c.jwt_secret_configured = true;
    c.jwt_secret = Secret::new("short");
    assert!(c.check_http_secrets().is_err());
    c.jwt_secret = Secret::new("k".repeat(32));
    assert!(c.check_http_secrets().is_ok());
    c.local_mode = true;
    c.jwt_secret_configured = false;
    assert!(c.check_http_secrets().is_ok());
}

#[test]
fn a_user_admits_only_live_sessions() {
    use crate::store::SessionClaims;
    let mut u = user("u");
    let s = |sid: &str, sv: u64| SessionClaims {
        sid: sid.into(),
        sv,
    };
    assert!(u.admits(&s("a", 3)));
    assert!(!u.admits(&s("a", 2)));
    u.revoked_sessions.insert("a".into(), i64::MAX);
    assert!(!u.admits(&s("a", 3)));
    assert!(u.admits(&s("b", 3)));
    u.end_sessions(Some("b"));
    assert!(u.admits(&s("b", 3)), "kept across the change");
    assert!(!u.admits(&s("c", 3)));
    assert!(u.admits(&s("c", 4)));
    u.end_sessions(None);
    assert!(!u.admits(&s("b", 3)));
}
