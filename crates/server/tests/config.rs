//! The configuration as an operator meets it, through the real binary: a
//! TOML file under the environment under flags, `apiome config check`
//! masking secrets, one line naming the key and the file for a bad one,
//! subcommands that show only their own flags, the shipped example file,
//! and keys shared across hosts through the environment and the database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use server::config::{KEYS, Settings};
use support::{APIOME, cli_with, serve_with};

mod support;

/// `apiome ARGS` with none of the caller's apiome variables, plus `env`.
fn apiome(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(APIOME);
    for key in KEYS {
        command.env_remove(key.env);
    }
    command
        .env_remove("APIOME_CONFIG")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A non-zero exit whose stderr is one line containing every `expected`.
fn one_line_failure(output: &Output, expected: &[&str]) {
    assert!(!output.status.success(), "it succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    for part in expected {
        assert!(stderr.contains(part), "{part:?} not in {stderr}");
    }
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("apiome.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The line of `config check`'s output for `key`.
fn line_of<'a>(printed: &'a str, key: &str) -> &'a str {
    printed
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in {printed}"))
}

#[test]
fn the_file_is_overridden_by_the_environment_and_both_by_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "data_dir = \"/from/file\"\nrate_limit = 7\nsign_ups_per_hour = 3\n",
    );
    let file = file.to_str().unwrap();
    let check = |env: &[(&str, &str)], flags: &[&str]| {
        let mut args = vec!["config", "check", "--config", file];
        args.extend_from_slice(flags);
        stdout(&apiome(&args, env))
    };

    let printed = check(&[], &[]);
    assert!(line_of(&printed, "data_dir").starts_with("data_dir = \"/from/file\""));
    assert!(line_of(&printed, "data_dir").ends_with(&format!("# config file {file}")));
    assert!(line_of(&printed, "rate_limit").starts_with("rate_limit = 7 "));
    assert!(
        line_of(&printed, "bind").ends_with("# default"),
        "{printed}"
    );

    let env = [("APIOME_DATA_DIR", "/from/env"), ("APIOME_RATE_LIMIT", "9")];
    let printed = check(&env, &[]);
    assert!(line_of(&printed, "data_dir").starts_with("data_dir = \"/from/env\""));
    assert!(line_of(&printed, "data_dir").ends_with("# environment variable APIOME_DATA_DIR"));
    assert!(line_of(&printed, "rate_limit").starts_with("rate_limit = 9 "));
    // What the environment leaves alone stays the file's.
    assert!(line_of(&printed, "sign_ups_per_hour").starts_with("sign_ups_per_hour = 3 "));

    let printed = check(&env, &["--data-dir", "/from/flag"]);
    assert!(line_of(&printed, "data_dir").starts_with("data_dir = \"/from/flag\""));
    assert!(line_of(&printed, "data_dir").ends_with("# flag --data-dir"));

    // APIOME_CONFIG names the file as --config does.
    let printed = stdout(&apiome(&["config", "check"], &[("APIOME_CONFIG", file)]));
    assert!(line_of(&printed, "rate_limit").starts_with("rate_limit = 7 "));
}

#[test]
fn serve_flags_override_a_file_that_would_not_start() {
    // The file's addresses do not parse; the flags' do, and win.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bind = \"nonsense\"\nadmin_bind = \"nonsense\"\nrate_limit = 0\n",
    );
    let data = dir.path().join("data");
    let server = serve_with(&data, None, &[("APIOME_CONFIG", file.to_str().unwrap())]);
    // It serves on the flag's address (and, once it has answered, its
    // signal handler is in place).
    let answered = get(server.port, "/livez");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    server.terminate();
    // Without the flags, the file's bad value stops it, naming key and file.
    let output = apiome(
        &["serve", "--data-dir", data.to_str().unwrap()],
        &[("APIOME_CONFIG", file.to_str().unwrap())],
    );
    one_line_failure(&output, &["`bind`", file.to_str().unwrap(), "nonsense"]);
}

