//! Shared helpers of the broker tests: finding the harness broker, naming fresh topics, and
//! running the interop peers (the Java client's tools and kcat).
