//! TLS for broker connections: rustls on the `ring` provider, through tokio-rustls.
//!
//! This module owns the client's TLS configuration: which certificate authorities are trusted
//! (`ssl.ca.location`, `ssl.ca.pem`, the bundled Mozilla roots or the system bundle), whether
//! the broker's certificate must name the host (`ssl.endpoint.identification.algorithm`), and the
//! client certificate for mutual TLS (`ssl.certificate.location`/`.pem`,
//! `ssl.key.location`/`.pem`). It builds one [`rustls::ClientConfig`] to share between all
//! connections and runs the handshake on a connected socket with [`connect`]. It does not open
//! sockets, pick brokers or apply timeouts: the connection code wraps [`connect`] in its own
//! timeout.
//!
//! ```no_run
//! use laminar_kafka_client::tls::{self, TlsConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = TlsConfig::new().with_ca_file("/etc/kafka/ca.pem").build()?;
//! let tcp = tokio::net::TcpStream::connect("broker-1.example.com:9093").await?;
//! let stream = tls::connect(tcp, "broker-1.example.com", &config).await?;
//! # drop(stream);
//! # Ok(())
//! # }
//! ```

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Well-known locations of the system's PEM CA bundle, tried in order by
/// [`TrustAnchors::System`] when `SSL_CERT_FILE` is not set.
pub const SYSTEM_CA_BUNDLES: &[&str] = &[
    // Debian, Ubuntu, Arch, Gentoo
    "/etc/ssl/certs/ca-certificates.crt",
    // Fedora, RHEL, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    // openSUSE
    "/etc/ssl/ca-bundle.pem",
    // Alpine, macOS, the BSDs
    "/etc/ssl/cert.pem",
];

/// Why TLS could not be configured or established.
///
/// Errors about key material name the file (or "inline PEM"), never its contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {what} file {}: {source}", path.display())]
    FileUnreadable {
        /// Which file: `CA`, `client certificate` or `client key`.
        what: &'static str,
        /// The configured path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A certificate or key source is not well-formed PEM.
    #[error("{what} {origin} is not valid PEM: {reason}")]
    InvalidPem {
        /// Which source: `CA`, `client certificate` or `client key`.
        what: &'static str,
        /// The file path or `inline PEM`.
        origin: String,
        /// What the PEM parser reported.
        reason: String,
    },

    /// A certificate source has no `CERTIFICATE` PEM block.
    #[error("no certificates in {what} {origin}")]
    NoCertificates {
        /// Which source: `CA` or `client certificate`.
        what: &'static str,
        /// The file path or `inline PEM`.
        origin: String,
    },

    /// None of the CA certificates in a source can be used as a trust anchor.
    #[error("no usable CA certificate in {origin}: {reason}")]
    InvalidCaCertificate {
        /// The file path or `inline PEM`.
        origin: String,
        /// Why the (first) certificate was rejected.
        reason: String,
    },

    /// [`TrustAnchors::System`] found no CA bundle.
    #[error(
        "no system CA bundle found: SSL_CERT_FILE is not set and none of {tried:?} exists; \
         set ssl.ca.location"
    )]
    SystemRootsNotFound {
        /// The locations tried.
        tried: Vec<PathBuf>,
    },

    /// The client private key is missing, unsupported, or does not match the certificate.
    #[error("bad client key {origin}: {reason}")]
    ClientKey {
        /// The file path or `inline PEM`.
        origin: String,
        /// What is wrong (never the key itself).
        reason: String,
    },

    /// `ssl.endpoint.identification.algorithm` has a value other than `https` or none.
    #[error(
        "unknown ssl.endpoint.identification.algorithm {value:?}: expected \"https\", or \"\" or \
         \"none\" to disable host name verification"
    )]
    UnknownEndpointIdentificationAlgorithm {
        /// The configured value.
        value: String,
    },

    /// rustls refused the configuration.
    #[error("invalid TLS configuration: {0}")]
    Config(rustls::Error),

    /// The broker address is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {name:?}: not a DNS name or IP address")]
    InvalidServerName {
        /// The name given.
        name: String,
    },

    /// The TLS handshake failed for a TLS reason, e.g. `invalid peer certificate: UnknownIssuer`.
    #[error("TLS handshake with {server_name} failed: {reason}")]
    Handshake {
        /// The server name the handshake was for.
        server_name: String,
        /// rustls's reason.
        reason: rustls::Error,
    },

    /// The socket failed during the handshake (reset, closed, ...).
    #[error("TLS handshake with {server_name} failed: {source}")]
    Io {
        /// The server name the handshake was for.
        server_name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Where PEM data comes from: a file (`*.location` settings) or a string (`*.pem` settings).
///
/// `Debug` shows a file's path but only the length of inline PEM, which may be a private key.
#[derive(Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A PEM file.
    File(PathBuf),
    /// PEM text.
    Inline(String),
}

