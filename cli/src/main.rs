//! `latchkey`: the local stack (`serve`) and small operator helpers.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "latchkey", version, about = "Self-hosted auth broker")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start
enum Command {
    /// Run the whole stack on one port with the embedded store.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "LATCHKEY_LISTEN", default_value = "127.0.0.1:3003")]
        listen: SocketAddr,
        /// Directory for the store, the sealing key and the environment keys.
        #[arg(long, env = "LATCHKEY_DATA_DIR", default_value = ".latchkey")]
        data_dir: PathBuf,
        /// URL the API is reached at from browsers (default: http://<listen>).
        #[arg(long, env = "LATCHKEY_PUBLIC_URL")]
        public_url: Option<url::Url>,
        /// Redirect URI registered with providers (default: <public-url>/oauth/callback).
        #[arg(long, env = "LATCHKEY_CALLBACK_URL")]
        callback_url: Option<url::Url>,
        /// Environment name, bound into every encryption context.
        #[arg(long, env = "LATCHKEY_ENVIRONMENT", default_value = "dev")]
        environment: String,
        /// Largest provider answer read, in bytes (1024 to 1048576); a longer one is refused.
        #[arg(long, env = "LATCHKEY_PROVIDER_RESPONSE_LIMIT", default_value = "65536",
              value_parser = latchkey::config::parse_response_limit)]
        provider_response_limit: usize,
        /// Local development only: let hosts an end user names reach loopback and private
        /// addresses (and plain http). Never in a deployment.
        #[arg(long, env = "LATCHKEY_ALLOW_PRIVATE_ADDRESSES", action = clap::ArgAction::SetTrue,
              value_parser = clap::builder::FalseyValueParser::new())]
        allow_private_addresses: bool,
        /// PEM certificates of a certificate authority you run (an in-house identity server or
        /// webhook receiver), trusted besides the public roots.
        #[arg(long, env = "LATCHKEY_EXTRA_CA_FILE", value_name = "FILE")]
        extra_ca_file: Option<PathBuf>,
        /// Lifetime of connect session tokens in seconds (tests shorten it).
        #[arg(long, env = "LATCHKEY_CONNECT_SESSION_TTL_SECS", default_value_t = 1800, hide = true)]
        connect_session_ttl_secs: u64,
        /// Days activity entries are kept; older ones are purged (at start and every 10 minutes,
        /// with expired sessions and nonces).
        #[arg(long, env = "LATCHKEY_ACTIVITY_RETENTION_DAYS", default_value = "30")]
        activity_retention_days: String,
        /// Lifetime of console sessions in seconds (tests shorten it).
        #[arg(long, env = "LATCHKEY_CONSOLE_SESSION_TTL_SECS", default_value_t = 7200, hide = true)]
        console_session_ttl_secs: u64,
    },
    /// Print the environment keys of a data directory.
    Keys {
        #[arg(long, env = "LATCHKEY_DATA_DIR", default_value = ".latchkey")]
        data_dir: PathBuf,
        /// Print `export LATCHKEY_…=…` lines for a shell's `eval`.
        #[arg(long)]
        env: bool,
        /// Read the keys from a deployed stack's secret value (explicit keys or the generated
        /// `{"seed": …}`) in this file, `-` for standard input, instead of the data directory.
        #[arg(long, value_name = "FILE")]
        from_secret: Option<PathBuf>,
    },
}

/// How to run this CLI again from a shell: `latchkey` when that name on the PATH is this very
/// binary (an installed copy), else the command that works from the checkout.
fn command_line() -> &'static str {
    let this = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let installed = on_path
        .filter_map(|dir| std::fs::canonicalize(dir.join("latchkey")).ok())
        .any(|found| Some(found) == this);
    if installed {
        "latchkey"
    } else {
        "cargo run -q -p latchkey-cli --"
    }
}

