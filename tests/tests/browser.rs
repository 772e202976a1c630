//! The person's pages in a real headless Chromium, with a virtual passkey
//! authenticator (Chrome DevTools' WebAuthn domain): sign up with a
//! passkey, see the recovery codes, sign out, sign back in with the passkey
//! (discoverable, no handle typed), move an attribute to public and save a
//! rule in plain words. And the dashboard's forms refuse a POST without the
//! session's CSRF token. And the activity page's own script verifies the
//! person's log entries in the browser, through a proxy that can flip a
//! proof's bit or re-sign the checkpoint with another key.

#![allow(
    clippy::unwrap_used,
    reason = "a test file: the helpers below are test steps, and a failed unwrap is a failed test"
)]

use std::time::{Duration, Instant};

use apiome_tests::{TestApp, app_test, artifacts_dir, chromium, set_cookie};
use chromiumoxide::Page;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::browser_protocol::web_authn::{
    AddVirtualAuthenticatorParams, AuthenticatorProtocol, AuthenticatorTransport, EnableParams,
    VirtualAuthenticatorOptions,
};
use chromiumoxide::page::ScreenshotParams;
use consent_policy::{
    AttributeKey, AttributeMatch, Bucket, CompanyMatch, Currency, Effect, GrantDuration, Money,
    Purpose, PurposeMatch, Rule,
};
use futures::StreamExt;
use serde_json::Value;

/// How long any one step may take before the test fails (a missing or
/// misconfigured authenticator makes WebAuthn hang silently).
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Chromium with a fresh profile, its event loop running on a task.
struct Chromium {
    browser: Browser,
    events: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    async fn launch(binary: &std::path::Path) -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let config = BrowserConfig::builder()
            .chrome_executable(binary)
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(1200, 900)
            .viewport(None)
            .args([
                "disable-gpu",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                "no-first-run",
                "disable-default-apps",
                "disable-features=AutofillServerCommunication,MediaRouter,OptimizationHints,Translate",
            ])
            .build()
            .unwrap();
        let (browser, mut handler) = Browser::launch(config).await.unwrap();
        let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Chromium {
            browser,
            events,
            _profile: profile,
        }
    }

    /// A new tab with a virtual platform authenticator that holds
    /// discoverable credentials and verifies the user without asking.
    async fn page_with_authenticator(&self) -> Page {
        let page = self.browser.new_page("about:blank").await.unwrap();
        page.execute(EnableParams::default()).await.unwrap();
        let options = VirtualAuthenticatorOptions::builder()
            .protocol(AuthenticatorProtocol::Ctap2)
            .transport(AuthenticatorTransport::Internal)
            .has_resident_key(true)
            .has_user_verification(true)
            .is_user_verified(true)
            .automatic_presence_simulation(true)
            .build()
            .unwrap();
        page.execute(AddVirtualAuthenticatorParams::new(options))
            .await
            .unwrap();
        page
    }

    async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.events.abort();
    }
}

