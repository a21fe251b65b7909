//! `stack`: the manifest's command line.
//!
//!   stack check [--manifest PATH]                  validate the manifest, say what is wrong
//!   stack sam [--manifest PATH] [--out PATH]       render the SAM template (default
//!             [--profile NAME]                     target/sam/template.json), as deployed
//!                                                  with one of the manifest's profiles

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "The deployment manifest (infra/stack.json): check it, render the SAM template")]
struct Cli {
    /// The manifest.
    #[arg(long, global = true, default_value_os_t = workspace().join("infra/stack.json"))]
    manifest: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the manifest.
    Check,
    /// Render the SAM template (JSON) from the manifest and the dashboard beside it.
    Sam {
        /// Where to write it; the function zips are named relative to its directory.
        #[arg(long, default_value_os_t = workspace().join("target/sam/template.json"))]
        out: PathBuf,
        /// Where tools/package.sh leaves the zips (`<dir>/<function>/bootstrap.zip`).
        #[arg(long, default_value_os_t = workspace().join("target/lambda"))]
        code_dir: PathBuf,
        /// Render the manifest as deployed with this profile (its `profiles`, e.g. low-latency).
        #[arg(long)]
        profile: Option<String>,
    },
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match &cli.command {
        Command::Check => stack::Stack::load(&cli.manifest).map(|_| {
            println!("{}: valid", cli.manifest.display());
        }),
        Command::Sam {
            out,
            code_dir,
            profile,
        } => stack::sam::render_to_file(&cli.manifest, profile.as_deref(), code_dir, out)
            .map(|()| println!("wrote {}", out.display())),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("stack: {error}");
            ExitCode::FAILURE
        }
    }
}
