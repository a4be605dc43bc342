//! `IlpHttpService` mounted in an axum 0.8 app served with
//! `into_make_service_with_connect_info::<SocketAddr>()`: the client address comes from axum's
//! `ConnectInfo`, so failed attempts are throttled per source (feature `axum`).
#![allow(missing_docs)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey, ThrottleConfig};
use ilp_core::TestReceiver;
use ilp_http::{Endpoint, IlpHttpService, ServerConfig};
use ilp_packet::Address;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const HONEST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const MAX_FAILURES: u32 = 3;

#[tokio::test]
async fn failures_from_one_source_are_throttled_under_axum_and_other_sources_are_served() {
    let auth =
        AccountAuthenticator::new(NodeKey::generate().unwrap(), Arc::new(MemoryStore::new()))
            .with_throttle_config(ThrottleConfig::default().with_max_failures(MAX_FAILURES));
    auth.add_account("alice".parse().unwrap()).await.unwrap();
    let token = auth
        .mint_token(&"alice".parse().unwrap(), None)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let endpoint = Endpoint::new(
        Arc::new(auth),
        TestReceiver::new(Address::from_static("example.node")),
        ServerConfig::default(),
    );
    let app =
        axum::Router::new().route_service("/accounts/{account}/ilp", IlpHttpService::new(endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    let body = common::fulfillable_prepare().into_bytes();
    // Wrong tokens from one source, each naming another account (no account is throttled).
    for i in 0..MAX_FAILURES {
        let path = format!("/accounts/nobody{i}/ilp");
        let status = common::post_from(ATTACKER, addr, &path, "wrong-token", &body).await;
        assert_eq!(status, 401);
    }
    // That source is now throttled, even with alice's right token...
    let path = "/accounts/alice/ilp";
    assert_eq!(
        common::post_from(ATTACKER, addr, path, &token, &body).await,
        429
    );
    // ...and another source is not.
    assert_eq!(
        common::post_from(HONEST, addr, path, &token, &body).await,
        200
    );
}