#[test]
fn config_check_masks_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "database_url = \"postgres://apiome:db-hunter2@db.example:5432/apiome\"\n\
         smtp_url = \"smtps://mailer:smtp-hunter2@mail.example:465\"\n\
         server_key = \"server-hunter2\"\n\
         ledger_key = \"ledger-hunter2\"\n",
    );
    let master = "bWFzdGVyLWh1bnRlcjItbWFzdGVyLWh1bnRlcjItISE=";
    let output = apiome(
        &["config", "check", "--config", file.to_str().unwrap()],
        &[("APIOME_MASTER_KEY", master)],
    );
    let printed = stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for secret in ["hunter2", master] {
        assert!(!printed.contains(secret), "{secret} shown: {printed}");
        assert!(!stderr.contains(secret), "{secret} logged: {stderr}");
    }
    assert!(
        printed.contains("postgres://apiome:****@db.example:5432/apiome"),
        "{printed}"
    );
    assert!(
        printed.contains("smtps://mailer:****@mail.example:465"),
        "{printed}"
    );
    for key in ["master_key", "server_key", "ledger_key"] {
        assert!(
            line_of(&printed, key).starts_with(&format!("{key} = \"****\"")),
            "{printed}"
        );
    }
    assert!(line_of(&printed, "master_key").ends_with("# environment variable APIOME_MASTER_KEY"));
}

#[test]
fn an_unknown_key_or_a_bad_value_stops_with_one_line_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("bnid = \"127.0.0.1:8080\"\n", vec!["unknown key `bnid`"]),
        ("rate_limit = \"many\"\n", vec!["`rate_limit`", "many"]),
        ("rate_limit = -1\n", vec!["`rate_limit`"]),
        ("log_format = \"xml\"\n", vec!["`log_format`", "xml"]),
        ("[server]\nbind = \"x\"\n", vec!["unknown key `server`"]),
        ("bind = \"127.0.0.1:99999\"\n", vec!["`bind`", "99999"]),
        (
            "public_url = \"https://x.example/path\"\n",
            vec!["`public_url`"],
        ),
        (
            "smtp_url = \"smtp://mail.example:25\"\n",
            vec!["`smtp_url`"],
        ),
        (
            "trusted_proxies = [\"10.0.0.0/8\"]\n",
            vec!["`trusted_proxies`", "10.0.0.0/8"],
        ),
        (
            "master_key = \"a\"\nmaster_key_file = \"/k\"\n",
            vec!["master_key"],
        ),
        ("bind = \n", vec!["config file"]),
    ] {
        let file = write(dir.path(), text);
        let path = file.to_str().unwrap();
        for command in [&["config", "check"][..], &["migrate"], &["serve"]] {
            let mut args = command.to_vec();
            args.extend(["--config", path]);
            let mut wanted = expected.clone();
            wanted.push(path);
            one_line_failure(&apiome(&args, &[]), &wanted);
        }
    }
    // A key file that is not there is named with its key.
    one_line_failure(
        &apiome(
            &["config", "check"],
            &[("APIOME_LEDGER_KEY_FILE", "/nonexistent/ledger.key")],
        ),
        &["`ledger_key_file`", "/nonexistent/ledger.key"],
    );
    // A missing file is named too.
    let missing = dir.path().join("absent.toml");
    one_line_failure(
        &apiome(
            &["config", "check", "--config", missing.to_str().unwrap()],
            &[],
        ),
        &["absent.toml"],
    );
    // A bad environment value names its variable.
    one_line_failure(
        &apiome(&["config", "check"], &[("APIOME_RATE_LIMIT", "lots")]),
        &["APIOME_RATE_LIMIT", "lots"],
    );
}

#[test]
fn a_subcommand_shows_only_its_own_flags() {
    const SERVE_FLAGS: [&str; 8] = [
        "--bind",
        "--admin-bind",
        "--public-url",
        "--rate-limit",
        "--sign-ups-per-hour",
        "--trusted-proxy",
        "--smtp-url",
        "--mail-from",
    ];
    for command in [
        &["company", "create", "--help"][..],
        &["company", "list", "--help"],
        &["migrate", "--help"],
        &["keys", "rotate", "--help"],
        &["config", "check", "--help"],
    ] {
        let help = stdout(&apiome(command, &[]));
        for flag in SERVE_FLAGS {
            assert!(!help.contains(flag), "{command:?} lists {flag}: {help}");
        }
        for global in ["--config", "--data-dir", "--database-url"] {
            assert!(help.contains(global), "{command:?} lacks {global}");
        }
    }
    let help = stdout(&apiome(&["company", "create", "--help"], &[]));
    assert!(help.contains("--redirect-uri"));
    for serves in [&["serve", "--help"][..], &["--help"]] {
        let help = stdout(&apiome(serves, &[]));
        for flag in SERVE_FLAGS {
            assert!(help.contains(flag), "{serves:?} lacks {flag}");
        }
    }
    // A serve flag given to another command is refused, not ignored.
    let output = apiome(&["migrate", "--bind", "127.0.0.1:1"], &[]);
    assert!(!output.status.success());
    let output = apiome(&["--bind", "127.0.0.1:1", "migrate"], &[]);
    assert!(!output.status.success());
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/apiome.toml")
}