impl PemSource {
    fn origin(&self) -> String {
        match self {
            PemSource::File(path) => path.display().to_string(),
            PemSource::Inline(_) => "inline PEM".to_owned(),
        }
    }

    fn read(&self, what: &'static str) -> Result<Vec<u8>, TlsError> {
        match self {
            PemSource::File(path) => read_file(what, path),
            PemSource::Inline(text) => Ok(text.as_bytes().to_vec()),
        }
    }
}

impl fmt::Debug for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemSource::File(path) => f.debug_tuple("File").field(path).finish(),
            PemSource::Inline(text) => write!(f, "Inline(<{} bytes>)", text.len()),
        }
    }
}

/// Which certificate authorities are trusted to sign broker certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustAnchors {
    /// The Mozilla root program, bundled with the client (`webpki-roots`): works the same on
    /// every machine, for brokers with certificates from a public CA.
    #[default]
    WebPkiRoots,
    /// The operating system's PEM bundle: the file named by `SSL_CERT_FILE`, else the first of
    /// [`SYSTEM_CA_BUNDLES`] that exists. Use it for a CA installed into the system store.
    System,
    /// A private CA (`ssl.ca.location` / `ssl.ca.pem`): only these certificates are trusted.
    Pem(PemSource),
}

/// A client certificate chain and its private key, for brokers that require mutual TLS
/// (`ssl.client.auth=required`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate, followed by any intermediates, in PEM.
    pub certificate_chain: PemSource,
    /// The unencrypted private key in PEM: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or
    /// SEC1 (`EC PRIVATE KEY`).
    pub private_key: PemSource,
}

/// TLS settings for broker connections; [`build`](TlsConfig::build) once and share the result.
///
/// The default trusts the bundled Mozilla roots, verifies that the certificate names the host
/// (as Java and librdkafka do by default) and sends no client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    trust_anchors: TrustAnchors,
    verify_hostname: bool,
    client_certificate: Option<ClientCertificate>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            trust_anchors: TrustAnchors::default(),
            verify_hostname: true,
            client_certificate: None,
        }
    }
}

impl TlsConfig {
    /// The defaults: bundled Mozilla roots, host name verification, no client certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts these certificate authorities instead.
    pub fn with_trust_anchors(mut self, trust_anchors: TrustAnchors) -> Self {
        self.trust_anchors = trust_anchors;
        self
    }

    /// Trusts only the CA certificates in this PEM file (`ssl.ca.location`).
    pub fn with_ca_file(self, path: impl Into<PathBuf>) -> Self {
        self.with_trust_anchors(TrustAnchors::Pem(PemSource::File(path.into())))
    }

    /// Trusts only the CA certificates in this PEM text (`ssl.ca.pem`).
    pub fn with_ca_pem(self, pem: impl Into<String>) -> Self {
        self.with_trust_anchors(TrustAnchors::Pem(PemSource::Inline(pem.into())))
    }

    /// Presents this certificate chain and key when the broker asks for one (mutual TLS).
    pub fn with_client_certificate(
        mut self,
        certificate_chain: PemSource,
        private_key: PemSource,
    ) -> Self {
        self.client_certificate = Some(ClientCertificate {
            certificate_chain,
            private_key,
        });
        self
    }

    /// Accepts a broker certificate that does not name the host it was reached at, as
    /// `ssl.endpoint.identification.algorithm=` (empty) does in Java and librdkafka.
    ///
    /// The chain is still verified against the trusted CAs, but anyone holding *any*
    /// certificate from those CAs can then impersonate the broker. Prefer certificates with
    /// the right names.
    pub fn dangerous_disable_hostname_verification(mut self) -> Self {
        self.verify_hostname = false;
        self
    }

