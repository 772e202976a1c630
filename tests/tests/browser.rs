//! The person's pages in a real headless Chromium, with a virtual passkey
//! authenticator (Chrome DevTools' WebAuthn domain): sign up with a
//! passkey, see the recovery codes, sign out, sign back in with the passkey
//! (discoverable, no handle typed), move an attribute to public and save a
//! rule in plain words. And the dashboard's forms refuse a POST without the
//! session's CSRF token.

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
