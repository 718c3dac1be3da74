//! Passwords (passlib `pbkdf2_sha256`, api-contract §1.5) and JWTs (§1.4, policy §8).

use crate::config::Secret;
use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Rounds for new hashes (passlib's default, so old deployments can read ours).
pub const NEW_HASH_ROUNDS: u32 = 29_000;
/// Rounds accepted when verifying; guards against a stored string that would pin a CPU.
const MAX_ROUNDS: u32 = 5_000_000;

fn ab64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD_NO_PAD.decode(s.replace('.', "+")).ok()
}

fn ab64_encode(b: &[u8]) -> String {
    STANDARD_NO_PAD.encode(b).replace('+', ".")
}

/// Hashes a password as `$pbkdf2-sha256$29000$<ab64 salt>$<ab64 checksum>` with a random
/// 16-byte salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, NEW_HASH_ROUNDS, &mut out);
    format!(
        "$pbkdf2-sha256${NEW_HASH_ROUNDS}${}${}",
        ab64_encode(&salt),
        ab64_encode(&out)
    )
}

/// Verifies a password against a passlib `pbkdf2_sha256` string in constant time.
/// Malformed strings never verify.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [_, "pbkdf2-sha256", rounds, salt, checksum] = parts.as_slice() else {
        return false;
    };
    let Ok(rounds) = rounds.parse::<u32>() else {
        return false;
    };
    if rounds == 0 || rounds > MAX_ROUNDS {
        return false;
    }
    let (Some(salt), Some(expected)) = (ab64_decode(salt), ab64_decode(checksum)) else {
        return false;
    };
    if expected.is_empty() {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, rounds, &mut out);
    out.ct_eq(&expected).into()
}

/// The two token kinds, told apart by the `type` claim (policy §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// `iss` of every token this service issues, and the only one it accepts.
pub const ISSUER: &str = "cron-job-platform";
/// `aud` of every token this service issues, and the only one it accepts.
pub const AUDIENCE: &str = "cron-job-platform-api";

/// JWT claims (api-contract §1.4, plus `iss`, `aud` and a `jti` for revocation).
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub jti: String,
    pub sub: String,
    pub role: String,
    pub email: Option<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh: Option<bool>,
    /// Session id: shared by the tokens of one login (its refresh token and every access
    /// token minted from it); logout ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The user's session version when the session began ([`crate::store::User::admits`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sv: Option<u64>,
}

/// How far in the future a token's `iat` may be (clock skew between instances), seconds.
pub const IAT_LEEWAY_SECS: i64 = 60;

/// What a verified token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub sub: String,
    pub jti: Option<String>,
    /// Expiry, epoch seconds.
    pub exp: i64,
    /// Its session (`sid`, `sv` claims).
    pub session: crate::store::SessionClaims,
}

/// Signs and checks HS256 tokens with the configured key and lifetimes.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: i64,
    refresh_ttl: i64,
}

impl Tokens {
    /// Keys from the secret; lifetimes in seconds.
    pub fn new(secret: &Secret, access_ttl: i64, refresh_ttl: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    /// Issues a token of `kind` for `user` in session `sid` (a new session id per login;
    /// a refresh passes on its own), at the user's current session version.
    pub fn issue(
        &self,
        kind: TokenKind,
        user: &crate::store::User,
        sid: &str,
    ) -> Result<String, TokenError> {
        let iat = chrono::Utc::now().timestamp();
        let (ttl, kind, fresh) = match kind {
            TokenKind::Access => (self.access_ttl, "access", Some(true)),
            TokenKind::Refresh => (self.refresh_ttl, "refresh", None),
        };
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            jti: uuid::Uuid::new_v4().to_string(),
            sub: user.id.clone(),
            role: user.role.as_str().to_string(),
            email: Some(user.email.clone()),
            exp: iat + ttl,
            iat,
            kind: Some(kind.to_string()),
            fresh,
            sid: Some(sid.to_string()),
            sv: Some(user.session_version),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// A refresh token's lifetime, seconds (how long a logout must remember its session).
    pub fn refresh_ttl(&self) -> i64 {
        self.refresh_ttl
    }

    /// Checks signature, `exp` (required, no leeway), `nbf` and the `type` claim, returning
    /// the subject. [`TokenError`]'s messages are the contract's `detail` texts (401).
    pub fn verify(&self, token: &str, want: TokenKind) -> Result<String, TokenError> {
        self.verify_claims(token, want).map(|v| v.sub)
    }

    /// [`Tokens::verify`], returning the subject, `jti` and `exp`. The header must say
    /// `typ: JWT`; `iss` and `aud` must be this service's.
    pub fn verify_claims(&self, token: &str, want: TokenKind) -> Result<Verified, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.typ.as_deref() != Some("JWT") {
            return Err(TokenError::Invalid);
        }
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, &self.decoding, &self.validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::MissingRequiredClaim(c) if c == "sub" => TokenError::MissingSubject,
                    _ => TokenError::Invalid,
                })?;
        let claims = data.claims;
        let sub = match claims.get("sub") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(TokenError::Invalid),
        };
        let kind = match claims.get("type") {
            None | Some(serde_json::Value::Null) => TokenKind::Access,
            Some(serde_json::Value::String(s)) if s == "access" => TokenKind::Access,
            Some(serde_json::Value::String(s)) if s == "refresh" => TokenKind::Refresh,
            Some(_) => return Err(TokenError::WrongType),
        };
        if kind != want {
            return Err(TokenError::WrongType);
        }
        // Issued in the future (beyond clock skew): not one of ours, or a forged clock.
        if claims
            .get("iat")
            .and_then(|v| v.as_i64())
            .is_some_and(|iat| iat > chrono::Utc::now().timestamp() + IAT_LEEWAY_SECS)
        {
            return Err(TokenError::Invalid);
        }
        Ok(Verified {
            sub,
            jti: claims
                .get("jti")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            exp: claims.get("exp").and_then(|v| v.as_i64()).unwrap_or(0),
            session: crate::store::SessionClaims {
                sid: claims
                    .get("sid")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                sv: claims.get("sv").and_then(|v| v.as_u64()).unwrap_or(0),
            },
        })
    }
}

/// Why a token was refused (api-contract §1.2). The messages are the contract's literal
/// `detail` texts; the HTTP adapter answers every variant but [`TokenError::Signing`] with 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad header, signature, issuer, audience, subject shape or a future `iat`.
    #[error("Invalid token")]
    Invalid,
    /// `exp` has passed.
    #[error("Token has expired")]
    Expired,
    /// No `sub` claim.
    #[error("Invalid token: missing subject")]
    MissingSubject,
    /// An access token where a refresh token was wanted, or the other way round.
    #[error("Invalid token type")]
    WrongType,
    /// Encoding a new token failed (not the caller's fault).
    #[error("token signing failed: {0}")]
    Signing(String),
}

#[cfg(test)]
#[path = "auth_test.rs"]
mod tests;