    /// Applies `ssl.endpoint.identification.algorithm`: `https` (any case) verifies host names;
    /// an empty value or `none` disables that, as in Java and librdkafka respectively.
    ///
    /// ```
    /// use laminar_kafka_client::tls::TlsConfig;
    ///
    /// let config = TlsConfig::new().with_endpoint_identification_algorithm("")?;
    /// assert!(!config.verifies_hostname());
    /// assert!(TlsConfig::new().with_endpoint_identification_algorithm("ldap").is_err());
    /// # Ok::<(), laminar_kafka_client::tls::TlsError>(())
    /// ```
    pub fn with_endpoint_identification_algorithm(self, value: &str) -> Result<Self, TlsError> {
        if value.eq_ignore_ascii_case("https") {
            Ok(TlsConfig {
                verify_hostname: true,
                ..self
            })
        } else if value.is_empty() || value.eq_ignore_ascii_case("none") {
            Ok(self.dangerous_disable_hostname_verification())
        } else {
            Err(TlsError::UnknownEndpointIdentificationAlgorithm {
                value: value.to_owned(),
            })
        }
    }

    /// The trusted certificate authorities.
    pub fn trust_anchors(&self) -> &TrustAnchors {
        &self.trust_anchors
    }

    /// Whether broker certificates must name the host.
    pub fn verifies_hostname(&self) -> bool {
        self.verify_hostname
    }

    /// The client certificate, if any.
    pub fn client_certificate(&self) -> Option<&ClientCertificate> {
        self.client_certificate.as_ref()
    }

    /// Reads the certificates and key and builds the rustls configuration (TLS 1.2 and 1.3,
    /// ring provider). Call it once and share the result between connections.
    pub fn build(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = Arc::new(ring_provider());
        let roots = self.trust_anchors.load(std::env::var_os("SSL_CERT_FILE"))?;
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;
        let builder = if self.verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier { roots, provider }))
        };
        let config = match &self.client_certificate {
            None => builder.with_no_client_auth(),
            Some(client) => {
                let chain = load_certificates("client certificate", &client.certificate_chain)?;
                let key = load_private_key(&client.private_key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|err| TlsError::ClientKey {
                        origin: client.private_key.origin(),
                        reason: err.to_string(),
                    })?
            }
        };
        Ok(Arc::new(config))
    }
}

/// Runs the TLS handshake on a connected socket.
///
/// `server_name` is the broker's host as configured or advertised: a DNS name, or an IPv4 or
/// IPv6 address (with or without brackets). It is checked against the certificate unless host
/// name verification is off, and sent as SNI when it is a DNS name.
///
/// No timeout is applied: wrap the call in one. Dropping the future drops the socket.
/// With TLS 1.3, a broker that rejects the client certificate does so after the handshake
/// completes on the client side: that rejection surfaces on the first read.
pub async fn connect(
    tcp: TcpStream,
    server_name: &str,
    config: &Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, TlsError> {
    let name = parse_server_name(server_name)?;
    TlsConnector::from(Arc::clone(config))
        .connect(name, tcp)
        .await
        .map_err(|err| handshake_error(server_name, err))
}

fn parse_server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(name);
    ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::InvalidServerName {
        name: name.to_owned(),
    })
}

/// tokio-rustls reports TLS failures as `io::Error`s wrapping a `rustls::Error`: unwrap those
/// into [`TlsError::Handshake`] so callers can match the reason.
fn handshake_error(server_name: &str, err: io::Error) -> TlsError {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(reason) => TlsError::Handshake {
            server_name: server_name.to_owned(),
            reason: reason.clone(),
        },
        None => TlsError::Io {
            server_name: server_name.to_owned(),
            source: err,
        },
    }
}

impl TrustAnchors {
    /// The root store; `ssl_cert_file` is the value of `SSL_CERT_FILE`, passed in for tests.
    fn load(&self, ssl_cert_file: Option<OsString>) -> Result<RootCertStore, TlsError> {
        match self {
            TrustAnchors::WebPkiRoots => Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
            TrustAnchors::System => {
                let path = system_bundle(ssl_cert_file, SYSTEM_CA_BUNDLES)?;
                load_roots(&PemSource::File(path))
            }
            TrustAnchors::Pem(source) => load_roots(source),
        }
    }
}

/// The system bundle: `SSL_CERT_FILE` if set (even if it does not exist, so that a typo is
/// reported), else the first existing candidate.
fn system_bundle(
    ssl_cert_file: Option<OsString>,
    candidates: &[&str],
) -> Result<PathBuf, TlsError> {
    if let Some(path) = ssl_cert_file.filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or_else(|| TlsError::SystemRootsNotFound {
            tried: candidates.iter().map(PathBuf::from).collect(),
        })
}

