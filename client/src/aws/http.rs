//! A small HTTP/1.1 client for the credentials endpoints: one request per connection, hyper over
//! TCP, or over the client's rustls (ring) for `https`, with a deadline and a bounded body.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{AwsError, Result};

/// The largest response body accepted: credential documents are a few KB.
const MAX_BODY: usize = 256 * 1024;

/// A parsed `http`/`https` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, starting with `/`.
    pub(crate) path_and_query: String,
}

impl Url {
    pub(crate) fn parse(url: &str) -> std::result::Result<Url, String> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err("the URL must start with http:// or https://".to_owned());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("user information in the URL is not supported".to_owned());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| "unterminated IPv6 literal".to_owned())?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err("the URL has no host".to_owned());
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("invalid port {p:?}"))?,
            None if https => 443,
            None => 80,
        };
        Ok(Url {
            https,
            host: host.to_owned(),
            port,
            path_and_query: path.to_owned(),
        })
    }

    /// Scheme, host, port and path, without the query: safe for error messages.
    pub(crate) fn display_endpoint(&self) -> String {
        let path = self.path_and_query.split('?').next().unwrap_or_default();
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}{path}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}{path}", self.host, self.port)
        }
    }
}

/// A response: status and body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

fn tls_config() -> std::result::Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>> =
        OnceLock::new();
    CONFIG
        .get_or_init(|| {
            crate::tls::TlsConfig::new()
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
}

/// Sends one request and reads the whole response within `timeout`.
pub(crate) async fn request(
    source_name: &'static str,
    method: &str,
    url: &Url,
    headers: &[(&str, &str)],
    body: Option<Bytes>,
    timeout: Duration,
) -> Result<Response> {
    let endpoint = url.display_endpoint();
    let fail = |reason: String| AwsError::Http {
        source_name,
        endpoint: endpoint.clone(),
        reason,
    };
    let run = async {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| fail(format!("connect: {e}")))?;
        let host_header = if url.host.contains(':') {
            format!("[{}]", url.host)
        } else if (url.https && url.port == 443) || (!url.https && url.port == 80) {
            url.host.clone()
        } else {
            format!("{}:{}", url.host, url.port)
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(url.path_and_query.as_str())
            .header(hyper::header::HOST, host_header)
            .header(
                hyper::header::USER_AGENT,
                concat!("laminar-kafka/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| fail(format!("invalid request: {e}")))?;
        let response = if url.https {
            let config = tls_config().map_err(&fail)?;
            let tls = crate::tls::connect(tcp, &url.host, &config)
                .await
                .map_err(|e| fail(format!("TLS: {e}")))?;
            send(TokioIo::new(tls), request).await
        } else {
            send(TokioIo::new(tcp), request).await
        }
        .map_err(&fail)?;
        Ok(response)
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| fail(format!("no response within {timeout:?}")))?
}

async fn send<T>(io: T, request: Request<Full<Bytes>>) -> std::result::Result<Response, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("response body: {e}"))?
            .to_bytes();
        Ok(Response { status, body })
    }
    .await;
    driver.abort();
    result
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
pub(crate) fn encode_query_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, super::sigv4::URI_ENCODE).to_string()
}

/// The first `max` characters of an error body, for messages.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod test_server {
    //! A one-shot-per-connection HTTP server on 127.0.0.1 for the provider tests: each accepted
    //! request is answered by a handler function and recorded.

    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A request the server received.
    #[derive(Debug, Clone)]
    pub(crate) struct Seen {
        pub(crate) method: String,
        pub(crate) target: String,
        pub(crate) headers: Vec<(String, String)>,
    }

    impl Seen {
        pub(crate) fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    pub(crate) type Handler = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

    /// Starts the server; returns its `http://127.0.0.1:port` base and the request log.
    pub(crate) async fn start(handler: Handler) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let handler = handler.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        if buf.len() > 64 * 1024 {
                            return;
                        }
                    }
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let mut lines = text.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_owned();
                    let target = first.next().unwrap_or_default().to_owned();
                    let headers = lines
                        .take_while(|l| !l.is_empty())
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let request = Seen {
                        method,
                        target,
                        headers,
                    };
                    let (status, body) = handler(&request);
                    seen.lock().unwrap().push(request);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (base, log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_their_parts() {
        let u = Url::parse("http://169.254.170.2/v2/credentials/abc").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.path_and_query.as_str()),
            (false, "169.254.170.2", 80, "/v2/credentials/abc")
        );
        let u = Url::parse("https://sts.us-east-1.amazonaws.com").unwrap();
        assert_eq!((u.port, u.path_and_query.as_str()), (443, "/"));
        let u = Url::parse("http://[fd00:ec2::254]:8080/latest?x=secret").unwrap();
        assert_eq!(u.host, "fd00:ec2::254");
        assert_eq!(u.display_endpoint(), "http://[fd00:ec2::254]:8080/latest");
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://user:pw@host/").is_err());
        assert!(Url::parse("http://host:99999/").is_err());
        assert!(Url::parse("http:///path").is_err());
    }

    #[tokio::test]
    async fn a_request_round_trips_and_a_dead_endpoint_times_out() {
        let (base, log) = test_server::start(Arc::new(|seen| {
            (200, format!("{} {}", seen.method, seen.target))
        }))
        .await;
        let url = Url::parse(&format!("{base}/path?q=1")).unwrap();
        let r = request(
            "test",
            "PUT",
            &url,
            &[("x-custom", "v")],
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], b"PUT /path?q=1");
        assert_eq!(log.lock().unwrap()[0].header("x-custom"), Some("v"));

        // A listener that never answers: the deadline ends the request.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/secret?token=abc",
            silent.local_addr().unwrap()
        ))
        .unwrap();
        let err = request("test", "GET", &url, &[], None, Duration::from_millis(200))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no response within"), "{text}");
        assert!(!text.contains("token=abc"), "{text}");
    }
}
