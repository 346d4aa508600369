//! Who may post alerts: a bearer token from a file (both endpoints), compared in constant time,
//! and for Grafana optionally an HMAC-SHA256 signature of the body (Grafana's `hmacConfig`:
//! hex HMAC of `timestamp:body` when a timestamp header is configured, else of the body).

use axum::http::HeaderMap;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// Grafana's default signature header.
pub(crate) const GRAFANA_SIGNATURE_HEADER: &str = "X-Grafana-Alerting-Signature";
/// How far a signed timestamp may be from our clock (replays older than this are refused).
pub(crate) const MAX_CLOCK_SKEW_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("cannot read the token file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the token file {} is empty", .0.display())]
    Empty(PathBuf),
}

/// A secret read from a file: the first line, without surrounding whitespace.
fn read_secret(path: &Path) -> Result<Vec<u8>, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read { path: path.to_path_buf(), source })?;
    let secret = text.lines().next().unwrap_or_default().trim();
    if secret.is_empty() {
        return Err(AuthError::Empty(path.to_path_buf()));
    }
    Ok(secret.as_bytes().to_vec())
}

/// Grafana's HMAC signing, as configured on its webhook contact point.
#[derive(Debug, Clone)]
pub(crate) struct Signature {
    secret: Vec<u8>,
    header: String,
    timestamp_header: Option<String>,
}

impl Signature {
    pub(crate) fn from_file(
        path: &Path,
        header: Option<String>,
        timestamp_header: Option<String>,
    ) -> Result<Self, AuthError> {
        Ok(Signature {
            secret: read_secret(path)?,
            header: header.unwrap_or_else(|| GRAFANA_SIGNATURE_HEADER.to_string()),
            timestamp_header,
        })
    }

    /// Checks the signature of `body`; `now` is the Unix time, for the timestamp's age.
    pub(crate) fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), &'static str> {
        let given = header(headers, &self.header).ok_or("the signature header is missing")?;
        let given = decode_hex(given.trim()).ok_or("the signature is not hex")?;
        let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return Err("the signature secret is unusable");
        };
        if let Some(name) = &self.timestamp_header {
            let stamp = header(headers, name).ok_or("the timestamp header is missing")?;
            let seconds: i64 = stamp.trim().parse().map_err(|_| "the timestamp is not a number")?;
            if (now - seconds).abs() > MAX_CLOCK_SKEW_SECS {
                return Err("the signed timestamp is more than 5 minutes off");
            }
            mac.update(stamp.trim().as_bytes());
            mac.update(b":");
        }
        mac.update(body);
        mac.verify_slice(&given).map_err(|_| "the signature does not match")
    }
}

/// The bearer token both endpoints require.
#[derive(Clone)]
pub(crate) struct Token {
    /// SHA-256 of the token: compared against the digest of what a request presents, so the
    /// comparison takes the same time whatever the lengths.
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(****)")
    }
}

impl Token {
    pub(crate) fn from_file(path: &Path) -> Result<Token, AuthError> {
        Ok(Token::new(&read_secret(path)?))
    }

    pub(crate) fn new(secret: &[u8]) -> Token {
        Token { digest: Sha256::digest(secret).into() }
    }

    /// Whether `Authorization: Bearer …` carries the token.
    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(value) = header(headers, "authorization") else { return false };
        let Some((scheme, presented)) = value.trim().split_once(' ') else { return false };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let presented: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        presented.ct_eq(&self.digest).into()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let token = Token::new(b"s3cret-token");
        assert!(token.admits(&headers(&[("authorization", "Bearer s3cret-token")])));
        assert!(token.admits(&headers(&[("authorization", "bearer  s3cret-token ")])));
        assert!(!token.admits(&headers(&[("authorization", "Bearer s3cret-toke")])));
        assert!(!token.admits(&headers(&[("authorization", "Basic s3cret-token")])));
        assert!(!token.admits(&headers(&[("authorization", "s3cret-token")])));
        assert!(!token.admits(&HeaderMap::new()));
    }

    fn sign(secret: &[u8], message: &[u8]) -> String {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(message);
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn grafana_signatures_over_the_body() {
        let sig = Signature { secret: b"k".to_vec(), header: GRAFANA_SIGNATURE_HEADER.into(), timestamp_header: None };
        let good = sign(b"k", b"{}");
        assert_eq!(sig.verify(&headers(&[("x-grafana-alerting-signature", &good)]), b"{}", 0), Ok(()));
        assert_eq!(
            sig.verify(&headers(&[("x-grafana-alerting-signature", &good)]), b"{ }", 0),
            Err("the signature does not match")
        );
        assert_eq!(sig.verify(&HeaderMap::new(), b"{}", 0), Err("the signature header is missing"));
        assert_eq!(
            sig.verify(&headers(&[("x-grafana-alerting-signature", "zz")]), b"{}", 0),
            Err("the signature is not hex")
        );
    }

    #[test]
    fn grafana_signatures_with_a_timestamp() {
        let sig = Signature {
            secret: b"k".to_vec(),
            header: GRAFANA_SIGNATURE_HEADER.into(),
            timestamp_header: Some("X-Grafana-Alerting-Timestamp".into()),
        };
        let good = sign(b"k", b"1000:{}");
        let signed = headers(&[("x-grafana-alerting-signature", &good), ("x-grafana-alerting-timestamp", "1000")]);
        assert_eq!(sig.verify(&signed, b"{}", 1010), Ok(()));
        assert_eq!(sig.verify(&signed, b"{}", 1000 + 301), Err("the signed timestamp is more than 5 minutes off"));
        let unsigned_stamp = headers(&[("x-grafana-alerting-signature", &sign(b"k", b"{}"))]);
        assert_eq!(sig.verify(&unsigned_stamp, b"{}", 1000), Err("the timestamp header is missing"));
    }
}