/// Evaluates `script` in the page until it returns `true`, or fails the
/// test after [`STEP_TIMEOUT`] saying what was awaited and what the page
/// showed.
async fn wait_for(page: &Page, what: &str, script: &str) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let done = page
            .evaluate(script)
            .await
            .ok()
            .and_then(|r| r.into_value::<bool>().ok())
            .unwrap_or(false);
        if done {
            return;
        }
        if Instant::now() > deadline {
            let url = page.url().await.ok().flatten().unwrap_or_default();
            let text = eval(page, "document.body ? document.body.innerText : ''")
                .await
                .unwrap_or_default();
            panic!("timed out after {STEP_TIMEOUT:?} waiting for {what}; at {url}:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn eval(page: &Page, script: &str) -> Option<Value> {
    page.evaluate(script).await.ok()?.into_value::<Value>().ok()
}

/// Clicks the element `selector` with real input events.
async fn click(page: &Page, selector: &str) {
    wait_for(
        page,
        &format!("{selector} to be shown"),
        &format!(
            "(() => {{ const e = document.querySelector({}); return !!e && e.offsetParent !== null && !e.disabled; }})()",
            Value::from(selector)
        ),
    )
    .await;
    page.find_element(selector)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Sets the value of the form control `selector`.
async fn fill(page: &Page, selector: &str, value: &str) {
    let script = format!(
        "(() => {{ const e = document.querySelector({}); e.value = {}; return e.value; }})()",
        Value::from(selector),
        Value::from(value)
    );
    assert_eq!(
        eval(page, &script).await,
        Some(Value::from(value)),
        "{selector}"
    );
}

/// Ticks the checkbox or radio button `selector`.
async fn tick(page: &Page, selector: &str) {
    let script = format!(
        "(() => {{ const e = document.querySelector({}); e.checked = true; return e.checked; }})()",
        Value::from(selector)
    );
    assert_eq!(
        eval(page, &script).await,
        Some(Value::from(true)),
        "{selector}"
    );
}

async fn path_is(page: &Page, path: &str) {
    wait_for(
        page,
        &format!("the page {path}"),
        &format!("location.pathname === {}", Value::from(path)),
    )
    .await;
}

async fn text_shows(page: &Page, text: &str) {
    wait_for(
        page,
        &format!("the text {text:?}"),
        &format!(
            "document.readyState === 'complete' && document.body.innerText.includes({})",
            Value::from(text)
        ),
    )
    .await;
}

async fn screenshot(page: &Page, name: &str, full_page: bool) -> std::path::PathBuf {
    let path = artifacts_dir().join(name);
    page.save_screenshot(
        ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(full_page)
            .build(),
        &path,
    )
    .await
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_up_and_back_in_with_a_passkey_and_sets_what_they_share() {
    let Some(binary) = chromium() else { return };
    let app = TestApp::sqlite().await;
    let chromium = Chromium::launch(&binary).await;
    let page = chromium.page_with_authenticator().await;
    let handle = "ada_browser";

    // Sign up with a passkey; the recovery codes are shown once.
    page.goto(app.url("/signup")).await.unwrap();
    fill(&page, "#pk-handle", handle).await;
    fill(&page, "#pk-name", "virtual authenticator").await;
    click(&page, "#passkey-signup button[type=submit]").await;
    wait_for(
        &page,
        "ten recovery codes",
        "document.querySelectorAll('#recovery-code-list li').length === 10 && !document.getElementById('recovery-codes').hidden",
    )
    .await;
    let person = app
        .store()
        .person_by_handle(&store::Handle::parse(handle).unwrap())
        .await
        .unwrap();
    let passkeys = app.store().passkeys(&person.id).await.unwrap();
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0].name, "virtual authenticator");
    assert_eq!(
        app.store().recovery_codes_left(&person.id).await.unwrap(),
        10
    );

    click(&page, "#recovery-codes a.button").await;
    path_is(&page, "/dashboard").await;
    text_shows(&page, "Your data, your rules").await;
    text_shows(&page, handle).await;

    // Sign out: the dashboard sends us to the sign-in page.
    click(&page, "form[action='/signout'] button").await;
    path_is(&page, "/signin").await;
    text_shows(&page, "You are signed out.").await;
    page.goto(app.url("/grants")).await.unwrap();
    path_is(&page, "/signin").await;

    // Back in with the passkey alone: no handle typed (discoverable), and
    // back to the page that was opened.
    click(&page, "#passkey-signin").await;
    path_is(&page, "/grants").await;
    text_shows(&page, "Who may read your data").await;
    page.goto(app.url("/dashboard")).await.unwrap();
    text_shows(&page, "Your data, your rules").await;
    let used = app.store().passkeys(&person.id).await.unwrap();
    assert!(
        used[0].last_used_at.is_some(),
        "the sign-in used the passkey"
    );

    // Add an email address (it lands in somewhat private), then move it to public.
    fill(&page, "#new-key", "email").await;
    fill(&page, "#new-value", "ada@example.org").await;
    click(&page, "#add-attribute button[type=submit]").await;
    text_shows(&page, "Attribute saved.").await;
    wait_for(
        &page,
        "email in the somewhat private ring",
        "!!document.querySelector('.region-semi_private > ul > li[data-key=email]')",
    )
    .await;
    let email = AttributeKey::parse("email").unwrap();
    let stored = app.store().attribute(&person.id, &email).await.unwrap();
    assert_eq!(stored.bucket, Bucket::SemiPrivate);
    assert_eq!(stored.value, "ada@example.org");

    click(&page, "button[data-move='email:public']").await;
    text_shows(&page, "Attribute moved.").await;
    wait_for(
        &page,
        "email in the public ring",
        "!!document.querySelector('.region-public > ul > li[data-key=email]') && !document.querySelector('.region-semi_private li[data-key=email]')",
    )
    .await;
    let stored = app.store().attribute(&person.id, &email).await.unwrap();
    assert_eq!(stored.bucket, Bucket::Public);
    assert_eq!(stored.value, "ada@example.org", "moving keeps the value");

    // A rule in plain words: any company may have my email for marketing if
    // it pays at least 0.05 USD, for at most 30 days.
    tick(&page, "#who-any").await;
    tick(&page, "#what-keys").await;
    tick(&page, "#rule-key-email").await;
    tick(&page, "#rule-purpose-marketing").await;
    fill(&page, "#rule-amount", "0.05").await;
    fill(&page, "#rule-currency", "USD").await;
    fill(&page, "#rule-for", "30").await;
    fill(&page, "#rule-unit", "days").await;
    fill(&page, "#rule-effect", "allow").await;
    click(&page, "#rule-form button[type=submit]").await;
    text_shows(&page, "Rule saved.").await;
    let expected = Rule::new(
        CompanyMatch::Any,
        PurposeMatch::one_of([Purpose::Marketing]),
        AttributeMatch::keys([email.clone()]),
        Effect::Allow,
    )
    .with_min_offer(Money::new(50_000, Currency::USD))
    .with_max_duration(GrantDuration::parse("P30D").unwrap());
    let rules = app.store().rules(&person.id).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].rule, expected);
    text_shows(&page, &expected.describe()).await;

    // What the person sees, kept for people to look at.
    let wide = screenshot(&page, "dashboard.png", true).await;
    eprintln!("screenshot: {}", wide.display());
    page.execute(SetDeviceMetricsOverrideParams::new(375, 800, 1.0, true))
        .await
        .unwrap();
    let phone = screenshot(&page, "dashboard-375.png", false).await;
    eprintln!("screenshot (375 px wide): {}", phone.display());
    let overflow = eval(
        &page,
        "document.documentElement.scrollWidth <= window.innerWidth + 1",
    )
    .await;
    assert_eq!(
        overflow,
        Some(Value::from(true)),
        "the dashboard scrolls sideways at 375 px"
    );

    chromium.close().await;
    app.stop().await;
}