/// The Debian package's `/etc/apiome/apiome.toml` loads, and puts the data
/// where the unit's `StateDirectory` is.
#[test]
fn the_packaged_config_file_loads_and_names_the_state_directory() {
    let packaged = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/apiome.toml");
    let printed = stdout(&apiome(
        &["config", "check", "--config", packaged.to_str().unwrap()],
        &[],
    ));
    assert!(line_of(&printed, "data_dir").starts_with("data_dir = \"/var/lib/apiome\""));
    assert!(line_of(&printed, "log_format").starts_with("log_format = \"json\""));
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/apiome.service"),
    )
    .unwrap();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=apiome",
        "ProtectSystem=strict",
        "ExecStart=/usr/bin/apiome --config /etc/apiome/apiome.toml serve",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
}

#[test]
fn the_shipped_example_names_every_key_and_loads() {
    let text = std::fs::read_to_string(example()).unwrap();
    for key in KEYS {
        let named = text.lines().any(|l| {
            let l = l.trim_start_matches("# ");
            l.starts_with(&format!("{} = ", key.name))
        });
        assert!(named, "docs/apiome.toml lacks {}", key.name);
        assert!(text.contains(key.env), "docs/apiome.toml lacks {}", key.env);
        if let Some(flag) = key.flag {
            assert!(text.contains(flag), "docs/apiome.toml lacks {flag}");
        }
    }
    // The README's operator section shows it whole.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    assert!(
        readme.contains(&format!("```toml\n{text}```")),
        "README.md's config file differs from docs/apiome.toml"
    );
    // As shipped, it is the defaults: `config check` accepts it.
    let printed = stdout(&apiome(
        &["config", "check", "--config", example().to_str().unwrap()],
        &[],
    ));
    assert!(line_of(&printed, "bind").starts_with("bind = \"127.0.0.1:8080\""));
    // Every commented example, uncommented, is a known key of the right
    // type (the pairs value/file are loaded one at a time).
    for second_of_pair in [false, true] {
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split(" = ").next().is_some_and(|k| {
                        KEYS.iter().any(|key| key.name == k)
                            && (k.ends_with("_file") == second_of_pair || !is_paired(k))
                    }) =>
                {
                    rest
                }
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), &uncommented);
        let loaded = server::config::load(Some(&file), &Settings::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.settings.public_url.is_some());
        assert!(loaded.config().is_ok(), "{:?}", loaded.config().err());
    }
}

fn is_paired(key: &str) -> bool {
    ["master_key", "server_key", "ledger_key"]
        .iter()
        .any(|k| key == *k || key == format!("{k}_file"))
}

