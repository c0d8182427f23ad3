//! The pure parts of the OIDC authorization code flow with PKCE (RFC 7636, S256):
//! the verifier and challenge, the authorization URL, the token request body, reading
//! the callback, and cleaning `code`/`state` out of the address afterwards. Randomness
//! and storage are the browser's job (`session.rs`), so all of this is tested natively.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::config::OidcConfig;

/// A code verifier from 32 random bytes: 43 characters of the URL-safe alphabet.
pub fn verifier_from_bytes(bytes: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The S256 challenge of a verifier: `BASE64URL(SHA256(verifier))`.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Percent-encodes everything except RFC 3986's unreserved characters.
pub fn encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                Ok(v) => {
                    out.push(v);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Where to send the browser to sign in.
pub fn authorization_url(cfg: &OidcConfig, state: &str, challenge: &str) -> String {
    let sep = if cfg.authorization_endpoint.contains('?') { '&' } else { '?' };
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &cfg.client_id),
        ("redirect_uri", &cfg.redirect_uri),
        ("scope", &cfg.scope),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    format!("{}{sep}{query}", cfg.authorization_endpoint)
}

/// The form body of the token request that trades the code for tokens.
pub fn token_request_body(cfg: &OidcConfig, code: &str, verifier: &str) -> String {
    form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &cfg.redirect_uri),
        ("client_id", &cfg.client_id),
        ("code_verifier", verifier),
    ])
}

/// What the identity provider sent back in the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Code { code: String, state: String },
    Error { error: String, description: Option<String> },
}

fn pairs(search: &str) -> impl Iterator<Item = (String, String)> + '_ {
    search.trim_start_matches('?').split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(k), decode(v))
    })
}

/// Reads `?code=…&state=…` (or `?error=…`) from `location.search`; `None` when the
/// address is not a sign-in callback.
pub fn parse_callback(search: &str) -> Option<Callback> {
    let (mut code, mut state, mut error, mut description) = (None, None, None, None);
    for (k, v) in pairs(search) {
        match k.as_str() {
            "code" => code = Some(v),
            "state" => state = Some(v),
            "error" => error = Some(v),
            "error_description" => description = Some(v),
            _ => {}
        }
    }
    if let Some(error) = error {
        return Some(Callback::Error { error, description });
    }
    match (code, state) {
        (Some(code), Some(state)) => Some(Callback::Code { code, state }),
        (Some(_), None) => {
            Some(Callback::Error { error: "invalid_request".into(), description: Some("the sign-in answer has no state".into()) })
        }
        _ => None,
    }
}

/// The query string without the sign-in callback's parameters (with its `?`, or empty),
/// so that no code or state stays in the address bar or the history.
pub fn strip_callback_params(search: &str) -> String {
    const CALLBACK: [&str; 6] = ["code", "state", "session_state", "iss", "error", "error_description"];
    let kept: Vec<&str> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| !CALLBACK.contains(&decode(p.split_once('=').map_or(*p, |(k, _)| k)).as_str()))
        .collect();
    if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) }
}

/// Whether a returned state matches the one stored before leaving, compared without
/// stopping at the first difference.
pub fn state_matches(expected: &str, got: &str) -> bool {
    expected.len() == got.len() && !expected.is_empty() && expected.bytes().zip(got.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OidcConfig {
        OidcConfig {
            issuer: "https://idp.example.com".into(),
            authorization_endpoint: "https://idp.example.com/oauth2/authorize".into(),
            token_endpoint: "https://idp.example.com/oauth2/token".into(),
            client_id: "client 1".into(),
            redirect_uri: "https://app.example.com/".into(),
            scope: "openid email profile".into(),
            bearer: Default::default(),
        }
    }

    #[test]
    fn the_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn a_verifier_is_43_unreserved_characters() {
        let v = verifier_from_bytes(&[0xff; 32]);
        assert_eq!(v.len(), 43);
        assert!(v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)), "{v}");
    }

    #[test]
    fn the_authorization_url_carries_the_s256_challenge_and_encodes_values() {
        let url = authorization_url(&cfg(), "st8", "chal");
        assert_eq!(
            url,
            "https://idp.example.com/oauth2/authorize?response_type=code&client_id=client%201\
             &redirect_uri=https%3A%2F%2Fapp.example.com%2F&scope=openid%20email%20profile&state=st8\
             &code_challenge=chal&code_challenge_method=S256"
        );
    }

    #[test]
    fn the_token_request_sends_the_verifier_and_no_secret() {
        let body = token_request_body(&cfg(), "c/1", "ver");
        assert_eq!(
            body,
            "grant_type=authorization_code&code=c%2F1&redirect_uri=https%3A%2F%2Fapp.example.com%2F&client_id=client%201&code_verifier=ver"
        );
    }

    #[test]
    fn a_callback_with_code_and_state_is_read() {
        assert_eq!(
            parse_callback("?code=ab%2Bc&state=xyz&iss=https%3A%2F%2Fidp"),
            Some(Callback::Code { code: "ab+c".into(), state: "xyz".into() })
        );
    }

    #[test]
    fn an_error_callback_is_read_with_its_description() {
        assert_eq!(
            parse_callback("?error=access_denied&error_description=User+said+no&state=x"),
            Some(Callback::Error { error: "access_denied".into(), description: Some("User said no".into()) })
        );
    }

    #[test]
    fn an_ordinary_address_is_not_a_callback() {
        assert_eq!(parse_callback(""), None);
        assert_eq!(parse_callback("?tab=2"), None);
    }

    #[test]
    fn stripping_removes_only_the_callback_parameters() {
        assert_eq!(strip_callback_params("?code=1&state=2&session_state=3"), "");
        assert_eq!(strip_callback_params("?a=1&code=1&state=2&b=x%20y"), "?a=1&b=x%20y");
        assert_eq!(strip_callback_params(""), "");
    }

    #[test]
    fn decoding_survives_a_stray_percent() {
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("a%20b"), "a b");
    }

    #[test]
    fn states_must_match_exactly_and_not_be_empty() {
        assert!(state_matches("abc", "abc"));
        assert!(!state_matches("abc", "abd"));
        assert!(!state_matches("abc", "ab"));
        assert!(!state_matches("", ""));
    }
}
