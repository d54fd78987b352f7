//! The `laminar-kafka` command line: produce, consume, manage topics, and a round-trip check.
//!
//! Exit codes: 0 on success; 1 with a one-line error on failure; 2 for usage errors (clap).

mod args;
mod consume;
mod produce;
mod progress;
mod roundtrip;
#[cfg(feature = "runner")]
mod run;
#[cfg(feature = "server")]
mod serve;
mod topics;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("laminar-kafka: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let config = cli.common.client_config()?;
        match cli.command {
            Command::Produce(a) => produce::run(config, a).await,
            Command::Consume(a) => consume::run(config, a).await,
            Command::Topics(a) => topics::run(config, a).await,
            Command::Roundtrip(a) => roundtrip::run(config, a).await,
            #[cfg(feature = "runner")]
            Command::Run(a) => run::run(a).await,
            #[cfg(feature = "server")]
            Command::Serve(a) => serve::run(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            let mut line = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !line.contains(&c) {
                    line.push_str(": ");
                    line.push_str(&c);
                }
            }
            eprintln!("laminar-kafka: {}", line.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
