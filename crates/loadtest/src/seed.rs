//! The seeded database: people with attributes and defaults, companies with
//! secrets, grants made the way `POST /v1/requests` makes them (the real
//! policy decision, the real `record_request` transaction and its ledger
//! entries), and the ledger filled up to its size with disclosure entries.
//!
//! The seed is kept under `target/bench/seed-SCALE` with a `bench.json`
//! naming what it holds (client secrets included: it is a benchmark
//! fixture on loopback), and reused while the plan is unchanged.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use consent_policy::{AttributeKey, Bucket, CompanyId, DataRequest, SharingDefault};
use ledger::{Entry, EntryKind, NameList, ShortText};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{Channel, DatabaseUrl, Handle, Store};

/// How much to seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// People.
    pub people: u64,
    /// Companies (OAuth clients).
    pub companies: u64,
    /// Grants, made through the async request path.
    pub grants: u64,
    /// The ledger's size at the end (grants write some; the rest are
    /// disclosures).
    pub entries: u64,
}

impl Plan {
    /// The size the performance issue names.
    pub fn full() -> Plan {
        Plan {
            people: 10_000,
            companies: 100,
            grants: 100_000,
            entries: 1_000_000,
        }
    }

    /// Every count divided by `by` (at least 10 people, 2 companies).
    pub fn scaled(self, by: u64) -> Plan {
        let by = by.max(1);
        Plan {
            people: (self.people / by).max(10),
            companies: (self.companies / by).max(2),
            grants: (self.grants / by).max(10),
            entries: (self.entries / by).max(100),
        }
    }
}

/// A company's credentials.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Company {
    /// The client id.
    pub client_id: String,
    /// Its secret (a loopback fixture).
    pub client_secret: String,
}

/// What a seeded directory holds (`bench.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Seeded {
    /// What was asked for.
    pub plan: Plan,
    /// People created.
    pub people: u64,
    /// Companies created.
    pub companies: u64,
    /// Grants made.
    pub grants: u64,
    /// Ledger entries at the end of seeding.
    pub ledger_size: u64,
    /// Handles of people whose default is "share everything": a request
    /// for their public and semi-private attributes is granted at once.
    pub sharing: Vec<String>,
    /// Every company.
    pub company_credentials: Vec<Company>,
    /// Seconds the seeding took.
    pub seconds: f64,
}

impl Seeded {
    /// Counts and timing, without secrets or handles.
    pub fn summary(&self) -> serde_json::Value {
        json!({
            "people": self.people,
            "companies": self.companies,
            "grants": self.grants,
            "ledger_size": self.ledger_size,
            "seconds": self.seconds,
        })
    }
}

/// Who may clear a seed directory that does not hold the seed asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The harness's own (`target/bench/seed-SCALE`): cleared and seeded
    /// again, as after an interrupted seeding.
    Harness,
    /// Named with `--data-dir`: never deleted; a mismatch is an error.
    Named,
}