/// Signs up `handle` with a password through the API: (session token,
/// CSRF token).
async fn password_person(app: &TestApp, handle: &str) -> (String, String) {
    let response = app
        .http
        .post(app.url("/v1/accounts"))
        .json(&serde_json::json!({"handle": handle, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (
        body["token"].as_str().unwrap().to_owned(),
        body["csrf_token"].as_str().unwrap().to_owned(),
    )
}

app_test!(
    a_dashboard_form_without_the_csrf_token_is_refused_and_changes_nothing,
    |app| {
        let (token, csrf) = password_person(app, "csrf_form").await;
        let person = app
            .store()
            .person_by_handle(&store::Handle::parse("csrf_form").unwrap())
            .await
            .unwrap();
        let cookie = format!("apiome_session={token}");
        let post = |body: String| {
            app.http
                .post(app.url("/dashboard/attributes"))
                .header("cookie", cookie.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
        };

        let missing = post("key=email&value=ada%40example.org&bucket=public".to_owned())
            .await
            .unwrap();
        assert_eq!(missing.status(), 403);
        assert!(
            missing.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let wrong =
            post("key=email&value=ada%40example.org&bucket=public&csrf_token=forged".to_owned())
                .await
                .unwrap();
        assert_eq!(wrong.status(), 403);
        assert!(
            app.store().attributes(&person.id).await.unwrap().is_empty(),
            "nothing changed"
        );

        let right = post(format!(
            "key=email&value=ada%40example.org&bucket=public&csrf_token={csrf}"
        ))
        .await
        .unwrap();
        assert_eq!(right.status(), 303);
        assert_eq!(
            right.headers()["location"],
            "/dashboard?status=attribute-saved#buckets"
        );
        let stored = app.store().attributes(&person.id).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].bucket, Bucket::Public);
    }
);

app_test!(the_dashboard_sends_strangers_to_sign_in, |app| {
    let response = app.http.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/signin?next=%2Fdashboard",
        "a page opened signed out comes back after sign-in"
    );
    // a form POST is not replayed after sign-in
    let response = app
        .http
        .post(app.url("/dashboard/rules"))
        .header("cookie", "apiome_session=not-a-session")
        .body("effect=allow")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/signin");
});

app_test!(pages_and_their_assets_come_from_this_server_only, |app| {
    for path in ["/", "/signup", "/signin", "/recover"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        let html = response.text().await.unwrap();
        assert!(html.contains("<html lang=\"en\">"), "{path}");
        assert!(
            !html.contains("<script>") && !html.contains(" onclick="),
            "{path}: inline script"
        );
        for attr in ["src=\"", "href=\""] {
            for part in html.split(attr).skip(1) {
                let link = part.split('"').next().unwrap();
                assert!(!link.contains("//"), "{path} links to {link}");
            }
        }
    }
    for (path, kind) in [
        ("/static/apiome.css", "text/css; charset=utf-8"),
        ("/static/passkey.js", "text/javascript; charset=utf-8"),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], kind, "{path}");
        assert!(response.headers().contains_key("cache-control"), "{path}");
    }
});

