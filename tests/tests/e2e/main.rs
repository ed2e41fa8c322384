//! The end-to-end suite in one test binary: each file was its own binary, compiled and linked
//! against the whole stack on its own, and that build was most of the suite's time. Each module
//! is one subject; `cargo test -p latchkey-tests --test e2e -- <module>::` runs one.
//! `log_secrets` stays its own binary: it installs the process's global log subscriber.

mod api_errors;
mod aws_sigv4;
mod backend_auth;
mod backend_hardening;
mod bill;
mod bounded_reads;
mod browser_binding;
mod catalog_flows;
mod catalog_oidc;
mod cli_first_start;
mod connect_page;
mod connection_edits;
mod console;
mod environment;
mod github_app;
mod github_app_oauth;
mod hostile_input;
mod integration_delete;
mod jwt;
mod logs;
mod mcp;
mod mtls;
mod oauth1;
mod oauth_failures;
mod oauth_flow;
mod outbound_attacks;
mod ownership;
mod popup_sockets;
mod refresh;
mod refresh_failures;
mod refresh_processes;
mod refresh_scheduler;
mod refresh_webhooks;
mod secrets_at_rest;
mod signature;
mod two_step;
mod webhooks;