fn is_non_empty_dir(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

/// The attribute set every seeded person has.
fn attributes(i: u64) -> [(&'static str, serde_json::Value, Bucket); 4] {
    [
        ("display_name", json!(format!("Person {i}")), Bucket::Public),
        (
            "email",
            json!(format!("person{i}@example.org")),
            Bucket::SemiPrivate,
        ),
        ("interests", json!(["cycling", "jazz"]), Bucket::Public),
        ("birth_date", json!("1990-01-01"), Bucket::Private),
    ]
}

/// The request a benchmark company makes: public and semi-private keys.
pub fn request_details() -> serde_json::Value {
    json!({
        "type": "apiome_data",
        "attributes": ["display_name", "email", "interests"],
        "purpose": "service_provision",
        "duration": "P30D",
    })
}

fn text(s: String) -> Result<ShortText> {
    ShortText::new(s).context("a short text")
}

/// Returns the seed in `dir`, creating it first if it is missing or was
/// made for another plan.
pub async fn ensure(dir: &Path, plan: Plan, ownership: Ownership) -> Result<Seeded> {
    let manifest = dir.join("bench.json");
    if let Ok(bytes) = std::fs::read(&manifest) {
        let seeded: Seeded = serde_json::from_slice(&bytes).context("reading bench.json")?;
        if seeded.plan == plan {
            eprintln!(
                "apiome-load: reusing the seed in {} ({} entries)",
                dir.display(),
                seeded.ledger_size
            );
            return Ok(seeded);
        }
        if ownership == Ownership::Named {
            bail!(
                "{} holds a seed of {} people and {} entries, not the {} people and {} entries \
                 asked for: pass the --scale it was made with, or another --data-dir",
                dir.display(),
                seeded.plan.people,
                seeded.plan.entries,
                plan.people,
                plan.entries,
            );
        }
    }
    if ownership == Ownership::Named && is_non_empty_dir(dir)? {
        bail!(
            "{} is not empty and holds no seed (bench.json): \
             apiome-load seeds only an empty or new directory",
            dir.display()
        );
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let seeded = create(dir, plan).await?;
    std::fs::write(&manifest, serde_json::to_vec_pretty(&seeded)?)?;
    Ok(seeded)
}

async fn create(dir: &Path, plan: Plan) -> Result<Seeded> {
    let started = Instant::now();
    let keys = server::data_keys::load(dir).context("the data keys")?;
    let store = Store::open(&DatabaseUrl::Sqlite(dir.join("apiome.db")), keys).await?;
    let server_key = server::admin::server_key(dir)?;

    let mut company_credentials = Vec::new();
    for c in 0..plan.companies {
        let created = server::admin::create_company(
            &store,
            &server_key,
            &format!("Bench company {c}"),
            &["https://bench.example/callback".to_owned()],
        )
        .await?;
        company_credentials.push(Company {
            client_id: created.client_id,
            client_secret: created.client_secret,
        });
    }
    eprintln!("apiome-load: {} companies", plan.companies);

    // Half share everything, three in ten ask, two in ten share nothing.
    let mut sharing = Vec::new();
    let mut sharing_ids = Vec::new();
    for i in 0..plan.people {
        let handle = format!("bench{i:06}");
        let person = store.create_person(&Handle::parse(&handle)?).await?;
        for (key, value, bucket) in attributes(i) {
            store
                .put_attribute(&person.id, &AttributeKey::parse(key)?, &value, bucket)
                .await?;
        }
        let default = match i % 10 {
            0..=4 => SharingDefault::ShareEverything,
            5..=7 => SharingDefault::AskMe,
            _ => SharingDefault::ShareNothing,
        };
        store
            .set_preferences(&person.id, default, &person.max_duration, &json!({}))
            .await?;
        if default == SharingDefault::ShareEverything {
            sharing.push(handle);
            sharing_ids.push(person.id);
        }
        if (i + 1) % 2_000 == 0 {
            eprintln!("apiome-load: {} people", i + 1);
        }
    }

    let mut profiles = HashMap::new();
    for g in 0..plan.grants {
        let person = &sharing_ids[(g % sharing_ids.len() as u64) as usize];
        let company =
            CompanyId::parse(&company_credentials[(g % plan.companies) as usize].client_id)?;
        if !profiles.contains_key(person) {
            profiles.insert(person.clone(), store.profile(person).await?);
        }
        let profile = &profiles[person];
        let request = DataRequest::from_json_value(request_details(), &profile.max_duration)?;
        let decision = consent_policy::decide(profile, &company, &request);
        store
            .record_request(person, &company, &request, &decision, Channel::Async)
            .await?;
        if (g + 1) % 10_000 == 0 {
            eprintln!(
                "apiome-load: {} grants ({:.0} s)",
                g + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let grants = store.live_grant_count().await?;
    if grants < plan.grants {
        bail!("only {grants} of {} requests became grants", plan.grants);
    }

    // Fill the log to its size with reads of those grants, in the
    // batches the store appends at most at once.
    let mut size = store.ledger_size().await?;
    let batch = store::MAX_APPEND_ENTRIES as u64;
    while size < plan.entries {
        let n = batch.min(plan.entries - size);
        let entries = (size..size + n)
            .map(|i| {
                Ok(Entry::new(
                    1_764_000_000_000 + i as i64,
                    EntryKind::Disclosure {
                        grant_id: text(format!("seed-grant-{}", i % plan.grants))?,
                        company_id: text(
                            company_credentials[(i % plan.companies) as usize]
                                .client_id
                                .clone(),
                        )?,
                        person: text(format!("p-{:032x}", i % plan.people))?,
                        attributes: NameList::from_strs(&["display_name", "email"])?,
                        withheld: NameList::default(),
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        store.append_standalone(&entries).await?;
        size += n;
    }
    let ledger_size = store.ledger_size().await?;
    store.close().await?;
    let seeded = Seeded {
        plan,
        people: plan.people,
        companies: plan.companies,
        grants,
        ledger_size,
        sharing,
        company_credentials,
        seconds: started.elapsed().as_secs_f64(),
    };
    eprintln!("apiome-load: seeded {}", seeded.summary());
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(plan: Plan) -> Seeded {
        Seeded {
            plan,
            people: plan.people,
            companies: plan.companies,
            grants: plan.grants,
            ledger_size: plan.entries,
            sharing: Vec::new(),
            company_credentials: Vec::new(),
            seconds: 1.0,
        }
    }

    #[tokio::test]
    async fn a_named_directory_is_reused_or_refused_never_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let small = Plan::full().scaled(1000);
        std::fs::write(
            dir.path().join("bench.json"),
            serde_json::to_vec(&manifest(small)).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("apiome.db"), b"precious").unwrap();

        let reused = ensure(dir.path(), small, Ownership::Named).await.unwrap();
        assert_eq!(reused.plan, small);

        let error = ensure(dir.path(), Plan::full(), Ownership::Named)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("pass the --scale"), "{error}");
        assert_eq!(
            std::fs::read(dir.path().join("apiome.db")).unwrap(),
            b"precious"
        );

        std::fs::remove_file(dir.path().join("bench.json")).unwrap();
        let error = ensure(dir.path(), small, Ownership::Named)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("holds no seed"), "{error}");
        assert_eq!(
            std::fs::read(dir.path().join("apiome.db")).unwrap(),
            b"precious"
        );
    }
}
