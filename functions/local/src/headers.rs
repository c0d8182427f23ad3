//! The security headers every response of the local stack carries: the pages (the
//! built front end), the API and the dev sign-in alike. The Content-Security-Policy
//! is infra/template.yaml's CloudFront one with everything on one origin.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Scripts only from this origin plus WebAssembly compilation (the app starts from
/// `loader.js`, trunk writes no inline script); styles, images and fonts from this
/// origin; connections to this origin only (the API and `config.json` are here); no
/// plugins, no `<base>`, never framed, forms post here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// Adds the headers to a response that does not set them itself.
pub async fn add_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    headers.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    headers.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("strict-origin-when-cross-origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_response_gets_the_policy_and_keeps_its_own_headers() {
        // Arrange
        let mut response = Response::new(axum::body::Body::empty());
        response.headers_mut().insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));

        // Act
        let response = add_security_headers(response).await;

        // Assert
        assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "SAMEORIGIN");
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    }
}
