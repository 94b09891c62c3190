use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = storecheck_server::cli::Cli::parse();
    match storecheck_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("storecheck: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
