//! The device-api function: the same router the self-hosted console serves, over
//! the AWS adapters. Built once per cold start.

use anyhow::Context;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use rampart_app::device::{DeviceConfig, DeviceService};
use rampart_app::http::PeerAddr;
use rampart_aws::{AwsClients, AwsResources};
use rampart_ports::Clock;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Seconds between check-ins handed to appliances (`RAMPART_POLL_INTERVAL_SECS`).
pub fn config_from_env() -> anyhow::Result<DeviceConfig> {
    let poll = match std::env::var("RAMPART_POLL_INTERVAL_SECS") {
        Ok(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=86_400).contains(s))
            .context("RAMPART_POLL_INTERVAL_SECS must be 1..=86400")?,
        Err(_) => DeviceConfig::default().poll_interval.as_secs(),
    };
    Ok(DeviceConfig {
        poll_interval: Duration::from_secs(poll),
        ..DeviceConfig::default()
    })
}

pub fn router(
    resources: &AwsResources,
    clients: &AwsClients,
    clock: Arc<dyn Clock>,
    config: DeviceConfig,
) -> axum::Router {
    let table = resources.table(clients, clock.clone());
    rampart_app::http::device_api(Arc::new(DeviceService::new(table, clock, config)))
        .layer(axum::middleware::map_request(peer_from_request_context))
}

/// Puts API Gateway's `sourceIp` (the address of the TCP connection that reached
/// API Gateway, which the client cannot forge, unlike `X-Forwarded-For`) in the
/// request as the peer address the check-in records.
async fn peer_from_request_context<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    if let Some(ip) = source_ip(&req) {
        req.extensions_mut().insert(PeerAddr(ip.to_canonical()));
    }
    req
}

/// The client address API Gateway saw, from the request context lambda_http
/// attached to the request.
pub fn source_ip<B>(req: &axum::http::Request<B>) -> Option<IpAddr> {
    let source = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }?;
    source.parse().ok()
}
