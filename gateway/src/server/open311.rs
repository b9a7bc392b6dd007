//! Open311 GeoReport v2 endpoints (being built).

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::App;
use crate::http::{Body, Peer, respond};

/// Serves `/open311/v2/...`.
pub async fn handle(_app: Arc<App>, _req: Request<Incoming>, _peer: Arc<Peer>) -> Response<Body> {
    respond(
        StatusCode::NOT_IMPLEMENTED,
        "text/plain",
        "Open311 endpoints are being built\n",
    )
}
