//! The examples under `examples/`, each a company's client written with a
//! library companies already use (curl, Python's Authlib, Rust's
//! `openidconnect`, JavaScript's `openid-client`), run unmodified as
//! subprocesses against the live server. This file plays the operator (it
//! makes the company) and the person (a passkey sign-in, the consent screen,
//! the inbox); the JavaScript example drives a real Chromium for the
//! person itself. An example prints `authorize: URL` where a company would
//! send the person's browser, and reads the URL the person lands on from
//! its standard input; `request: ID pending` is a request waiting in the
//! person's inbox.
//!
//! A tool an example needs (python3 with venv, node and npm, Chromium) that
//! is missing makes its test print a notice and pass, except under
//! `CI=true`, where it fails. Python's packages install into a venv under
//! `target/examples/`, npm's into `examples/js/node_modules`, once per
//! change of their lockfile.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use apiome_tests::{Company, TestApp, chromium, query_param, set_cookie};
use serde_json::{Value, json};
use sha2::Digest as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::RequestChallengeResponse;

/// How long one example may run, installs not included.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(120);
const HANDLE: &str = "ada";
const EMAIL: &str = "ada@example.org";

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `target/examples/`, beside the build (the venv and the Rust example's
/// build cache live there).
fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test binary>
    let target = exe.ancestors().nth(3).unwrap().to_owned();
    let dir = target.join("examples");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `program` on the `PATH`, or `None` with a notice (a failure under
/// `CI=true`, where every example must run).
fn tool(program: &str, why: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{program} is required in CI ({why})"
        );
        eprintln!("notice: no {program} found ({why}); skipping this example");
    }
    found
}

/// The server, a company and a person with a passkey who has signed in
/// with it in "their browser" (a session cookie).
struct Scene {
    app: TestApp,
    company: Company,
    /// The company's redirect URI: a page of the server itself, so a real
    /// browser can land there (it answers 404; the code is in the URL).
    redirect: String,
    person_token: String,
    cookie: String,
    csrf: String,
}

impl Scene {
    async fn new() -> Scene {
        let app = TestApp::sqlite().await;
        // The operator's `apiome company create`.
        let redirect = app.url("/callback");
        let key = server::admin::server_key(&app.data_dir()).unwrap();
        let made = server::admin::create_company(
            app.store(),
            &key,
            "Acme Examples",
            std::slice::from_ref(&redirect),
        )
        .await
        .unwrap();
        let company = Company {
            id: made.client_id,
            secret: made.client_secret,
        };
        let (person_token, mut key) = person(&app).await;
        let (cookie, csrf) = passkey_sign_in(&app, &mut key).await;
        Scene {
            app,
            company,
            redirect,
            person_token,
            cookie,
            csrf,
        }
    }