/// Point 8: two servers, two data directories, one PostgreSQL; the shared
/// keys come from the environment (as from a secret manager), the signing
/// keys from the database. `apiome keys rotate` on a third "host" reaches
/// both: a token signed with the new key by A is accepted by B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_on_one_host_reaches_the_others_through_the_database() {
    let Some(db) = store::testing::postgres().await else {
        return;
    };
    let database_url = match &db.url {
        store::DatabaseUrl::Postgres(url) => url.clone(),
        store::DatabaseUrl::Sqlite(_) => unreachable!("a PostgreSQL test database"),
    };
    let master = store::DataKeys::encode(&store::DataKeys::generate().unwrap());
    let server_key = authz::ServerKey::generate(&mut authz::OsRandom)
        .unwrap()
        .to_text();
    let ledger_key = ledger::NoteSigner::from_seed("apiome.example/apiome-ledger", [7; 32])
        .unwrap()
        .skey();
    let env = [
        ("APIOME_MASTER_KEY", master.as_str()),
        ("APIOME_SERVER_KEY", server_key.as_str()),
        ("APIOME_LEDGER_KEY", ledger_key.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b, data_c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let company = cli_with(
        &data_c,
        Some(&database_url),
        &env,
        &[
            "company",
            "create",
            "--name",
            "Acme Keys",
            "--redirect-uri",
            "https://acme.example/cb",
        ],
    );
    let (id, secret) = (
        company["client_id"].as_str().unwrap().to_owned(),
        company["client_secret"].as_str().unwrap().to_owned(),
    );
    let a = serve_with(&data_a, Some(&database_url), &env);
    let b = serve_with(&data_b, Some(&database_url), &env);
    let http = reqwest::Client::new();
    let token_at = |base: String| {
        let (http, id, secret) = (http.clone(), id.clone(), secret.clone());
        async move {
            let answer: serde_json::Value = http
                .post(format!("{base}/oauth/token"))
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("no token: {answer}"))
                .to_owned()
        }
    };
    let active_at = |base: String, token: String| {
        let (http, id, secret) = (http.clone(), id.clone(), secret.clone());
        async move {
            let answer: serde_json::Value = http
                .post(format!("{base}/oauth/introspect"))
                .basic_auth(&id, Some(&secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["active"] == true
        }
    };
    // The client secret (hashed with the shared server key) works at both,
    // and tokens cross over.
    let before = token_at(a.base.clone()).await;
    assert!(active_at(b.base.clone(), before.clone()).await);
    // No key file was written in either data directory.
    for data in [&data_a, &data_b] {
        for file in [
            "oauth-server.key",
            "oauth-signing.json",
            "oidc-rsa.json",
            "ledger.key",
            "data.key",
        ] {
            assert!(!data.join("keys").join(file).exists(), "{file} written");
        }
    }

    let rotated = cli_with(&data_c, Some(&database_url), &env, &["keys", "rotate"]);
    let new_kid = rotated["signing_kid"].as_str().unwrap().to_owned();
    // A signs with the new key once it has looked (every 5 s)...
    let deadline = Instant::now() + Duration::from_secs(20);
    let fresh = loop {
        let token = token_at(a.base.clone()).await;
        if kid(&token) == new_kid {
            break token;
        }
        assert!(Instant::now() < deadline, "A never signed with {new_kid}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // ...and B accepts that token at once, and the old one still.
    assert!(active_at(b.base.clone(), fresh.clone()).await);
    assert!(active_at(b.base.clone(), before).await);
    let jwks: serde_json::Value = http
        .get(format!("{}/oauth/jwks", b.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(jwks.to_string().contains(&new_kid), "{jwks}");
    // The RS256 ID token keys rotated with them, and reach B the same way.
    let new_rsa_kid = rotated["rsa_signing_kid"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jwks: serde_json::Value = http
            .get(format!("{}/oauth/jwks", b.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rs256 = |k: &&serde_json::Value| k["alg"] == "RS256";
        let keys = jwks["keys"].as_array().unwrap();
        if keys
            .iter()
            .filter(rs256)
            .any(|k| k["kid"] == new_rsa_kid.as_str())
        {
            assert_eq!(keys.iter().filter(rs256).count(), 2, "{jwks}");
            break;
        }
        assert!(Instant::now() < deadline, "B never published {new_rsa_kid}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A token naming a key nobody has is refused (and costs one read).
    let forged = format!(
        "{}.{}",
        base64_url(r#"{"alg":"EdDSA","kid":"nope","typ":"at+jwt"}"#),
        fresh.split_once('.').unwrap().1
    );
    assert!(!active_at(b.base.clone(), forged).await);
    a.terminate();
    b.terminate();
    db.cleanup().await;
}

fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[test]
fn a_ledger_named_for_this_machine_is_made_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let trial = dir.path().join("trial");
    let output = apiome(
        &[
            "ledger",
            "public-key",
            "--data-dir",
            trial.to_str().unwrap(),
        ],
        &[("RUST_LOG", "warn")],
    );
    assert!(stdout(&output).starts_with("localhost/apiome-ledger+"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("for good"), "{stderr}");
    // Once made, the name stays and nothing is said again.
    let again = apiome(
        &[
            "ledger",
            "public-key",
            "--data-dir",
            trial.to_str().unwrap(),
        ],
        &[("RUST_LOG", "warn")],
    );
    assert!(!String::from_utf8_lossy(&again.stderr).contains("for good"));

    // Named from the public URL of the file: no warning.
    let real = dir.path().join("real");
    let file = write(dir.path(), "public_url = \"https://apiome.example\"\n");
    let output = apiome(
        &[
            "ledger",
            "public-key",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            real.to_str().unwrap(),
        ],
        &[("RUST_LOG", "warn")],
    );
    assert!(stdout(&output).starts_with("apiome.example/apiome-ledger+"));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("for good"));
}
