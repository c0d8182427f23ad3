//! API Gateway's JWT authorizer has verified the caller's token and delivers its
//! claims in the event (`requestContext.authorizer.jwt.claims`). This copies them
//! into the request as [`GatewayClaims`], the one place `AuthMode::Gateway` reads.
//! Nothing a caller sends (headers, body) can produce them.

use hogwarden_api::GatewayClaims;
use lambda_http::RequestExt;

/// Copies the authorizer's JWT claims into the request's extensions. A request
/// without them (no authorizer on the route, or another authorizer type) gets none,
/// and the API answers 401.
pub fn copy_gateway_claims<B>(mut request: http::Request<B>) -> http::Request<B> {
    let claims = request
        .request_context_ref()
        .and_then(|context| context.authorizer())
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .map(|jwt| jwt.claims.clone())
        .filter(|claims| !claims.is_empty());
    request.extensions_mut().remove::<GatewayClaims>();
    if let Some(claims) = claims {
        request.extensions_mut().insert(GatewayClaims(claims));
    }
    request
}