    /// The variables every example reads.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("APIOME_URL", self.app.base_url.clone()),
            ("APIOME_CLIENT_ID", self.company.id.clone()),
            ("APIOME_CLIENT_SECRET", self.company.secret.clone()),
            ("APIOME_REDIRECT_URI", self.redirect.clone()),
            ("APIOME_PERSON", HANDLE.to_owned()),
        ]
    }

    /// The person's browser opens `url`, shares every attribute it may and
    /// returns where it lands (the company's redirect URI with the code).
    async fn consent(&self, url: &str) -> String {
        let page = self
            .app
            .http
            .get(url)
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "the consent screen for {url}");
        let html = page.text().await.unwrap();
        let start = html.find("action=\"/oauth/authorize/").unwrap() + "action=\"".len();
        let action = html[start..].split('"').next().unwrap().to_owned();
        let mut form = vec![
            ("csrf_token".to_owned(), self.csrf.clone()),
            ("decision".to_owned(), "approve".to_owned()),
        ];
        for part in html.split("name=\"attribute\" value=\"").skip(1) {
            form.push((
                "attribute".to_owned(),
                part.split('"').next().unwrap().into(),
            ));
        }
        let answer = self
            .app
            .http
            .post(self.app.url(&action))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302, "{}", answer.text().await.unwrap());
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&self.redirect), "{location}");
        assert!(query_param(&location, "code").is_some(), "{location}");
        location
    }

    /// The person approves a waiting request from their inbox.
    async fn approve(&self, request_id: &str) {
        let response = self
            .app
            .http
            .post(
                self.app
                    .url(&format!("/v1/me/requests/{request_id}/approve")),
            )
            .bearer_auth(&self.person_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    /// Runs `command` (an example) with [`Scene::env`], playing the person
    /// whenever it asks; its standard output, once it exits 0.
    async fn run(&self, command: tokio::process::Command) -> String {
        let (status, out) = self.run_landing(command, Landing::AsSent).await;
        assert!(status.success(), "the example failed ({status}):\n{out}");
        out
    }

    /// Runs `command` as [`Scene::run`] does, handing it back the URL the
    /// browser landed on as `landing` says; its exit status and output.
    async fn run_landing(
        &self,
        mut command: tokio::process::Command,
        landing: Landing,
    ) -> (std::process::ExitStatus, String) {
        let mut child = command
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Its standard error joins the test's captured output (shown when
        // the test fails), not CI's log.
        let mut errors = child.stderr.take().unwrap();
        let errors = tokio::spawn(async move {
            let mut text = String::new();
            let _ = errors.read_to_string(&mut text).await;
            text
        });
        let mut stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut out = String::new();
        let talk = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                eprintln!("example: {line}");
                out.push_str(&line);
                out.push('\n');
                if let Some(url) = line.split("authorize: ").nth(1) {
                    let landed = landing.apply(self.consent(url.trim()).await);
                    stdin
                        .write_all(format!("{landed}\n").as_bytes())
                        .await
                        .unwrap();
                    stdin.flush().await.unwrap();
                } else if let Some(rest) = line.strip_prefix("request: ") {
                    let (id, status) = rest.split_once(' ').unwrap();
                    if status == "pending" {
                        self.approve(id).await;
                    }
                }
            }
            child.wait().await.unwrap()
        };
        let status = tokio::time::timeout(EXAMPLE_TIMEOUT, talk)
            .await
            .expect("the example finishes in time");
        eprintln!("example's standard error:\n{}", errors.await.unwrap());
        (status, out)
    }
}

/// What the person's browser hands back to an example.
#[derive(Clone, Copy)]
enum Landing {
    /// The redirect as the server sent it.
    AsSent,
    /// The redirect with a `state` the example never sent: a callback an
    /// attacker made (login CSRF), carrying a real code.
    ForgedState,
}

impl Landing {
    fn apply(self, landed: String) -> String {
        match self {
            Landing::AsSent => landed,
            Landing::ForgedState => {
                let mut url = url::Url::parse(&landed).unwrap();
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| match &*k {
                        "state" => (k.into_owned(), "forged-by-an-attacker".to_owned()),
                        _ => (k.into_owned(), v.into_owned()),
                    })
                    .collect();
                url.query_pairs_mut().clear().extend_pairs(pairs);
                url.into()
            }
        }
    }
}

/// A person (handle [`HANDLE`]) with a password account, a passkey and
/// three attributes: display name public, email and birth date somewhat
/// private (so asking for them waits for the person). Their session
/// token and passkey.
async fn person(app: &TestApp) -> (String, SoftPasskey) {
    let person = app
        .person_with(
            HANDLE,
            &[
                ("display_name", "Ada Lovelace", "public"),
                ("email", EMAIL, "semi_private"),
                ("birth_date", "1815-12-10", "semi_private"),
            ],
        )
        .await;
    let key = person.add_passkey(app).await;
    (person.token, key)
}

/// Signs in with the passkey alone: the browser's cookie and CSRF token.
async fn passkey_sign_in(app: &TestApp, key: &mut SoftPasskey) -> (String, String) {
    let start: Value = app
        .http
        .post(app.url("/v1/session/passkey"))
        .json(&json!({"handle": HANDLE}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let credential = key.do_authentication(origin(app), options).unwrap();
    let finished = app
        .http
        .post(app.url("/v1/session/passkey/finish"))
        .json(&json!({"ceremony_id": start["ceremony_id"], "credential": credential}))
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), 200);
    let cookie = set_cookie(&finished);
    let body: Value = finished.json().await.unwrap();
    (cookie, body["csrf_token"].as_str().unwrap().to_owned())
}

fn origin(app: &TestApp) -> url::Url {
    url::Url::parse(&app.base_url).unwrap()
}

