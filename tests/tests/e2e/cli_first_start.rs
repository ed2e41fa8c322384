//! The real `latchkey serve` binary: the first start of a data directory creates the keys
//! (owner-only files, the SQLite store's included), prints them once with next steps, and
//! serves with them; a second start of the same directory prints no key.
//!
//! The binary lives in another crate, so Cargo can't hand us its path: `LATCHKEY_BIN` names it
//! (tests/steps/20-e2e.sh builds it and sets it); otherwise it is looked up next to this test's
//! own executable (`target/<profile>/latchkey`).

use latchkey_tests::served::{latchkey_bin, serve};

fn printed_key(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no '{label}' line in: {stdout}"))
        .trim()
        .to_owned()
}

#[tokio::test]
async fn the_first_start_prints_the_keys_and_next_steps_once_and_keeps_them_private() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let stdout = serve(&data_dir).await.stop();
    assert!(stdout.contains("Created a new environment"), "{stdout}");
    assert!(stdout.contains("Next steps:"), "{stdout}");
    // The binary under test is not on the PATH as `latchkey`: the command it cites works from
    // the checkout.
    assert!(
        stdout.contains("`cargo run -q -p latchkey-cli -- keys --data-dir "),
        "{stdout}"
    );
    assert!(
        stdout.contains("/oauth/callback"),
        "the redirect URI to register: {stdout}"
    );
    let secret_key = printed_key(&stdout, "secret key:");
    assert!(secret_key.starts_with("lk_sk_"), "{stdout}");
    assert!(printed_key(&stdout, "public key:").starts_with("lk_pk_"), "{stdout}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["environment-keys.json", "sealing.key"] {
            let mode = std::fs::metadata(data_dir.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let mode = std::fs::metadata(&data_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the data directory");
    }

    let second = serve(&data_dir).await;
    let response = reqwest::Client::new()
        .get(format!("{}/connections", second.address))
        .bearer_auth(&secret_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the printed key is kept and accepted");
    // A write makes SQLite create its -wal and -shm files: owner-only like the rest.
    let response = reqwest::Client::new()
        .patch(format!("{}/environment", second.address))
        .bearer_auth(&secret_key)
        .json(&serde_json::json!({"hmac_enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert!(data_dir.join("latchkey.sqlite3-wal").exists());
        for entry in std::fs::read_dir(&data_dir).unwrap() {
            let path = entry.unwrap().path();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
    }
    let stdout = second.stop();
    assert!(!stdout.contains("lk_sk_"), "no key printed again: {stdout}");
    assert!(!stdout.contains("Created a new environment"), "{stdout}");
}

#[test]
fn keys_of_a_deployed_stack_are_read_from_its_secret_value() {
    use std::io::Write;
    let secret = r#"{"seed": "0123456789abcdef0123456789abcdef0123456789"}"#;
    let mut child = std::process::Command::new(latchkey_bin())
        .args(["keys", "--from-secret", "-", "--env"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(secret.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let keys = latchkey::config::EnvironmentKeys::from_secret_json(secret).unwrap();
    assert!(
        printed.contains(&format!("export LATCHKEY_SECRET_KEY='{}'", keys.secret_key.expose())),
        "{printed}"
    );
    assert!(printed.contains(&format!("export LATCHKEY_PUBLIC_KEY='{}'", keys.public_key)));
}
