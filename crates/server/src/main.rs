//! The `apiome` command: `serve` (the default), `migrate`, `openapi`,
//! `ledger public-key`, `company create|list|show|registration-token|...`,
//! `person list|show`, `payout list|confirm|fail`, `auditor create|list`, `keys rotate`,
//! `keys rotate-data`.

use std::process::ExitCode;

use clap::Parser;
use server::config::{
    self, AuditorCommand, Cli, Command, CompanyCommand, Config, ConfigCommand, KeysCommand,
    LedgerCommand, PayoutCommand, PersonCommand,
};
use server::ledger_signer::{self, LedgerSigner};
use server::startup::Application;
use server::{admin, data_dir, data_keys, oauth_keys, openapi, telemetry, webhooks};

/// The store, with the keys that seal attribute values.
async fn open_store(config: &Config) -> anyhow::Result<store::Store> {
    let keys = data_keys::load_from(&config.keys, &config.data_dir)?;
    Ok(store::Store::open(&config.database, keys).await?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line that says what to fix. Our errors already name their
            // cause in their message, so the chain is not repeated.
            let line = error.to_string().replace('\n', " ");
            eprintln!("apiome: {line}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (command, file, flags) = match cli.into_parts() {
        Ok(parts) => parts,
        Err(error) => error.exit(),
    };
    if let Command::Openapi = command {
        print!("{}", openapi::document_json());
        return Ok(());
    }
    let loaded = config::load(file.as_deref(), &flags)?;
    let config = loaded.config()?;
    if let Command::Config {
        command: ConfigCommand::Check,
    } = command
    {
        config.keys.check_files()?;
        print!("{}", loaded.render(&config));
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let telemetry = telemetry::init(
        config.log_format,
        config.otlp_endpoint.as_ref(),
        runtime.handle(),
    )?;
    let result = runtime.block_on(async move {
        match command {
            Command::Serve(_) => {
                let app = Application::build(config).await?;
                app.run_until_stopped().await?;
            }
            Command::Backup { to } => {
                data_dir::prepare(&config.data_dir)?;
                let store = open_store(&config).await?;
                let report = server::backup::backup(&store, &config.database, &to).await;
                store.close().await?;
                println!("{}", serde_json::to_string_pretty(&report?)?);
            }
            Command::Restore { from, force } => {
                data_dir::prepare(&config.data_dir)?;
                let report = server::backup::restore(&config.database, &from, force)?;
                // Bring the restored schema up to date with this binary.
                let store = open_store(&config).await?;
                store.close().await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            Command::Migrate => {
                data_dir::prepare(&config.data_dir)?;
                let store = open_store(&config).await?;
                store.close().await?;
                tracing::info!(database = %config.database.display(), "schema is up to date");
            }
            Command::Ledger {
                command: LedgerCommand::PublicKey,
            } => {
                data_dir::prepare(&config.data_dir)?;
                let name = ledger_signer::log_name(&config.public_url_for(config.bind.port()));
                let signer = LedgerSigner::load_from(&config.keys, &config.data_dir, &name)?;
                println!("{}", signer.vkey());
            }
            Command::Company { command } => company(&config, command).await?,
            Command::Person { command } => person(&config, command).await?,
            Command::Payout { command } => payout(&config, command).await?,
            Command::Auditor {
                command: AuditorCommand::List,
            } => {
                data_dir::prepare(&config.data_dir)?;
                let store = open_store(&config).await?;
                let listed = admin::list_auditors(&store).await;
                store.close().await?;
                for auditor in listed? {
                    println!("{}", serde_json::to_string(&auditor)?);
                }
            }
            Command::Auditor {
                command: AuditorCommand::Revoke { client_id },
            } => {
                data_dir::prepare(&config.data_dir)?;
                let store = open_store(&config).await?;
                let revoked = admin::revoke_auditor(&store, &client_id).await;
                store.close().await?;
                println!("{}", serde_json::to_string_pretty(&revoked?)?);
            }
            Command::Auditor {
                command: AuditorCommand::Create { name },
            } => {
                data_dir::prepare(&config.data_dir)?;
                let key = oauth_keys::load_server_key_from(&config.keys, &config.data_dir)?;
                let store = open_store(&config).await?;
                let created = admin::create_auditor(&store, &key, &name).await;
                store.close().await?;
                println!("{}", serde_json::to_string_pretty(&created?)?);
            }
            Command::Keys {
                command: KeysCommand::RotateData,
            } => {
                data_dir::prepare(&config.data_dir)?;
                let rotated =
                    data_keys::rotate(&config.keys, &config.data_dir, &config.database).await?;
                println!("{}", serde_json::to_string_pretty(&rotated)?);
            }
            Command::Keys {
                command: KeysCommand::Rotate,
            } => {
                data_dir::prepare(&config.data_dir)?;
                let store = open_store(&config).await?;
                let rotated = oauth_keys::rotate_signing_keys(&store, &config.data_dir).await;
                store.close().await?;
                let rotated = rotated?;
                println!("{}", serde_json::to_string_pretty(&rotated)?);
            }
            Command::Openapi | Command::Config { .. } => {
                unreachable!("handled before the runtime starts")
            }
        }
        Ok::<(), anyhow::Error>(())
    });
    // Outside the runtime, which the exporter still needs for the last spans.
    telemetry.shutdown();
    result
}

/// `apiome company ...`: each opens the database, acts, prints JSON.
async fn company(config: &Config, command: CompanyCommand) -> anyhow::Result<()> {
    data_dir::prepare(&config.data_dir)?;
    let store = open_store(config).await?;
    let result = async {
        match command {
            CompanyCommand::Create {
                name,
                redirect_uris,
                webhook_url,
                ciba_ping_endpoint,
                dpop,
                sandbox,
                contact,
            } => {
                let key = oauth_keys::load_server_key_from(&config.keys, &config.data_dir)?;
                for url in webhook_url.iter().chain(&ciba_ping_endpoint) {
                    webhooks::check_url(url, config.webhook_allow_loopback)
                        .map_err(admin::AdminError::Invalid)?;
                }
                let mut extra = serde_json::json!({});
                if let Some(endpoint) = &ciba_ping_endpoint {
                    extra["backchannel_token_delivery_mode"] = "ping".into();
                    extra["backchannel_client_notification_endpoint"] = endpoint.as_str().into();
                }
                if dpop {
                    extra["dpop_bound_access_tokens"] = true.into();
                }
                let created = if sandbox {
                    admin::create_sandbox_company_with(&store, &key, &name, &redirect_uris, extra)
                        .await?
                } else {
                    admin::create_company_with(&store, &key, &name, &redirect_uris, extra).await?
                };
                if let Some(contact) = &contact {
                    admin::set_company_contact(&store, &created.client_id, contact).await?;
                }
                let mut printed = serde_json::to_value(&created)?;
                if let Some(url) = webhook_url {
                    let hook = admin::set_webhook(
                        &store,
                        &created.client_id,
                        Some(&url),
                        config.webhook_allow_loopback,
                    )
                    .await?;
                    printed["webhook_url"] = hook.webhook_url.into();
                    printed["webhook_secret"] = hook.webhook_secret.into();
                }
                println!("{}", serde_json::to_string_pretty(&printed)?);
            }
            CompanyCommand::Webhook {
                client_id,
                url,
                remove,
            } => {
                let url = if remove { None } else { url };
                let hook = admin::set_webhook(
                    &store,
                    &client_id,
                    url.as_deref(),
                    config.webhook_allow_loopback,
                )
                .await?;
                println!("{}", serde_json::to_string_pretty(&hook)?);
            }
            CompanyCommand::RotateWebhookSecret { client_id } => {
                let hook = admin::rotate_webhook_secret(&store, &client_id).await?;
                println!("{}", serde_json::to_string_pretty(&hook)?);
            }
            CompanyCommand::List => {
                for company in admin::list_companies(&store).await? {
                    println!("{}", serde_json::to_string(&company)?);
                }
            }
            CompanyCommand::Show { client_id } => {
                let shown = admin::show_company(&store, &client_id).await?;
                println!("{}", serde_json::to_string_pretty(&shown)?);
            }
            CompanyCommand::Fund {
                client_id,
                amount,
                currency,
                transfer_id,
            } => {
                let report =
                    admin::fund_company(&store, &client_id, &amount, &currency, transfer_id)
                        .await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            CompanyCommand::RegistrationToken => {
                let token = admin::issue_registration_token(&store).await?;
                println!("{}", serde_json::to_string_pretty(&token)?);
            }
            CompanyCommand::Disable { client_id } => {
                let done = admin::disable_company(&store, &client_id).await?;
                println!("{}", serde_json::to_string_pretty(&done)?);
            }
            CompanyCommand::Enable { client_id } => {
                let done = admin::enable_company(&store, &client_id).await?;
                println!("{}", serde_json::to_string_pretty(&done)?);
            }
            CompanyCommand::Delete { client_id, force } => {
                let done = if force {
                    // Its grants end here: each revocation gets its receipt,
                    // signed with the key the running servers publish.
                    let public_url = config.public_url_for(config.bind.port());
                    let oauth = server::oauth_server::OAuthServer::load(
                        &config.keys,
                        &config.data_dir,
                        &store,
                        &public_url,
                    )
                    .await?;
                    server::receipts::install(&store, &oauth, &config.jurisdiction);
                    admin::force_delete_company(&store, &client_id).await?
                } else {
                    admin::delete_company(&store, &client_id).await?
                };
                println!("{}", serde_json::to_string_pretty(&done)?);
            }
            CompanyCommand::RotateSecret { client_id } => {
                let key = admin::server_key(&config.data_dir)?;
                let rotated = admin::rotate_client_secret(&store, &key, &client_id).await?;
                println!("{}", serde_json::to_string_pretty(&rotated)?);
            }
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await?;
    result
}

/// `apiome payout ...`: the operator's side of people's payouts.
async fn payout(config: &Config, command: PayoutCommand) -> anyhow::Result<()> {
    data_dir::prepare(&config.data_dir)?;
    let store = open_store(config).await?;
    let result = async {
        match command {
            PayoutCommand::List { pending } => {
                for payout in admin::list_payouts(&store, pending).await? {
                    println!("{}", serde_json::to_string(&payout)?);
                }
            }
            PayoutCommand::Confirm { id, transfer_id } => {
                let done = admin::confirm_payout(&store, &id, &transfer_id).await?;
                println!("{}", serde_json::to_string_pretty(&done)?);
            }
            PayoutCommand::Fail { id, reason } => {
                let done = admin::fail_payout(&store, &id, &reason).await?;
                println!("{}", serde_json::to_string_pretty(&done)?);
            }
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await?;
    result
}

/// `apiome person ...`: look-ups, JSON on stdout.
async fn person(config: &Config, command: PersonCommand) -> anyhow::Result<()> {
    data_dir::prepare(&config.data_dir)?;
    let store = open_store(config).await?;
    let result = async {
        match command {
            PersonCommand::List { after } => {
                for person in admin::list_people(&store, after.as_deref()).await? {
                    println!("{}", serde_json::to_string(&person)?);
                }
            }
            PersonCommand::Show { who } => {
                let shown = admin::show_person(&store, &who).await?;
                println!("{}", serde_json::to_string_pretty(&shown)?);
            }
            PersonCommand::Suspend { who } => {
                let done = admin::suspend_person(&store, &who).await?;
                println!("{}", serde_json::to_string_pretty(&done)?);
            }
            PersonCommand::Unsuspend { who } => {
                let done = admin::unsuspend_person(&store, &who).await?;
                println!("{}", serde_json::to_string_pretty(&done)?);
            }
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await?;
    result
}