/// Adds every usable certificate of `source`. Bundles often carry a few certificates that
/// webpki cannot use as anchors (old v1 roots, odd encodings): those are skipped, but a source
/// with none usable is an error naming the reason for the first.
fn load_roots(source: &PemSource) -> Result<RootCertStore, TlsError> {
    let certificates = load_certificates("CA", source)?;
    let mut roots = RootCertStore::empty();
    let mut first_error = None;
    for certificate in certificates {
        if let Err(err) = roots.add(certificate) {
            first_error.get_or_insert(err);
        }
    }
    match first_error {
        Some(err) if roots.is_empty() => Err(TlsError::InvalidCaCertificate {
            origin: source.origin(),
            reason: err.to_string(),
        }),
        _ => Ok(roots),
    }
}

fn load_certificates(
    what: &'static str,
    source: &PemSource,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = source.read(what)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|err| TlsError::InvalidPem {
            what,
            origin: source.origin(),
            reason: err.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificates {
            what,
            origin: source.origin(),
        });
    }
    Ok(certificates)
}

fn load_private_key(source: &PemSource) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = source.read("client key")?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|err| {
        let reason = match err {
            pem::Error::NoItemsFound if contains(&bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY") => {
                "the key is encrypted; encrypted keys (ssl.key.password) are not supported, \
                 give the key unencrypted"
                    .to_owned()
            }
            pem::Error::NoItemsFound => {
                "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block found".to_owned()
            }
            // The PEM errors quote at most a marker line, never key material.
            other => format!("not valid PEM: {other}"),
        };
        TlsError::ClientKey {
            origin: source.origin(),
            reason,
        }
    })
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::FileUnreadable {
        what,
        path: path.to_owned(),
        source,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Verifies the chain to a trusted root and the handshake signatures, but not that the
/// certificate names the server: `ssl.endpoint.identification.algorithm=` (empty).
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: RootCertStore,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let certificate = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &certificate,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// rustls' `ring` provider. Newer rustls releases deprecate it because it offers no
/// post-quantum key exchange; it stays the choice here because the other provider, aws-lc-rs,
/// builds C code with cmake, which the default build keeps out (`scripts/check-deps.sh`).
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    use rustls::server::WebPkiClientVerifier;
    use rustls::{CertificateError, ServerConfig};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;
    use tokio::time::timeout;
    use tokio_rustls::TlsAcceptor;

    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    /// A certificate and its key, in PEM.
    struct Issued {
        cert: String,
        key: String,
    }

    /// A CA and the certificates it signed for one test.
    struct Pki {
        ca: String,
        server: Issued,
        client: Issued,
    }

    fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    fn issue(ca: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> Issued {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "laminar test");
        let cert = params.signed_by(&key, ca).unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn pki() -> Pki {
        pki_named("laminar test CA")
    }

    fn pki_named(ca_name: &str) -> Pki {
        let ca = ca(ca_name);
        Pki {
            ca: ca.pem(),
            server: issue(&ca, &["broker.test", "127.0.0.1", "::1"]),
            client: issue(&ca, &["client.test"]),
        }
    }

    fn server_config(pki: &Pki, require_client_cert: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(super::ring_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pki.ca.as_bytes()) {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = CertificateDer::pem_slice_iter(pki.server.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(pki.server.key.as_bytes()).unwrap();
        Arc::new(builder.with_single_cert(chain, key).unwrap())
    }

    /// A TLS server on 127.0.0.1 that accepts one connection, says "hello" and reports how its
    /// handshake went.
    async fn serve_once(config: Arc<ServerConfig>) -> (u16, JoinHandle<Result<(), io::Error>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut stream = TlsAcceptor::from(config).accept(tcp).await?;
            stream.write_all(b"hello").await?;
            stream.flush().await?;
            // Wait for the client to close, so "hello" is not cut off by our close.
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            Ok(())
        });
        (port, server)
    }

    /// Connects to a one-shot server with `client` as `server_name`; on success reads the
    /// greeting. Returns the client's and the server's outcome.
    async fn handshake(
        pki: &Pki,
        require_client_cert: bool,
        client: &TlsConfig,
        server_name: &str,
    ) -> (Result<(), TlsError>, Result<(), io::Error>) {
        let (port, server) = serve_once(server_config(pki, require_client_cert)).await;
        let config = client.build().unwrap();
        let outcome = timeout(LIMIT, async {
            let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let mut stream = connect(tcp, server_name, &config).await?;
            let mut greeting = [0u8; 5];
            stream
                .read_exact(&mut greeting)
                .await
                .map_err(|err| handshake_error(server_name, err))?;
            assert_eq!(&greeting, b"hello");
            stream.shutdown().await.unwrap();
            Ok(())
        })
        .await
        .expect("client timed out");
        let served = timeout(LIMIT, server)
            .await
            .expect("server timed out")
            .unwrap();
        (outcome, served)
    }

    fn trusting(pki: &Pki) -> TlsConfig {
        TlsConfig::new().with_ca_pem(pki.ca.clone())
    }

    fn assert_handshake_reason(
        result: Result<(), TlsError>,
        check: impl Fn(&rustls::Error) -> bool,
    ) {
        match result {
            Err(TlsError::Handshake { reason, .. }) if check(&reason) => {}
            other => panic!("unexpected outcome: {other:?}"),
        }
    }

    /// A directory removed when the test ends.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "laminar-tls-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn file(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn handshake_succeeds_with_the_right_ca_by_dns_name_and_ip() {
        let pki = pki();
        for name in ["broker.test", "127.0.0.1"] {
            let (client, server) = handshake(&pki, false, &trusting(&pki), name).await;
            client.unwrap();
            server.unwrap();
        }
    }

    #[tokio::test]
    async fn ca_from_a_file_is_trusted() {
        let pki = pki();
        let dir = TempDir::new();
        let config = TlsConfig::new().with_ca_file(dir.file("ca.pem", &pki.ca));
        let (client, _) = handshake(&pki, false, &config, "broker.test").await;
        client.unwrap();
    }

    #[tokio::test]
    async fn a_wrong_ca_fails_with_unknown_issuer() {
        let pki = pki();
        let other = pki_named("another CA");
        let (client, server) = handshake(&pki, false, &trusting(&other), "broker.test").await;
        let err = client.as_ref().unwrap_err().to_string();
        assert_eq!(
            err,
            "TLS handshake with broker.test failed: invalid peer certificate: UnknownIssuer"
        );
        assert_handshake_reason(client, |reason| {
            matches!(
                reason,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            )
        });
        assert!(server.is_err());

        // A CA with the same name but another key: the chain's signature does not verify.
        let impostor = self::pki();
        let (client, _) = handshake(&pki, false, &trusting(&impostor), "broker.test").await;
        assert_handshake_reason(client, |reason| {
            matches!(
                reason,
                rustls::Error::InvalidCertificate(CertificateError::BadSignature)
            )
        });
    }

    #[tokio::test]
    async fn the_bundled_roots_do_not_trust_a_private_ca() {
        let pki = pki();
        let (client, _) = handshake(&pki, false, &TlsConfig::new(), "broker.test").await;
        assert_handshake_reason(client, |reason| {
            matches!(
                reason,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            )
        });
    }

    #[tokio::test]
    async fn a_wrong_hostname_fails_unless_verification_is_off() {
        let pki = pki();
        let (client, _) = handshake(&pki, false, &trusting(&pki), "other.test").await;
        assert_handshake_reason(client, |reason| {
            matches!(
                reason,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            )
        });

        let lax = trusting(&pki).dangerous_disable_hostname_verification();
        for name in ["other.test", "10.1.2.3"] {
            let (client, server) = handshake(&pki, false, &lax, name).await;
            client.unwrap();
            server.unwrap();
        }
    }

    #[tokio::test]
    async fn disabling_hostname_verification_still_verifies_the_chain() {
        let pki = pki();
        let other = pki_named("another CA");
        let lax = trusting(&other).dangerous_disable_hostname_verification();
        let (client, _) = handshake(&pki, false, &lax, "broker.test").await;
        assert_handshake_reason(client, |reason| {
            matches!(
                reason,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            )
        });
    }

    #[tokio::test]
    async fn mutual_tls_accepts_our_certificate() {
        let pki = pki();
        let config = trusting(&pki).with_client_certificate(
            PemSource::Inline(pki.client.cert.clone()),
            PemSource::Inline(pki.client.key.clone()),
        );
        let (client, server) = handshake(&pki, true, &config, "broker.test").await;
        client.unwrap();
        server.unwrap();
    }

    #[tokio::test]
    async fn mutual_tls_rejects_a_client_without_certificate() {
        let pki = pki();
        let (client, server) = handshake(&pki, true, &trusting(&pki), "broker.test").await;
        let server_err = server.unwrap_err();
        let reason = server_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert!(
            matches!(reason, Some(rustls::Error::NoCertificatesPresented)),
            "{server_err}"
        );
        // TLS 1.3: the client learns it from the server's alert on its first read.
        assert_handshake_reason(client, |reason| {
            matches!(reason, rustls::Error::AlertReceived(_))
        });
    }

    #[tokio::test]
    async fn mutual_tls_rejects_a_certificate_from_another_ca() {
        let pki = pki();
        let other = pki_named("another CA");
        let config = trusting(&pki).with_client_certificate(
            PemSource::Inline(other.client.cert.clone()),
            PemSource::Inline(other.client.key.clone()),
        );
        let (client, server) = handshake(&pki, true, &config, "broker.test").await;
        let server_err = server.unwrap_err();
        let reason = server_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert!(
            matches!(
                reason,
                Some(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            ),
            "{server_err}"
        );
        assert_handshake_reason(client, |reason| {
            matches!(reason, rustls::Error::AlertReceived(_))
        });
    }

    #[tokio::test]
    async fn a_closed_socket_is_an_io_error_naming_the_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let closer = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            drop(tcp);
        });
        let config = TlsConfig::new().build().unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let err = timeout(LIMIT, connect(tcp, "broker.test", &config))
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&err, TlsError::Io { server_name, .. } if server_name == "broker.test"),
            "{err:?}"
        );
        closer.await.unwrap();
    }

    #[test]
    fn server_names_may_be_dns_names_or_ip_addresses() {
        assert!(matches!(
            parse_server_name("broker-1.kafka.internal").unwrap(),
            ServerName::DnsName(_)
        ));
        for ip in ["10.0.0.7", "::1", "[::1]", "[fe80::1]"] {
            assert!(
                matches!(parse_server_name(ip).unwrap(), ServerName::IpAddress(_)),
                "{ip}"
            );
        }
        for bad in ["", "bad name", "exa mple.com", "[::1", "a..b"] {
            let err = parse_server_name(bad).unwrap_err();
            assert!(
                matches!(&err, TlsError::InvalidServerName { name } if name == bad),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn a_missing_ca_file_names_the_path() {
        let err = TlsConfig::new()
            .with_ca_file("/nonexistent/laminar/ca.pem")
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, TlsError::FileUnreadable { what: "CA", path, .. }
                if path == Path::new("/nonexistent/laminar/ca.pem")),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("cannot read CA file /nonexistent/laminar/ca.pem: ")
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_rejected() {
        let pki = pki();
        let dir = TempDir::new();
        for contents in ["", "just some text\n", pki.client.key.as_str()] {
            let path = dir.file("ca.pem", contents);
            let err = TlsConfig::new().with_ca_file(&path).build().unwrap_err();
            assert!(
                matches!(&err, TlsError::NoCertificates { what: "CA", origin }
                    if *origin == path.display().to_string()),
                "{contents:?}: {err:?}"
            );
        }
    }

    #[test]
    fn malformed_pem_and_unusable_certificates_are_rejected() {
        let err = TlsConfig::new()
            .with_ca_pem("-----BEGIN CERTIFICATE-----\nMIIB\n")
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, TlsError::InvalidPem { what: "CA", .. }),
            "{err:?}"
        );

        let not_der = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        let err = TlsConfig::new().with_ca_pem(not_der).build().unwrap_err();
        assert!(
            matches!(&err, TlsError::InvalidCaCertificate { origin, .. } if origin == "inline PEM"),
            "{err:?}"
        );

        // One bad certificate among good ones is skipped.
        let pki = pki();
        let mixed = format!("{not_der}{}", pki.ca);
        let roots = load_roots(&PemSource::Inline(mixed)).unwrap();
        assert_eq!(roots.len(), 1);
    }

    #[test]
    fn bad_client_keys_are_rejected_precisely() {
        let pki = pki();
        let other = self::pki();
        let with_key = |key: &str| {
            trusting(&pki)
                .with_client_certificate(
                    PemSource::Inline(pki.client.cert.clone()),
                    PemSource::Inline(key.to_owned()),
                )
                .build()
                .unwrap_err()
        };
        let reason_of = |err: TlsError| match err {
            TlsError::ClientKey { origin, reason } => {
                assert_eq!(origin, "inline PEM");
                reason
            }
            other => panic!("expected a client key error, got {other:?}"),
        };

        let reason = reason_of(with_key(&pki.client.cert));
        assert!(reason.contains("no PRIVATE KEY"), "{reason}");

        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let reason = reason_of(with_key(encrypted));
        assert!(reason.contains("encrypted"), "{reason}");

        let reason = reason_of(with_key(
            "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
        ));
        assert!(reason.contains("not valid PEM"), "{reason}");

        let garbage_der =
            "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n";
        reason_of(with_key(garbage_der));

        // A well-formed key that belongs to another certificate.
        let reason = reason_of(with_key(&other.client.key));
        assert!(reason.contains("key"), "{reason}");
    }

    #[test]
    fn client_certificate_errors_name_the_file() {
        let pki = pki();
        let dir = TempDir::new();
        let key = dir.file("client.key", &pki.client.key);
        let err = trusting(&pki)
            .with_client_certificate(
                PemSource::File(dir.0.join("missing.crt")),
                PemSource::File(key),
            )
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::FileUnreadable {
                    what: "client certificate",
                    ..
                }
            ),
            "{err:?}"
        );

        let cert = dir.file("client.crt", &pki.client.cert);
        let err = trusting(&pki)
            .with_client_certificate(
                PemSource::File(cert),
                PemSource::File(dir.0.join("missing.key")),
            )
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::FileUnreadable {
                    what: "client key",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn debug_output_shows_no_inline_key_material() {
        let pki = pki();
        let config = trusting(&pki).with_client_certificate(
            PemSource::Inline(pki.client.cert.clone()),
            PemSource::Inline(pki.client.key.clone()),
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        let key_body = pki.client.key.lines().nth(1).unwrap();
        assert!(!debug.contains(key_body), "{debug}");
        assert!(debug.contains("Inline(<"), "{debug}");
    }

    #[test]
    fn endpoint_identification_values_follow_java_and_librdkafka() {
        for value in ["https", "HTTPS"] {
            let config = TlsConfig::new()
                .dangerous_disable_hostname_verification()
                .with_endpoint_identification_algorithm(value)
                .unwrap();
            assert!(config.verifies_hostname(), "{value}");
        }
        for value in ["", "none", "NONE"] {
            let config = TlsConfig::new()
                .with_endpoint_identification_algorithm(value)
                .unwrap();
            assert!(!config.verifies_hostname(), "{value:?}");
        }
        let err = TlsConfig::new()
            .with_endpoint_identification_algorithm("http")
            .unwrap_err();
        assert!(
            matches!(&err, TlsError::UnknownEndpointIdentificationAlgorithm { value } if value == "http"),
            "{err}"
        );
        assert!(TlsConfig::default().verifies_hostname());
    }

    #[test]
    fn system_roots_come_from_ssl_cert_file_or_the_first_existing_bundle() {
        let pki = pki();
        let dir = TempDir::new();
        let bundle = dir.file("bundle.pem", &pki.ca);
        let bundle_str = bundle.to_str().unwrap();
        let missing = dir.0.join("missing.pem");
        let missing_str = missing.to_str().unwrap();

        assert_eq!(
            system_bundle(None, &[missing_str, bundle_str]).unwrap(),
            bundle
        );
        assert_eq!(
            system_bundle(Some(OsString::from("/custom/ca.pem")), &[bundle_str]).unwrap(),
            PathBuf::from("/custom/ca.pem")
        );
        assert_eq!(
            system_bundle(Some(OsString::new()), &[bundle_str]).unwrap(),
            bundle
        );
        let err = system_bundle(None, &[missing_str]).unwrap_err();
        assert!(
            matches!(&err, TlsError::SystemRootsNotFound { tried } if tried == std::slice::from_ref(&missing)),
            "{err}"
        );

        let roots = TrustAnchors::System
            .load(Some(bundle.into_os_string()))
            .unwrap();
        assert_eq!(roots.len(), 1);
        let err = TrustAnchors::System
            .load(Some(missing.into_os_string()))
            .unwrap_err();
        assert!(
            matches!(err, TlsError::FileUnreadable { what: "CA", .. }),
            "{err:?}"
        );
    }

    #[test]
    fn the_default_trusts_the_bundled_mozilla_roots() {
        let roots = TrustAnchors::WebPkiRoots.load(None).unwrap();
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        assert!(roots.len() > 100);
    }
}
