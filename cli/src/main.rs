//! The `laminar-kafka` command line.

fn main() {
    println!("laminar-kafka {}", env!("CARGO_PKG_VERSION"));
}