app_test!(the_forms_work_without_script, |app| {
    let form = |path: &str, body: &str, cookie: Option<&str>| {
        let mut request = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        request.send()
    };

    // Sign up with a password: the codes are shown once, with a session.
    let signed_up = form(
        "/signup",
        "handle=nojs&password=correct+horse+battery",
        None,
    )
    .await
    .unwrap();
    assert_eq!(signed_up.status(), 201);
    let cookie = set_cookie(&signed_up);
    let html = signed_up.text().await.unwrap();
    assert_eq!(html.matches("<li><code>").count(), 10, "{html}");
    let code = html
        .split("<li><code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();

    // A bad value is answered next to its field, and nothing is stored.
    let dashboard = app
        .http
        .get(app.url("/dashboard"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), 200);
    let page = dashboard.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let bad = form(
        "/dashboard/attributes",
        &format!("csrf_token={csrf}&key=email&value=not-an-email"),
        Some(&cookie),
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(html.contains("id=\"new-value-error\""), "{html}");
    assert!(html.contains("an email address needs an @"), "{html}");
    let person = app
        .store()
        .person_by_handle(&store::Handle::parse("nojs").unwrap())
        .await
        .unwrap();
    assert!(app.store().attributes(&person.id).await.unwrap().is_empty());

    // Sign out, then back in with the password, and through the recovery
    // page (a password-only account needs no code beside its password).
    let out = form("/signout", &format!("csrf_token={csrf}"), Some(&cookie))
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let stale = app
        .http
        .get(app.url("/dashboard"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 303, "the old session ended");
    let wrong = form("/signin", "handle=nojs&password=wrong+password", None)
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let back = form(
        "/signin",
        "handle=nojs&password=correct+horse+battery",
        None,
    )
    .await
    .unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], "/dashboard");
    let recovered = form(
        "/recover",
        &format!("handle=nojs&password=correct+horse+battery&recovery_code={code}"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(recovered.status(), 303);
    let cookie = set_cookie(&recovered);
    let dashboard = app
        .http
        .get(app.url("/dashboard?status=recovered"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert!(
        dashboard
            .text()
            .await
            .unwrap()
            .contains("Add a new passkey")
    );
});

/// A company's authorization code flow met in the browser: the person is
/// sent to sign in and back to the consent screen, unticks one attribute
/// and approves; the company reads only what stayed ticked; the person
/// finds the grant on the grants page (through the navigation) and
/// revokes it there, and the company's next read is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_approves_part_of_a_request_in_the_browser_and_revokes_it_on_the_grants_page() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        AuthUrl, AuthorizationCode, CsrfToken, PkceCodeChallenge, RedirectUrl, TokenResponse as _,
        TokenUrl,
    };

    let Some(binary) = chromium() else { return };
    let app = TestApp::sqlite().await;
    let callback = app.url("/callback");
    let key = server::admin::server_key(&app.data_dir()).unwrap();
    let company = server::admin::create_company(
        app.store(),
        &key,
        "Acme Browser Co",
        std::slice::from_ref(&callback),
    )
    .await
    .unwrap();
    let (token, _) = password_person(&app, "ada_consent").await;
    for (key, value, bucket) in [
        ("display_name", "Ada", "public"),
        ("email", "ada@example.org", "semi_private"),
    ] {
        let response = app
            .http
            .put(app.url(&format!("/v1/me/attributes/{key}")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"value": value, "bucket": bucket}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let oauth = BasicClient::new(oauth2::ClientId::new(company.client_id.clone()))
        .set_client_secret(oauth2::ClientSecret::new(company.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(app.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(callback.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let details = serde_json::json!([{"type": "apiome_data",
        "attributes": ["display_name", "email"], "purpose": "personalisation", "duration": "P30D"}]);
    let (authorize, _) = oauth
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("authorization_details", details.to_string())
        .url();

    let chromium = Chromium::launch(&binary).await;
    let page = chromium.page_with_authenticator().await;

    // Signed out: the company's link goes to sign-in, then back to consent.
    page.goto(authorize.as_str()).await.unwrap();
    path_is(&page, "/signin").await;
    fill(&page, "#handle", "ada_consent").await;
    fill(&page, "#password", "correct horse battery").await;
    click(&page, "form[action='/signin'] button[type=submit]").await;
    path_is(&page, "/oauth/authorize").await;
    text_shows(&page, "Acme Browser Co asks for your data").await;

    // Untick the email with a real click, then share the rest.
    click(&page, "#attr-email").await;
    assert_eq!(
        eval(&page, "document.querySelector('#attr-email').checked").await,
        Some(Value::from(false))
    );
    click(&page, "button[name=decision][value=approve]").await;
    path_is(&page, "/callback").await;
    let code = eval(&page, "new URLSearchParams(location.search).get('code')")
        .await
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("the company got a code");

    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let access = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap()
        .access_token()
        .secret()
        .clone();
    let read = || {
        app.http
            .get(app.url("/v1/data"))
            .bearer_auth(&access)
            .send()
    };
    let data: Value = read().await.unwrap().json().await.unwrap();
    assert_eq!(
        data["attributes"],
        serde_json::json!({"display_name": "Ada"}),
        "only the ticked attribute"
    );

    // A request that waits: the navigation counts it, the inbox shows it,
    // and its Decline button (a second submit of the approve form, by
    // `formaction`) declines it.
    let company_token = oauth
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .unwrap()
        .access_token()
        .secret()
        .clone();
    let asked: Value = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(&company_token)
        .json(&serde_json::json!({
            "person": {"handle": "ada_consent"},
            "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                "purpose": "marketing", "duration": "P30D"}]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request_id = asked["request_id"].as_str().unwrap().to_owned();
    page.goto(app.url("/dashboard")).await.unwrap();
    path_is(&page, "/dashboard").await;
    wait_for(
        &page,
        "the inbox link to count one request",
        "(document.querySelector('#nav-pending') || {}).textContent === '1 waiting for your answer'",
    )
    .await;
    // From here on, a phone's width: nothing may scroll sideways.
    page.execute(SetDeviceMetricsOverrideParams::new(375, 800, 1.0, true))
        .await
        .unwrap();
    click(&page, "#nav-inbox").await;
    path_is(&page, "/inbox").await;
    text_shows(&page, "Acme Browser Co asks for your data").await;
    let inbox = screenshot(&page, "inbox-375.png", true).await;
    eprintln!("screenshot (375 px wide): {}", inbox.display());
    assert_eq!(
        eval(
            &page,
            "document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
        .await,
        Some(Value::from(true)),
        "the inbox scrolls sideways at 375 px"
    );
    click(
        &page,
        &format!("li[data-request='{request_id}'] button[formaction$='/decline']"),
    )
    .await;
    text_shows(&page, "Declined. Nothing was shared.").await;
    let declined = app.store().request(&request_id).await.unwrap();
    assert_eq!(declined.status, store::RequestStatus::Denied);

    // The grants page, reached through the site navigation.
    page.goto(app.url("/dashboard")).await.unwrap();
    path_is(&page, "/dashboard").await;
    click(&page, "header.site nav a[href='/grants']").await;
    path_is(&page, "/grants").await;
    text_shows(&page, "Acme Browser Co").await;
    wait_for(
        &page,
        "the grant among the live ones, its page marked current",
        "document.querySelectorAll('#live-grants li').length === 1 && document.querySelector('#live-grants .attributes').textContent === 'display name' && document.querySelector(\"header.site nav a[aria-current=page]\").getAttribute('href') === '/grants'",
    )
    .await;
    let phone = screenshot(&page, "grants-375.png", true).await;
    eprintln!("screenshot (375 px wide): {}", phone.display());
    assert_eq!(
        eval(
            &page,
            "document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
        .await,
        Some(Value::from(true)),
        "the grants page scrolls sideways at 375 px"
    );

    click(&page, "#live-grants form button[type=submit]").await;
    text_shows(&page, "Revoked. The company's next read is refused.").await;
    wait_for(
        &page,
        "the grant among the past ones",
        "!!document.getElementById('no-live-grants') && document.querySelectorAll('#past-grants li').length === 1",
    )
    .await;
    let refused = read().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    chromium.close().await;
    app.stop().await;
}

/// The ledger's public key name (the checkpoint origin) of `app`.
async fn log_name(app: &TestApp) -> String {
    let vkey = app.text("/v1/ledger/public-key").await;
    vkey.split('+').next().unwrap().to_owned()
}

/// A signed-up person under "ask me" with a semi-private email, about whom
/// a company made three requests, one of them declined: at least four
/// entries in the log. Their session token and the entries' indexes, newest
/// first.
async fn person_with_activity(app: &TestApp, handle: &str) -> (String, Vec<u64>) {
    let (token, _) = password_person(app, handle).await;
    let response = app
        .http
        .put(app.url("/v1/me/attributes/email"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"value": "ada@example.org", "bucket": "semi_private"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let company = app.company("Acme Ledger Co").await;
    let company_token = app.company_token(&company).await;
    let mut requests = Vec::new();
    for purpose in ["marketing", "analytics", "personalisation"] {
        let asked: Value = app
            .http
            .post(app.url("/v1/requests"))
            .bearer_auth(&company_token)
            .json(&serde_json::json!({
                "person": {"handle": handle},
                "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                    "purpose": purpose, "duration": "P30D"}]
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        requests.push(asked["request_id"].as_str().unwrap().to_owned());
    }
    let declined = app
        .http
        .post(app.url(&format!("/v1/me/requests/{}/decline", requests[0])))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), 200);
    let activity: Value = app
        .http
        .get(app.url("/v1/me/activity"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let indexes: Vec<u64> = activity["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"].as_u64().unwrap())
        .collect();
    assert!(indexes.len() >= 4, "{activity}");
    (token, indexes)
}

/// What [`TamperingProxy`] changes on its way to the browser.
#[derive(Clone)]
enum Tamper {
    Nothing,
    /// Flips one bit of the first hash of this entry's inclusion proofs.
    ProofOf(u64),
    /// Serves this key as the log's, and every checkpoint re-signed with it.
    LogKey(Box<ledger::NoteSigner>),
}

/// A man in the middle between Chromium and the app: HTTP/1.1, GET only,
/// one request a connection, everything passed through but what
/// [`Tamper`] says. The browser sees it as the server (one origin).
struct TamperingProxy {
    base_url: String,
    tamper: std::sync::Arc<std::sync::Mutex<Tamper>>,
    task: tokio::task::JoinHandle<()>,
}

impl TamperingProxy {
    async fn start(app: &TestApp) -> TamperingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tamper = std::sync::Arc::new(std::sync::Mutex::new(Tamper::Nothing));
        let upstream = app.base_url.clone();
        let http = app.http.clone();
        let shared = tamper.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tamper = shared.lock().unwrap().clone();
                tokio::spawn(relay(stream, upstream.clone(), http.clone(), tamper));
            }
        });
        TamperingProxy {
            base_url: format!("http://localhost:{port}"),
            tamper,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    fn set(&self, tamper: Tamper) {
        *self.tamper.lock().unwrap() = tamper;
    }
}

impl Drop for TamperingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers one request on `stream` from `upstream`, changed by `tamper`.
async fn relay(
    mut stream: tokio::net::TcpStream,
    upstream: String,
    http: reqwest::Client,
    tamper: Tamper,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
        assert!(head.len() < 64 * 1024, "a request head this long is a bug");
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let (method, target) = (request_line.next().unwrap(), request_line.next().unwrap());
    assert_eq!(method, "GET", "the proxy only relays GET ({target})");
    let mut request = http.get(format!("{upstream}{target}"));
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && (name.eq_ignore_ascii_case("cookie") || name.eq_ignore_ascii_case("accept"))
        {
            request = request.header(name, value.trim());
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in response.headers() {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding" | "keep-alive"
        ) {
            out.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
        }
    }
    let body = tampered(&tamper, target, response.bytes().await.unwrap().to_vec());
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let _ = stream.write_all(out.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

/// `body` of `target` as `tamper` changes it.
fn tampered(tamper: &Tamper, target: &str, body: Vec<u8>) -> Vec<u8> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    let path = target.split('?').next().unwrap();
    match tamper {
        Tamper::Nothing => body,
        Tamper::ProofOf(index)
            if path == "/v1/ledger/proofs/inclusion"
                && target.contains(&format!("index={index}&")) =>
        {
            let mut proof: Value = serde_json::from_slice(&body).unwrap();
            let first = proof["proof"][0].as_str().unwrap();
            let mut hash = BASE64.decode(first).unwrap();
            hash[0] ^= 1;
            proof["proof"][0] = Value::from(BASE64.encode(hash));
            serde_json::to_vec(&proof).unwrap()
        }
        Tamper::LogKey(signer) if path == "/v1/ledger/public-key" => signer.vkey().into_bytes(),
        Tamper::LogKey(signer) if path == "/v1/ledger/checkpoint" => {
            let note = String::from_utf8(body).unwrap();
            let text = &note[..=note.rfind("\n\n").unwrap()];
            signer.sign(text).unwrap().into_bytes()
        }
        _ => body,
    }
}

/// The ids of the key buttons a person can see on the activity page.
const SHOWN_KEY_BUTTONS: &str = "Array.from(document.querySelectorAll('.key-buttons button')).filter(b => b.offsetParent !== null).map(b => b.id)";

/// Waits until the activity page's own script has checked every entry.
async fn browser_check_done(page: &Page) {
    wait_for(
        page,
        "the page's script to finish checking",
        "document.getElementById('browser-check').dataset.state === 'done'",
    )
    .await;
}

/// Each entry's index and the page script's verdict on it.
async fn browser_verdicts(page: &Page) -> Vec<(u64, String)> {
    let verdicts = eval(
        page,
        "Array.from(document.querySelectorAll('li[data-leaf]')).map(li => [Number(li.dataset.index), li.dataset.browserCheck || 'none', li.querySelector('.mark').textContent])",
    )
    .await
    .unwrap();
    verdicts
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let (verdict, text) = (v[1].as_str().unwrap(), v[2].as_str().unwrap());
            match verdict {
                "verified" => assert_eq!(text, "\u{2713} verified in your browser"),
                _ => assert!(text.starts_with("\u{2717} NOT verified"), "{text}"),
            }
            (v[0].as_u64().unwrap(), verdict.to_owned())
        })
        .collect()
}

/// The person's activity through a proxy that can lie: with nothing
/// changed, the page's own script verifies every entry; pinned, it keeps
/// verifying; a proof with one flipped bit shows as NOT verified (and only
/// that entry); a checkpoint signed by another key under the log's name
/// raises the pin warning and verifies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_page_verifies_every_entry_in_the_browser_and_flags_a_tampered_proof_and_a_new_key()
 {
    use chromiumoxide::cdp::browser_protocol::network::CookieParam;

    let Some(binary) = chromium() else { return };
    let app = TestApp::sqlite().await;
    let (token, indexes) = person_with_activity(&app, "ada_checks").await;
    let proxy = TamperingProxy::start(&app).await;
    let chromium = Chromium::launch(&binary).await;
    let page = chromium.browser.new_page("about:blank").await.unwrap();
    page.set_cookie(
        CookieParam::builder()
            .name(server::auth::SESSION_COOKIE)
            .value(token)
            .url(proxy.url("/"))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let all = |verdict: &str| -> Vec<(u64, String)> {
        indexes.iter().map(|i| (*i, verdict.to_owned())).collect()
    };

    // Nothing changed: every entry verified by the page's own script.
    page.goto(proxy.url("/activity")).await.unwrap();
    browser_check_done(&page).await;
    assert_eq!(browser_verdicts(&page).await, all("verified"));
    let n = indexes.len();
    text_shows(
        &page,
        &format!("All {n} entries on this page verified in your browser"),
    )
    .await;
    text_shows(&page, "not pinned on this device").await;
    assert_eq!(
        eval(
            &page,
            "document.getElementById('check-summary').getAttribute('aria-live')"
        )
        .await,
        Some(Value::from("polite"))
    );
    assert_eq!(
        eval(&page, SHOWN_KEY_BUTTONS).await,
        Some(serde_json::json!(["pin-key"])),
        "an unpinned key offers pinning only"
    );
    let shot = screenshot(&page, "activity-verified.png", true).await;
    eprintln!("screenshot: {}", shot.display());

    // Pinned once: the page reloads, checks against the pinned key, no warning.
    click(&page, "#pin-key").await;
    wait_for(
        &page,
        "the key pinned and the entries checked again",
        "document.getElementById('key-pin-state').textContent === '(pinned on this device)' && document.getElementById('browser-check').dataset.state === 'done'",
    )
    .await;
    assert_eq!(browser_verdicts(&page).await, all("verified"));
    assert_eq!(
        eval(&page, "document.getElementById('key-warning').hidden").await,
        Some(Value::from(true))
    );
    assert_eq!(
        eval(&page, SHOWN_KEY_BUTTONS).await,
        Some(serde_json::json!(["unpin-key"])),
        "a pinned key offers forgetting it only"
    );

    // One proof with a flipped bit: that entry, and only it, is NOT verified.
    let victim = indexes[1];
    proxy.set(Tamper::ProofOf(victim));
    page.goto(proxy.url("/activity")).await.unwrap();
    browser_check_done(&page).await;
    let expected: Vec<(u64, String)> = indexes
        .iter()
        .map(|i| {
            let verdict = if *i == victim { "failed" } else { "verified" };
            (*i, verdict.to_owned())
        })
        .collect();
    assert_eq!(browser_verdicts(&page).await, expected);
    text_shows(
        &page,
        &format!("1 of {n} entries NOT verified in your browser"),
    )
    .await;

    // The log's key changes (a checkpoint re-signed under the log's name):
    // the pin warns, and nothing is verified.
    let impostor = ledger::NoteSigner::from_seed(log_name(&app).await, [7; 32]).unwrap();
    proxy.set(Tamper::LogKey(Box::new(impostor)));
    page.goto(proxy.url("/activity")).await.unwrap();
    browser_check_done(&page).await;
    assert_eq!(browser_verdicts(&page).await, all("failed"));
    wait_for(
        &page,
        "the pin warning",
        "!document.getElementById('key-warning').hidden && document.getElementById('key-warning').getAttribute('role') === 'alert'",
    )
    .await;
    text_shows(
        &page,
        "the log\u{2019}s key has changed since you pinned it",
    )
    .await;
    text_shows(&page, "signed by another key").await;
    let shot = screenshot(&page, "activity-key-changed.png", true).await;
    eprintln!("screenshot: {}", shot.display());

    chromium.close().await;
    app.stop().await;
}

/// The page script's verifiers, run in Chromium, against the RFC 6962
/// reference tree (every leaf of every size up to 8, and each proof with a
/// flipped bit) and Go's `sumdb/note` signed-note vectors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_script_agrees_with_rfc6962_and_signed_note_test_vectors() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use chromiumoxide::cdp::browser_protocol::network::CookieParam;

    let Some(binary) = chromium() else { return };
    let app = TestApp::sqlite().await;
    let (token, _) = password_person(&app, "ada_vectors").await;
    let leaves: Vec<Vec<u8>> = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|l| hex::decode(l).unwrap())
    .collect();
    let tree = ledger::Tree::from_leaf_hashes(leaves.iter().map(|l| ledger::leaf_hash(l)));
    assert_eq!(
        hex::encode(tree.root()),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        "RFC 6962's reference root"
    );
    let mut cases = Vec::new();
    for size in 1..=8u64 {
        let root = BASE64.encode(tree.root_at(size).unwrap());
        for index in 0..size {
            let proof = tree.inclusion_proof(index, size).unwrap();
            let b64: Vec<String> = proof.iter().map(|h| BASE64.encode(h)).collect();
            let leaf = BASE64.encode(&leaves[index as usize]);
            cases.push(serde_json::json!([leaf, index, size, b64, root, true]));
            for at in 0..proof.len() {
                let mut bad = proof.clone();
                bad[at][31] ^= 0x80;
                let bad: Vec<String> = bad.iter().map(|h| BASE64.encode(h)).collect();
                cases.push(serde_json::json!([leaf, index, size, bad, root, false]));
            }
            if size > 1 {
                let other = (index + 1) % size;
                cases.push(serde_json::json!([leaf, other, size, b64, root, false]));
            }
        }
    }

    let chromium = Chromium::launch(&binary).await;
    let page = chromium.browser.new_page("about:blank").await.unwrap();
    page.set_cookie(
        CookieParam::builder()
            .name(server::auth::SESSION_COOKIE)
            .value(token)
            .url(app.url("/"))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    page.goto(app.url("/activity")).await.unwrap();
    browser_check_done(&page).await;

    let script = format!(
        "(async () => {{
            const L = window.apiomeLedger;
            const wrong = [];
            for (const [leaf, index, size, proof, root, want] of {cases}) {{
                const got = await L.verifyInclusion(await L.leafHash(L.fromBase64(leaf)),
                    BigInt(index), BigInt(size), proof.map(L.fromBase64), L.fromBase64(root));
                if (got !== want) wrong.push([index, size, proof.length, want]);
            }}
            return wrong;
        }})()",
        cases = Value::from(cases.clone())
    );
    assert_eq!(
        eval(&page, &script).await,
        Some(Value::Array(vec![])),
        "cases the script got wrong, of {}",
        cases.len()
    );

    // Go's golang.org/x/mod/sumdb/note vectors (as in crates/ledger's note.rs).
    let notes = r#"(async () => {
        const L = window.apiomeLedger;
        const text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        const peter = "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        const enoch = "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
        const key = await L.parseVerifierKey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
        const outcome = async (note, k) => { try { return await L.openNote(note, k) === text; } catch (e) { return e.message; } };
        const badId = await L.parseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").then(() => 'accepted', e => 'refused');
        return [
            await outcome(text + "\n" + peter, key),
            await outcome(text + "\n" + enoch + peter, key),
            await outcome(text.replace("cryptography", "cryptographY") + "\n" + peter, key),
            await outcome(text + "\n" + enoch, key),
            badId,
        ];
    })()"#;
    assert_eq!(
        eval(&page, notes).await,
        Some(serde_json::json!([
            true,
            true,
            "the checkpoint\u{2019}s signature by PeterNeumann does not verify",
            "the checkpoint carries no signature by PeterNeumann",
            "refused"
        ]))
    );

    chromium.close().await;
    app.stop().await;
}

app_test!(
    the_activity_page_without_script_says_its_marks_are_the_servers_and_loads_its_checker_by_hash,
    |app| {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD as BASE64;
        use sha2::{Digest as _, Sha256};

        let (token, indexes) = person_with_activity(app, "ada_nojs").await;
        let response = app
            .http
            .get(app.url("/activity"))
            .header(
                "cookie",
                format!("{}={token}", server::auth::SESSION_COOKIE),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-security-policy"],
            server::pages::PAGE_CSP,
            "the CSP is as strict as every page's"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("the server's own check"), "{html}");
        assert_eq!(
            html.matches("class=\"mark verified\"").count(),
            indexes.len()
        );
        assert!(
            !html.contains("<script>") && !html.contains(" onclick="),
            "inline script"
        );

        // Every entry carries its exact leaf bytes: they hash to the API's leaf hash.
        let activity: Value = app
            .http
            .get(app.url("/v1/me/activity"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (item, index) in activity["items"].as_array().unwrap().iter().zip(&indexes) {
            let leaf = html
                .split(&format!("data-index=\"{index}\" data-leaf=\""))
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let leaf = BASE64
                .decode(leaf.replace("&#x2f;", "/").replace("&#43;", "+"))
                .unwrap();
            assert_eq!(
                BASE64.encode(ledger::leaf_hash(&leaf)),
                item["leaf_hash"].as_str().unwrap(),
                "entry {index}"
            );
        }

        // The checker: loaded by its hash, with Subresource Integrity, cached for good.
        let tag = html.split("<script src=\"").nth(1).unwrap();
        let src = tag.split('"').next().unwrap().replace("&#x2f;", "/");
        let integrity = tag
            .split("integrity=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .replace("&#x2f;", "/")
            .replace("&#43;", "+");
        assert!(
            src.starts_with("/static/ledger-check.") && src.ends_with(".js"),
            "{src}"
        );
        let script = app.http.get(app.url(&src)).send().await.unwrap();
        assert_eq!(script.status(), 200);
        assert_eq!(
            script.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            script.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let body = script.bytes().await.unwrap();
        let digest = Sha256::digest(&body);
        assert_eq!(integrity, format!("sha256-{}", BASE64.encode(digest)));
        assert!(src.contains(&hex::encode(&digest[..8])), "{src}");
        let unhashed = app
            .http
            .get(app.url("/static/ledger-check.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(unhashed.status(), 404, "only the hashed name is served");
    }
);

/// A person erases their account from the dashboard in the browser: a
/// mistyped handle is refused next to the field and changes nothing; the
/// right one signs them out to a page that says what was destroyed and
/// what the log keeps, and their values are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_erases_their_account_from_the_dashboard() {
    let Some(binary) = chromium() else { return };
    let app = TestApp::sqlite().await;
    let (token, _) = password_person(&app, "erin").await;
    let response = app
        .http
        .put(app.url("/v1/me/attributes/email"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"value": "erin@example.org", "bucket": "semi_private"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let chromium = Chromium::launch(&binary).await;
    let page = chromium.browser.new_page("about:blank").await.unwrap();
    page.goto(app.url("/signin")).await.unwrap();
    fill(&page, "#handle", "erin").await;
    fill(&page, "#password", "correct horse battery").await;
    click(&page, "form[action='/signin'] button[type=submit]").await;
    path_is(&page, "/dashboard").await;

    fill(&page, "#erase-confirm", "Erin").await;
    click(&page, "form[action='/account/erase'] button[type=submit]").await;
    text_shows(&page, "type your handle exactly").await;
    assert_eq!(
        eval(
            &page,
            "document.querySelector('#erase-confirm').getAttribute('aria-invalid')"
        )
        .await,
        Some(Value::from("true"))
    );
    let still = app
        .http
        .get(app.url("/v1/me/attributes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200, "a mistyped handle changes nothing");
    assert!(still.text().await.unwrap().contains("erin@example.org"));

    fill(&page, "#erase-confirm", "erin").await;
    click(&page, "form[action='/account/erase'] button[type=submit]").await;
    path_is(&page, "/signin").await;
    text_shows(&page, "Your account is erased").await;
    screenshot(&page, "erased.png", false).await;
    let gone = app
        .http
        .get(app.url("/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 401);
    page.goto(app.url("/dashboard")).await.unwrap();
    path_is(&page, "/signin").await;
    chromium.close().await;
    app.stop().await;
}
