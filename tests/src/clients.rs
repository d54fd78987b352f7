//! Client configurations: per security setup of the harness, and the PLAINTEXT ones most tests
//! take, which give up on a blocked send after 20 s instead of the default minute.

use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::connection::{Connection, ConnectionConfig};

use crate::{Broker, HOW_TO_START, Security};

/// A client configuration for one of the harness' security setups, plus extra properties.
pub fn client_config(broker: &Broker, security: Security, extra: &[(&str, &str)]) -> ClientConfig {
    let listener = security.listener();
    let mut config = ClientConfig::new(broker.bootstrap(listener)).expect("bootstrap address");
    config
        .set("security.protocol", listener.protocol())
        .expect("security.protocol");
    if listener.is_tls() {
        config
            .set("ssl.ca.location", &broker.ca_file.display().to_string())
            .expect("ssl.ca.location");
    }
    if security == Security::SslClientCert {
        config
            .set(
                "ssl.certificate.location",
                &broker.client_cert_file.display().to_string(),
            )
            .expect("ssl.certificate.location");
        config
            .set(
                "ssl.key.location",
                &broker.client_key_file.display().to_string(),
            )
            .expect("ssl.key.location");
    }
    if let Some(mechanism) = security.mechanism() {
        config
            .set("sasl.mechanism", mechanism.name())
            .expect("sasl.mechanism");
        config
            .set("sasl.username", &broker.username)
            .expect("sasl.username");
        config
            .set("sasl.password", broker.password())
            .expect("sasl.password");
    }
    for (name, value) in extra {
        config
            .set(name, value)
            .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
    }
    config
}

/// A PLAINTEXT client configuration with extra properties.
pub fn plaintext_config(broker: &Broker, extra: &[(&str, &str)]) -> ClientConfig {
    client_config(broker, Security::Plaintext, extra)
}

/// One raw connection to the PLAINTEXT listener.
pub async fn connect_plaintext(broker: &Broker) -> Connection {
    Connection::connect(&broker.plaintext, &ConnectionConfig::default())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to {}: {e}; {HOW_TO_START}",
                broker.plaintext
            )
        })
}

/// A client configuration for `bootstrap` whose sends block at most 20 s, plus extra properties.
pub fn config_at(bootstrap: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new(bootstrap).expect("config");
    c.set("max.block.ms", "20000").unwrap();
    for (k, v) in extra {
        c.set(k, v).unwrap();
    }
    c
}

/// [`config_at`] the harness broker's PLAINTEXT listener.
pub fn plain(extra: &[(&str, &str)]) -> ClientConfig {
    config_at(&Broker::from_env().plaintext, extra)
}
