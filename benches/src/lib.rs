//! Workloads shared by the benchmarks in `benches/benches/`.