fn print_keys(keys: &latchkey::config::EnvironmentKeys) {
    println!("  secret key:          {}", keys.secret_key.expose());
    println!("  public key:          {}", keys.public_key);
    println!("  hmac key:            {}", keys.hmac_key.expose());
    println!("  webhook signing key: {}", keys.webhook_signing_key.expose());
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Human-readable lines locally; `LATCHKEY_LOG_FORMAT=json` for a log collector.
    latchkey::logs::init(latchkey::logs::Format::from_env());
    match Cli::parse().command {
        Command::Serve {
            listen,
            data_dir,
            public_url,
            callback_url,
            environment,
            provider_response_limit,
            allow_private_addresses,
            extra_ca_file,
            connect_session_ttl_secs,
            activity_retention_days,
            console_session_ttl_secs,
        } => {
            let public_url = match public_url {
                Some(u) => u,
                None => format!("http://{listen}").parse()?,
            };
            let mut config = latchkey::config::Config::new(environment, public_url.clone(), callback_url);
            config.connect_session_ttl = std::time::Duration::from_secs(connect_session_ttl_secs.max(1)).try_into()?;
            config.activity_retention =
                latchkey::runtime::retention_days(&activity_retention_days).map_err(|e| anyhow::anyhow!(e))?;
            config.console_session_ttl = std::time::Duration::from_secs(console_session_ttl_secs.max(1)).try_into()?;
            config.provider_response_limit = provider_response_limit;
            config.allow_private_addresses = allow_private_addresses;
            if let Some(path) = extra_ca_file {
                config.extra_root_certificates =
                    Some(latchkey::outbound::read_extra_roots(&path).map_err(anyhow::Error::msg)?);
            }
            if allow_private_addresses {
                tracing::warn!("--allow-private-addresses: hosts end users name may reach this machine and its network (local development only)");
            }
            latchkey::runtime::refresh_from_env(&mut config).map_err(|e| anyhow::anyhow!(e))?;
            let stack = latchkey::local::open(&data_dir, config.clone())?;
            if stack.first_start {
                println!(
                    "Created a new environment in {} (keep this directory private).",
                    data_dir.display()
                );
                print_keys(&stack.state.keys.cached());
                println!(
                    "Shown once; `{} keys --data-dir {}` prints them again.",
                    command_line(),
                    data_dir.display()
                );
                println!();
                println!("Next steps:");
                println!(
                    "  1. Register {} as the redirect URI at your OAuth provider.",
                    config.callback_url
                );
                println!("  2. Create an integration:  curl -X POST {public_url}integrations -H 'Authorization: Bearer <secret key>' ...");
                println!("  3. Send a user to:         {public_url}oauth/connect/<integration>?connection_id=<id>&public_key=<public key>");
                println!("  4. Read the connection:    curl {public_url}connections/<id>?provider_config_key=<integration> -H 'Authorization: Bearer <secret key>'");
                println!("  Or open the console:       {public_url}console (sign in with the secret key)");
                println!("  See README.md, 'Quick start'.");
            }
            // Background jobs (integration purges, refreshes) on a timer, in this process, and
            // the refresh scheduler that enqueues the refreshes (once a minute).
            tokio::spawn(stack.jobs.clone().run_every(std::time::Duration::from_secs(1)));
            let period = latchkey::jobs::schedule::local_period(&config.refresh);
            tokio::spawn(latchkey::jobs::schedule::run_every(stack.state.clone(), period));
            let listener = tokio::net::TcpListener::bind(listen).await?;
            tracing::info!(%listen, callback_url = %config.callback_url, data_dir = %data_dir.display(), "latchkey is serving");
            let state = stack.state.clone();
            tokio::spawn(async move { stack.purge_periodically(latchkey::local::PURGE_EVERY).await });
            axum::serve(listener, latchkey::api::local(state))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        Command::Keys {
            data_dir,
            env,
            from_secret,
        } => {
            let keys = match from_secret {
                Some(file) => {
                    let text = if file.as_os_str() == "-" {
                        std::io::read_to_string(std::io::stdin())?
                    } else {
                        std::fs::read_to_string(&file)?
                    };
                    latchkey::config::EnvironmentKeys::from_secret_json(text.trim()).map_err(anyhow::Error::msg)?
                }
                None => {
                    let path = data_dir.join(latchkey::local::KEYS_FILE);
                    serde_json::from_slice(&std::fs::read(&path)?)?
                }
            };
            if env {
                println!("export LATCHKEY_SECRET_KEY='{}'", keys.secret_key.expose());
                println!("export LATCHKEY_PUBLIC_KEY='{}'", keys.public_key);
                println!("export LATCHKEY_HMAC_KEY='{}'", keys.hmac_key.expose());
                println!(
                    "export LATCHKEY_WEBHOOK_SIGNING_KEY='{}'",
                    keys.webhook_signing_key.expose()
                );
            } else {
                print_keys(&keys);
            }
        }
    }
    Ok(())
}
