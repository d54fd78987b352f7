//! Listeners and connections: frames in, responses out, one request at a time per connection
//! (as a broker handles them). Malformed input closes the connection and is recorded.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use laminar_kafka_protocol::frame::FrameDecoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::api::{self, Ctx};
use crate::observe::{ProtocolViolation, ReceivedRequest};
use crate::script::Action;
use crate::state::{Inner, lock};

/// What to do after a request.
enum Next {
    Reply(Bytes),
    Nothing,
    Close,
    Hang,
}

pub(crate) async fn serve(inner: Arc<Inner>, broker: i32, listener: TcpListener) {
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(inner.clone(), broker, stream));
                }
            }
        }
    }
}

async fn connection(inner: Arc<Inner>, broker: i32, stream: TcpStream) {
    let mut shutdown = inner.shutdown.subscribe();
    let result = tokio::select! {
        _ = shutdown.changed() => Ok(()),
        r = run(&inner, broker, stream) => r,
    };
    if let Err(reason) = result {
        lock(&inner.violations).push(ProtocolViolation { broker, reason });
    }
}

async fn run(inner: &Arc<Inner>, broker: i32, mut stream: TcpStream) -> Result<(), String> {
    let max_frame = inner.state().config.max_frame_size;
    let decoder = FrameDecoder::new(max_frame);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        let frame = loop {
            match decoder.decode(&mut buf).map_err(|e| e.to_string())? {
                Some(f) => break f,
                None => {
                    let n = stream.read_buf(&mut buf).await.map_err(|e| e.to_string());
                    match n {
                        Ok(0) => return Ok(()),
                        Ok(_) => {}
                        // A reset by the client is its business, not a violation.
                        Err(_) => return Ok(()),
                    }
                }
            }
        };
        match request(inner, broker, frame).await? {
            Next::Reply(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return Ok(());
                }
            }
            Next::Nothing => {}
            Next::Close => return Ok(()),
            Next::Hang => std::future::pending::<()>().await,
        }
    }
}

fn encode_response(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<Bytes, String> {
    let mut out = BytesMut::new();
    out.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, api.response_header_version(version))
        .map_err(|e| format!("encoding the response header: {e}"))?;
    body.encode(&mut out, version)
        .map_err(|e| format!("encoding the {api:?} v{version} response: {e}"))?;
    let len = i32::try_from(out.len() - 4).map_err(|_| "response over 2 GiB".to_owned())?;
    out[..4].copy_from_slice(&len.to_be_bytes());
    Ok(out.freeze())
}

async fn request(inner: &Arc<Inner>, broker: i32, mut frame: Bytes) -> Result<Next, String> {
    let (Some(k), Some(v)) = (frame.get(0..2), frame.get(2..4)) else {
        return Err(format!(
            "a frame of {} bytes has no request header",
            frame.len()
        ));
    };
    let key = i16::from_be_bytes([k[0], k[1]]);
    let version = i16::from_be_bytes([v[0], v[1]]);
    let api = ApiKey::try_from(key).map_err(|()| format!("unknown API key {key}"))?;
    let supported = api::advertised(api).filter(|(min, max)| (*min..=*max).contains(&version));
    if supported.is_none() {
        if let (ApiKey::ApiVersions, Some(c)) = (api, frame.get(4..8)) {
            // Answer at v0 with our ranges so that the client can retry (KIP-511). The header
            // of a version we do not know may not parse: only the correlation id is needed.
            let correlation_id = i32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            let body = ResponseKind::ApiVersions(
                ApiVersionsResponse::default()
                    .with_error_code(ResponseError::UnsupportedVersion.code())
                    .with_api_keys(api::api_version_list()),
            );
            return encode_response(api, 0, correlation_id, &body).map(Next::Reply);
        }
        return Err(format!("{api:?} v{version} is not served"));
    }
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))
        .map_err(|e| format!("{api:?} v{version}: bad request header: {e}"))?;
    let req = RequestKind::decode(api, &mut frame, version)
        .map_err(|e| format!("{api:?} v{version}: bad request body: {e}"))?;
    let partitions = api::request_partitions(&req, &inner.state());
    let client_id = header.client_id.as_ref().map(|c| c.to_string());
    let keys = api::request_keys(&req);
    lock(&inner.requests).push(ReceivedRequest {
        broker,
        api,
        version,
        partitions: partitions.clone(),
        keys: keys.clone(),
        client_id: client_id.clone(),
    });
    let decision = lock(&inner.script).decide(api, broker, &partitions, &keys);
    let mut ctx = Ctx {
        broker,
        version,
        client_id: client_id.unwrap_or_default(),
        fail: None,
    };
    let action = decision.map(|d| {
        if let Action::Fail(e) | Action::FailAfter(e, _) = &d.action {
            ctx.fail = Some((*e, d.partition.clone()));
        }
        d.action
    });
    if action == Some(Action::Disconnect) {
        return Ok(Next::Close);
    }
    let Some(body) = api::handle(inner, &ctx, req).await else {
        return Ok(match action {
            Some(Action::NeverAnswer) => Next::Hang,
            _ => Next::Nothing,
        });
    };
    let bytes = encode_response(api, version, header.correlation_id, &body)?;
    Ok(match action {
        Some(Action::DropResponse) => Next::Close,
        Some(Action::NeverAnswer) => Next::Hang,
        Some(Action::Delay(d) | Action::FailAfter(_, d)) => {
            tokio::time::sleep(d).await;
            Next::Reply(bytes)
        }
        _ => Next::Reply(bytes),
    })
}
