//! Values that must never be printed: the client's [`Secret`], and its rule for which
//! properties hold one ([`is_secret_property`]), so that the connector, the client and the server
//! mask the same things.
//!
//! ```
//! use laminar_kafka_connector::config::{Secret, is_secret_property};
//!
//! let password = Secret::new(String::from("hunter2"));
//! assert_eq!(format!("{password:?} {password}"), "*** ***");
//! assert!(is_secret_property("ssl.key.password"));
//! ```

pub use laminar_kafka_client::secret::{Secret, is_secret_property};
