//! The local stack's token issuer: an ES256 signing key generated at first start and
//! kept in the data folder (0600), a JWKS document, and tokens for the dev sign-in.
//! The API validates these tokens exactly as API Gateway's JWT authorizer would.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use p256::SecretKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::Serialize;

/// Issues and describes the local stack's tokens.
pub struct LocalIssuer {
    issuer: String,
    audience: String,
    kid: String,
    encoding: EncodingKey,
    jwks: String,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: String,
    email: &'a str,
    /// The dev sign-in vouches for its demo users' addresses (true unless `extra` says
    /// otherwise, as a test of an unverified address does).
    email_verified: serde_json::Value,
    name: &'a str,
    groups: Vec<&'a str>,
    iat: i64,
    nbf: i64,
    exp: i64,
    token_use: &'static str,
    /// Identity-provider attributes (e.g. `department`, `contractor`) for SSO rules.
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

pub const KEY_FILE: &str = "issuer-key.pem";

impl LocalIssuer {
    /// Loads the signing key from `data_dir`, creating it (0600) at first start.
    pub fn load_or_create(data_dir: &Path, issuer: impl Into<String>, audience: impl Into<String>) -> anyhow::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        let key = if path.exists() {
            let pem = std::fs::read_to_string(&path)?;
            SecretKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{}: not a P-256 PKCS#8 key: {e}", path.display()))?
        } else {
            let key = SecretKey::random(&mut rand_core::OsRng);
            let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("encoding the new key: {e}"))?;
            write_private(&path, pem.as_bytes())?;
            key
        };
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes())?;
        let point = key.public_key().to_encoded_point(false);
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(point.x().expect("uncompressed point")),
            URL_SAFE_NO_PAD.encode(point.y().expect("uncompressed point")),
        );
        // The key id is derived from the public key, so it changes only with the key.
        let kid = format!("local-{}", &URL_SAFE_NO_PAD.encode(point.as_bytes())[..16]);
        let jwks =
            serde_json::json!({ "keys": [{ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig" }] })
                .to_string();
        Ok(Self { issuer: issuer.into(), audience: audience.into(), kid, encoding, jwks })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    /// A signed access token for a person with the given groups (identity-provider group
    /// names, e.g. `hogwarden-requester`).
    pub fn issue(&self, email: &str, name: &str, groups: &[&str], ttl: chrono::Duration) -> anyhow::Result<String> {
        self.issue_with_claims(email, name, groups, serde_json::Map::new(), ttl)
    }

    /// A signed access token that also carries identity-provider attributes. `extra`
    /// may replace `sub` (default `local|<email>`) and `email_verified` (default true).
    pub fn issue_with_claims(
        &self,
        email: &str,
        name: &str,
        groups: &[&str],
        mut extra: serde_json::Map<String, serde_json::Value>,
        ttl: chrono::Duration,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let sub = match extra.remove("sub") {
            Some(serde_json::Value::String(s)) => s,
            _ => format!("local|{email}"),
        };
        let email_verified = extra.remove("email_verified").unwrap_or(serde_json::Value::Bool(true));
        let claims = Claims {
            iss: &self.issuer,
            aud: &self.audience,
            sub,
            email,
            email_verified,
            name,
            groups: groups.to_vec(),
            iat: now,
            nbf: now - 1,
            exp: now + ttl.num_seconds(),
            token_use: "access",
            extra,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        Ok(encode(&header, &claims, &self.encoding)?)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_survives_a_restart_and_tokens_verify() {
        let dir = tempfile::tempdir().unwrap();
        let a = LocalIssuer::load_or_create(dir.path(), "http://local", "hogwarden").unwrap();
        let b = LocalIssuer::load_or_create(dir.path(), "http://local", "hogwarden").unwrap();
        assert_eq!(a.jwks_json(), b.jwks_json());
        let token = a.issue("frank@example.com", "Frank", &["hogwarden-requester"], chrono::Duration::minutes(5)).unwrap();
        let verifier = hogwarden_api::JwtVerifier::from_jwks(b.jwks_json(), "http://local", "hogwarden").unwrap();
        let claims = verifier.verify(&token).unwrap();
        assert_eq!(claims["email"], "frank@example.com");
        assert_eq!(claims["email_verified"], true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key file is private");
        }
    }
}