/// The JSON object printed on the line starting with `{"name":`.
fn printed(out: &str, name: &str) -> Value {
    let prefix = format!("{{\"{name}\":");
    let line = out
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} line in:\n{out}"));
    serde_json::from_str::<Value>(line).unwrap()[name].clone()
}

/// Hex SHA-256 of the files at `paths` (a lockfile's fingerprint).
fn fingerprint(paths: &[&Path]) -> String {
    let mut hash = sha2::Sha256::new();
    for path in paths {
        hash.update(std::fs::read(path).unwrap());
    }
    hex::encode(hash.finalize())
}

/// Runs `command` to install something, unless `stamp` already holds
/// `fingerprint` (the same lockfile was installed before).
async fn install_once(stamp: &Path, fingerprint: &str, mut command: tokio::process::Command) {
    if std::fs::read_to_string(stamp).is_ok_and(|s| s == fingerprint) {
        return;
    }
    let status = command.status().await.unwrap();
    assert!(status.success(), "install failed: {command:?}");
    std::fs::write(stamp, fingerprint).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_walkthrough_reads_the_grant_and_an_approved_async_request() {
    let Some(command) = curl_example() else {
        return;
    };
    let scene = Scene::new().await;
    let out = scene.run(command).await;

    let data = printed(&out, "data");
    assert_eq!(
        data["attributes"],
        json!({"display_name": "Ada Lovelace", "email": EMAIL})
    );
    assert!(data["subject"].is_string() && data["grant_id"].is_string());
    assert!(out.contains("answered: approved"), "{out}");
    let later = printed(&out, "later");
    assert_eq!(later["attributes"], json!({"birth_date": "1815-12-10"}));
    assert_eq!(later["subject"], data["subject"], "one pairwise subject");
    scene.app.stop().await;
}

/// The curl walkthrough, or `None` without its tools.
fn curl_example() -> Option<tokio::process::Command> {
    for (program, why) in [
        ("curl", "the walkthrough"),
        ("jq", "the walkthrough"),
        ("openssl", "PKCE in the walkthrough"),
    ] {
        tool(program, why)?;
    }
    let mut command = tokio::process::Command::new("bash");
    command.arg(root().join("examples/curl/walkthrough.sh"));
    Some(command)
}

/// The Authlib example in its venv (made once per process, and again only
/// when requirements.txt changes), or `None` without python3.
fn python_example() -> Option<tokio::process::Command> {
    static VENV: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let venv = VENV.get_or_init(|| {
        let python = tool("python3", "the Authlib example")?;
        let venv = cache_dir().join("python-venv");
        let requirements = root().join("examples/python/requirements.txt");
        let stamp = venv.with_extension("installed");
        let fingerprint = fingerprint(&[&requirements]);
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == fingerprint) {
            return Some(venv);
        }
        let _ = std::fs::remove_dir_all(&venv);
        let made = std::process::Command::new(python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        if !made.success() {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "python3 -m venv is required in CI (Debian: apt-get install python3-venv)"
            );
            eprintln!("notice: python3 -m venv failed (apt-get install python3-venv); skipping");
            return None;
        }
        let installed = std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--require-hashes", "-r"])
            .arg(&requirements)
            .status()
            .unwrap();
        assert!(
            installed.success(),
            "pip install -r {}",
            requirements.display()
        );
        std::fs::write(&stamp, fingerprint).unwrap();
        Some(venv)
    });
    let mut command = tokio::process::Command::new(venv.as_ref()?.join("bin/python"));
    command.arg(root().join("examples/python/authorize.py"));
    Some(command)
}

