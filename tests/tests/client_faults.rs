//! Connection faults through a TCP proxy in the test process (and a fake broker for hostile
//! bytes): a connection lost mid-request, a response cut mid-frame, a broker that stops
//! answering (during the handshake or after), and a hostile frame size. Each ends in a typed
//! error within its time bound, never a hang. Single `Connection`s are used, since the broker
//! advertises its own address and a cluster client would leave the proxy after bootstrap.

use laminar_kafka_tests as support;

use std::time::{Duration, Instant};

use laminar_kafka_client::Error;
use laminar_kafka_client::connection::{Connection, ConnectionConfig};
use laminar_kafka_protocol::messages::messages::MetadataRequest;
use support::broker;
use support::proxy::Proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(request_timeout: Duration) -> ConnectionConfig {
    ConnectionConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout,
        ..ConnectionConfig::default()
    }
}

async fn connect_through(proxy: &Proxy, request_timeout: Duration) -> Connection {
    let conn = Connection::connect(&proxy.address(), &config(request_timeout))
        .await
        .expect("connect through the proxy");
    conn.send(&MetadataRequest::default())
        .await
        .expect("a request before the fault");
    conn
}

fn assert_closed(error: &Error, reason_part: &str) {
    match error {
        Error::ConnectionClosed { reason, .. } => {
            let reason = reason.as_deref().unwrap_or_default();
            assert!(reason.contains(reason_part), "reason: {reason}");
        }
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_closed_mid_request_fails_the_request_at_once() {
    let broker = broker();
    let proxy = Proxy::start(&broker.plaintext).await;
    let conn = connect_through(&proxy, Duration::from_secs(30)).await;
    proxy.close_on_next_request();
    let started = Instant::now();
    let error = conn
        .send(&MetadataRequest::default())
        .await
        .expect_err("the connection was cut");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?} (request timeout 30 s)",
        started.elapsed()
    );
    assert_closed(&error, "closed the connection");
    assert!(error.is_retriable());
    assert!(conn.is_closed());
    // Later requests fail at once too.
    let started = Instant::now();
    let error = conn
        .send(&MetadataRequest::default())
        .await
        .expect_err("closed");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(matches!(error, Error::ConnectionClosed { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_cut_mid_frame_fails_with_connection_closed() {
    let broker = broker();
    let proxy = Proxy::start(&broker.plaintext).await;
    let conn = connect_through(&proxy, Duration::from_secs(30)).await;
    proxy.truncate_next_response(6);
    let started = Instant::now();
    let error = conn
        .send(&MetadataRequest::default())
        .await
        .expect_err("the response was cut");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_closed(&error, "in the middle of a frame");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_broker_times_out_every_request_in_flight_and_closes() {
    let broker = broker();
    let proxy = Proxy::start(&broker.plaintext).await;
    let timeout = Duration::from_millis(1000);
    let conn = connect_through(&proxy, timeout).await;
    proxy.stall(true);
    let started = Instant::now();
    let requests: Vec<_> = (0..4)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.send(&MetadataRequest::default()).await })
        })
        .collect();
    let mut timeouts = 0;
    for request in requests {
        match request.await.unwrap() {
            Err(Error::RequestTimeout {
                timeout: t, api, ..
            }) => {
                assert_eq!((t, api), (timeout, "Metadata"));
                timeouts += 1;
            }
            // The first timeout closes the connection; the others may see that instead.
            Err(Error::ConnectionClosed { reason, .. }) => {
                assert!(reason.unwrap_or_default().contains("timed out"));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    assert!(timeouts >= 1);
    assert!(
        elapsed >= timeout && elapsed < timeout + Duration::from_secs(2),
        "took {elapsed:?} with request.timeout.ms {timeout:?}"
    );
    assert!(
        conn.is_closed(),
        "a timed-out request closes the connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_broker_during_the_handshake_is_a_connect_timeout() {
    let broker = broker();
    let proxy = Proxy::start(&broker.plaintext).await;
    proxy.stall(true);
    let started = Instant::now();
    let error = Connection::connect(&proxy.address(), &config(Duration::from_secs(30)))
        .await
        .expect_err("no ApiVersions answer");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(4),
        "took {elapsed:?} with a 2 s setup timeout"
    );
    assert!(matches!(error, Error::ConnectTimeout { .. }), "{error:?}");
    assert_eq!(proxy.connections(), 1);
}

/// A "broker" whose first response announces a 2 GiB frame: refused by the frame size limit
/// before anything is allocated for it, as a typed protocol error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frame_size_is_a_protocol_error() {
    let _broker = broker();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 1024];
        let _ = socket.read(&mut request).await;
        // Size prefix i32::MAX, then the start of a response header.
        let _ = socket.write_all(&i32::MAX.to_be_bytes()).await;
        let _ = socket.write_all(&request[8..12]).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let started = Instant::now();
    let error = Connection::connect(&address, &config(Duration::from_secs(30)))
        .await
        .expect_err("a hostile size prefix");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    match &error {
        Error::Protocol { source, .. } => {
            assert!(
                matches!(source, laminar_kafka_protocol::Error::FrameTooLarge { .. }),
                "{source:?}"
            );
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    server.abort();
}
