//! The SigV4 presign of `GET https://{host}/?Action=kafka-cluster%3AConnect` that both MSK IAM
//! mechanisms carry, done by AWS's `aws-sigv4` signer.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;

use super::{AwsError, Credentials, Result, SecretString};

/// Characters percent-encoded in a query value: all but RFC 3986's unreserved ones, as SigV4
/// encodes them.
pub(crate) const URI_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The signing name (service) of MSK IAM.
pub const SERVICE: &str = "kafka-cluster";

/// The action both mechanisms ask for.
pub const KAFKA_CONNECT_ACTION: &str = "kafka-cluster:Connect";

/// The query parameters a presign produces (besides `Action`).
#[derive(Clone, PartialEq, Eq)]
pub struct Presigned {
    /// `X-Amz-Algorithm`: `AWS4-HMAC-SHA256`.
    pub algorithm: String,
    /// `X-Amz-Credential`: `AKID/yyyyMMdd/region/kafka-cluster/aws4_request`.
    pub credential: String,
    /// `X-Amz-Date`: `yyyyMMddTHHmmssZ`.
    pub date: String,
    /// `X-Amz-Expires`, in seconds.
    pub expires: String,
    /// `X-Amz-SignedHeaders`: `host`.
    pub signed_headers: String,
    /// `X-Amz-Signature`: lowercase hex.
    pub signature: String,
    /// `X-Amz-Security-Token`, for temporary credentials.
    pub security_token: Option<SecretString>,
    /// The signing time.
    pub signed_at: SystemTime,
    /// The expiry the signature carries (`signed_at + expires`).
    pub expires_in: Duration,
}

impl fmt::Debug for Presigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presigned")
            .field("credential", &self.credential)
            .field("date", &self.date)
            .field("expires", &self.expires)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Presigns `GET https://{host}/?Action=kafka-cluster%3AConnect` for service `kafka-cluster` in
/// `region` at time `now`, valid for `expires_in`: only the `host` header is signed, the payload
/// hash is that of an empty body, and a session token is part of the signed query.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use laminar_kafka_client::aws::{Credentials, presign_kafka_connect};
///
/// let credentials = Credentials::new("ACCESS_KEY", "SECRET_KEY", None, None, "example");
/// // 2021-10-14T13:05:00Z
/// let now = UNIX_EPOCH + Duration::from_secs(1_634_216_700);
/// let p = presign_kafka_connect(&credentials, "us-east-1", "localhost", now, Duration::from_secs(300))?;
/// assert_eq!(p.signature, "6b8d25f9b45b9c7db9da855a49112d80379224153a27fd279c305a5b7940d1a7");
/// assert_eq!(p.credential, "ACCESS_KEY/20211014/us-east-1/kafka-cluster/aws4_request");
/// # Ok::<(), laminar_kafka_client::aws::AwsError>(())
/// ```
pub fn presign_kafka_connect(
    credentials: &Credentials,
    region: &str,
    host: &str,
    now: SystemTime,
    expires_in: Duration,
) -> Result<Presigned> {
    let signing_err = |reason: String| AwsError::Signing { reason };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
    {
        return Err(signing_err(format!(
            "{host:?} is not a host name the request can be signed for"
        )));
    }
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(signing_err(format!("{region:?} is not an AWS region")));
    }
    // The signer's identity type; the secret is copied into it only for the signing.
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key().expose(),
        credentials.session_token().map(|t| t.expose().to_owned()),
        None,
        "laminar-kafka",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| signing_err(e.to_string()))?
        .into();
    let uri = if host.contains(':') {
        // An IPv6 literal.
        format!("https://[{host}]/?Action=kafka-cluster%3AConnect")
    } else {
        format!("https://{host}/?Action=kafka-cluster%3AConnect")
    };
    let request = SignableRequest::new(
        "GET",
        uri,
        [("host", host)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| signing_err(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| signing_err(e.to_string()))?
        .into_parts();
    let (_headers, query) = instructions.into_parts();
    let find = |name: &str| -> Result<String> {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v): &(&str, Cow<'_, str>)| v.to_string())
            .ok_or_else(|| signing_err(format!("the signer did not produce {name}")))
    };
    Ok(Presigned {
        algorithm: find("X-Amz-Algorithm")?,
        credential: find("X-Amz-Credential")?,
        date: find("X-Amz-Date")?,
        expires: find("X-Amz-Expires")?,
        signed_headers: find("X-Amz-SignedHeaders")?,
        signature: find("X-Amz-Signature")?,
        security_token: credentials
            .session_token()
            .map(|_| find("X-Amz-Security-Token").map(SecretString::new))
            .transpose()?,
        signed_at: now,
        expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn the_published_vector_is_reproduced() {
        let credentials = Credentials::new("ACCESS_KEY", "SECRET_KEY", None, None, "test");
        let now = UNIX_EPOCH + Duration::from_secs(1_634_216_700);
        let p = presign_kafka_connect(
            &credentials,
            "us-east-1",
            "localhost",
            now,
            Duration::from_secs(300),
        )
        .unwrap();
        assert_eq!(
            p.signature,
            "6b8d25f9b45b9c7db9da855a49112d80379224153a27fd279c305a5b7940d1a7"
        );
        assert_eq!(p.algorithm, "AWS4-HMAC-SHA256");
        assert_eq!(p.date, "20211014T130500Z");
        assert_eq!(p.expires, "300");
        assert_eq!(p.signed_headers, "host");
        assert!(p.security_token.is_none());
    }

    #[test]
    fn hostile_hosts_and_regions_are_refused() {
        let c = Credentials::new("A", "S", None, None, "test");
        for host in ["", "a b", "evil/?x=1", "h\r\nx: y"] {
            let err = presign_kafka_connect(&c, "us-east-1", host, UNIX_EPOCH, Duration::ZERO)
                .unwrap_err();
            assert!(matches!(err, AwsError::Signing { .. }), "{err}");
        }
        let err =
            presign_kafka_connect(&c, "us east", "h", UNIX_EPOCH, Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("not an AWS region"), "{err}");
    }
}
