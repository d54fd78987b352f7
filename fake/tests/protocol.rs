//! The fake as a broker facing a bad client: malformed frames and oversized frames close the
//! connection (and are recorded), the cluster keeps serving others.

use std::time::Duration;

use laminar_kafka_fake::FakeCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes (0 bytes), failing after a deadline.
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

async fn wait_for_violations(cluster: &FakeCluster, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while cluster.protocol_violations().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no violation recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_the_connection() {
    let cluster = FakeCluster::builder()
        .max_frame_size(1024)
        .start()
        .await
        .unwrap();
    let mut s = TcpStream::connect(cluster.broker_address(0).unwrap())
        .await
        .unwrap();
    s.write_all(&(1_000_000_000i32).to_be_bytes())
        .await
        .unwrap();
    assert!(closed_by_peer(&mut s).await);
    wait_for_violations(&cluster, 1).await;
    assert!(
        cluster.protocol_violations()[0]
            .reason
            .contains("1000000000")
    );
}

#[tokio::test]
async fn garbage_and_unknown_apis_close_the_connection() {
    let cluster = FakeCluster::start().await.unwrap();
    let addr = cluster.broker_address(0).unwrap();
    // A frame too short for a header.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0, 0, 0, 2, 0, 1]).await.unwrap();
    assert!(closed_by_peer(&mut s).await);
    // An API key that does not exist.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 1])
        .await
        .unwrap();
    assert!(closed_by_peer(&mut s).await);
    // A Metadata v12 request whose body is cut short.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0, 0, 0, 10, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff])
        .await
        .unwrap();
    assert!(closed_by_peer(&mut s).await);
    wait_for_violations(&cluster, 3).await;
}

#[tokio::test]
async fn an_unsupported_api_versions_version_is_answered_with_our_ranges() {
    use bytes::{Buf, Bytes};
    let cluster = FakeCluster::start().await.unwrap();
    let mut s = TcpStream::connect(cluster.broker_address(0).unwrap())
        .await
        .unwrap();
    // ApiVersions v99: header v2 (flexible) cannot be assumed, so send a v1 header.
    let mut frame = vec![0, 18, 0, 99, 0, 0, 0, 7, 0xff, 0xff];
    let mut out = (frame.len() as i32).to_be_bytes().to_vec();
    out.append(&mut frame);
    s.write_all(&out).await.unwrap();
    let len = s.read_i32().await.unwrap();
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body).await.unwrap();
    let mut body = Bytes::from(body);
    assert_eq!(body.get_i32(), 7, "correlation id");
    assert_eq!(body.get_i16(), 35, "UNSUPPORTED_VERSION");
    assert!(body.get_i32() > 10, "the APIs we serve are listed");
}