/// The `openidconnect` example, built by `cargo test` with this file.
fn rust_example() -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_example-oidc-sign-in"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_authlib_example_pushes_a_rich_request_and_reads_the_grant() {
    let Some(command) = python_example() else {
        return;
    };
    let scene = Scene::new().await;
    let out = scene.run(command).await;

    let data = printed(&out, "data");
    assert_eq!(
        data["attributes"],
        json!({"display_name": "Ada Lovelace", "email": EMAIL})
    );
    assert_eq!(data["withheld"], json!([]));
    scene.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_openidconnect_example_validates_the_id_token_and_reads_userinfo() {
    let scene = Scene::new().await;
    let out = scene.run(rust_example()).await;

    let id_token = printed(&out, "id_token");
    assert_eq!(id_token["iss"], scene.app.base_url.as_str());
    assert_eq!(id_token["aud"], json!([scene.company.id]));
    assert_eq!(id_token["amr"], json!(["hwk", "user"]), "a passkey sign-in");
    let userinfo = printed(&out, "userinfo");
    assert_eq!(userinfo["sub"], id_token["sub"]);
    assert_eq!(userinfo["email"], EMAIL);
    assert_eq!(userinfo["name"], "Ada Lovelace");
    scene.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_js_openid_client_example_signs_in_with_a_passkey_in_chromium() {
    let (Some(npm), Some(node), Some(browser)) = (
        tool("npm", "the openid-client example"),
        tool("node", "the openid-client example"),
        chromium(),
    ) else {
        return;
    };
    let dir = root().join("examples/js");
    let lock = dir.join("package-lock.json");
    let mut install = tokio::process::Command::new(npm);
    install
        .args(["ci", "--prefer-offline", "--no-audit", "--no-fund"])
        .current_dir(&dir);
    install_once(
        &dir.join("node_modules/.apiome-installed"),
        &fingerprint(&[&lock, &dir.join("package.json")]),
        install,
    )
    .await;

    let scene = Scene::new().await;
    let mut command = tokio::process::Command::new(node);
    command
        .arg("sign-in.mjs")
        .current_dir(&dir)
        .env("CHROMIUM", browser)
        .env("APIOME_BROWSER_PERSON", "grace");
    let out = scene.run(command).await;

    let id_token = printed(&out, "id_token");
    assert_eq!(id_token["iss"], scene.app.base_url.as_str());
    assert_eq!(id_token["aud"], scene.company.id.as_str());
    assert_eq!(id_token["amr"], json!(["hwk", "user"]), "a passkey sign-in");
    let userinfo = printed(&out, "userinfo");
    assert_eq!(userinfo["sub"], id_token["sub"]);
    assert_eq!(userinfo["email"], "grace@example.org");
    let grace = scene
        .app
        .store()
        .person_by_handle(&store::Handle::parse("grace").unwrap())
        .await
        .unwrap();
    assert_eq!(
        scene.app.store().passkeys(&grace.id).await.unwrap().len(),
        1,
        "grace signed up with the browser's passkey"
    );
    scene.app.stop().await;
}

/// Every code block in the README preceded by `<!-- from PATH -->` is
/// made of lines of that example, in its order (indentation aside), and
/// each example is quoted: the README shows what CI runs.
#[test]
fn the_readmes_snippets_are_copied_from_the_examples() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut quoted = std::collections::BTreeSet::new();
    for part in readme.split("<!-- from ").skip(1) {
        let (path, rest) = part.split_once(" -->\n").unwrap();
        let body = rest
            .strip_prefix("```")
            .and_then(|r| r.split_once('\n'))
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("a code block follows <!-- from {path} -->"));
        let block = &body[..body.find("\n```").unwrap()];
        let file = std::fs::read_to_string(root().join(path)).unwrap();
        let mut lines = file.lines().map(str::trim);
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            assert!(
                lines.any(|l| l == line),
                "README quotes {path} with a line it does not have (or out of order): {line}"
            );
        }
        quoted.insert(path.to_owned());
    }
    for example in [
        "examples/curl/walkthrough.sh",
        "examples/python/authorize.py",
        "examples/rust/main.rs",
        "examples/js/sign-in.mjs",
    ] {
        assert!(
            quoted.contains(example),
            "the README quotes no line of {example}"
        );
    }
}

/// A callback carrying a real code but a `state` the example never sent
/// (an attacker's link, to sign the victim into the attacker's account):
/// each example refuses it and exits non-zero, having read nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_refuses_a_callback_whose_state_is_not_its_own() {
    let scene = Scene::new().await;
    let examples = [curl_example(), python_example(), Some(rust_example())];
    for command in examples.into_iter().flatten() {
        let shown = format!("{:?}", command.as_std());
        let (status, out) = scene.run_landing(command, Landing::ForgedState).await;
        assert!(!status.success(), "{shown} took a forged callback:\n{out}");
        assert!(
            !out.contains("{\"data\"") && !out.contains("{\"userinfo\""),
            "{shown} read data after a forged callback:\n{out}"
        );
    }
    scene.app.stop().await;
}
