//! The `laminar-kafka` command line: produce, consume, metadata, groups, offsets, topics, and
//! a round-trip check; `run` and `serve` with their features.
//!
//! Exit codes: 0 success; 1 usage or other error; 2 cannot connect or authenticate; 3 not
//! found. Errors are one line on stderr, ending with what to do when that is known.

mod args;
mod consume;
mod exit;
mod groups;
mod logging;
mod metadata;
mod produce;
mod profile;
mod progress;
mod roundtrip;
#[cfg(feature = "runner")]
mod run;
#[cfg(feature = "server")]
mod serve;
mod stats;
mod topics;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command, Shell};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Completions(a) => {
            let shell = match a.shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "laminar-kafka", &mut out);
            return write_stdout(&out);
        }
        Command::Man => {
            let mut out = Vec::new();
            if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut out) {
                eprintln!("laminar-kafka: cannot render the man page: {e}");
                return ExitCode::from(exit::USAGE);
            }
            return write_stdout(&out);
        }
        _ => {}
    }
    logging::install(cli.common.verbose, &cli.common.debug);
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
            Command::Metadata(a) => metadata::run(config, a).await,
            Command::Groups(a) => groups::run(config, a).await,
            Command::Offsets(a) => groups::offsets(config, a).await,
            Command::Roundtrip(a) => roundtrip::run(config, a).await,
            Command::Completions(_) | Command::Man => Ok(()),
            #[cfg(feature = "runner")]
            Command::Run(a) => run::run(a).await,
            #[cfg(feature = "server")]
            Command::Serve(a) => serve::run(a).await,
        }
    });
    // Background tasks may still hold connections: do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if exit::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let (code, hint) = exit::classify(&e);
            // One line: the error and its causes, then what to do.
            let mut line = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !line.contains(&c) {
                    line.push_str(": ");
                    line.push_str(&c);
                }
            }
            if let Some(h) = hint {
                line.push_str(" (");
                line.push_str(h);
                line.push(')');
            }
            eprintln!("laminar-kafka: {}", line.replace('\n', " "));
            ExitCode::from(code)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("laminar-kafka: cannot write to stdout: {e}");
            ExitCode::from(exit::USAGE)
        }
    }
}
