//! A person's standing rules, in order: the first that matches decides.

use consent_policy::{MAX_RULES_PER_PERSON, Rule};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::rule;
use crate::{PersonId, Store, StoreError, new_id, now};

/// One rule as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRule {
    /// Stable id, for deleting and reordering.
    pub id: String,
    /// 0-based place in the list.
    pub position: u32,
    /// The rule itself.
    pub rule: Rule,
    /// When it was written.
    pub created_at: time::OffsetDateTime,
}

impl TryFrom<rule::Model> for StoredRule {
    type Error = StoreError;
    fn try_from(row: rule::Model) -> Result<Self, StoreError> {
        Ok(StoredRule {
            rule: serde_json::from_str(&row.body).map_err(StoreError::corrupt)?,
            position: u32::try_from(row.position).map_err(StoreError::corrupt)?,
            id: row.id,
            created_at: row.created_at,
        })
    }
}

impl Store {
    /// Appends a rule at the end of the person's list.
    pub async fn add_rule(&self, person: &PersonId, new: &Rule) -> Result<StoredRule, StoreError> {
        let body = serde_json::to_string(new).map_err(StoreError::corrupt)?;
        let (_turn, txn) = self.write_txn().await?;
        self.change_policy(&txn, person).await?;
        let count = rule::Entity::find()
            .filter(rule::Column::PersonId.eq(person.as_str()))
            .count(&txn)
            .await?;
        if count >= MAX_RULES_PER_PERSON as u64 {
            return Err(StoreError::TooManyRules {
                max: MAX_RULES_PER_PERSON,
            });
        }
        let row = rule::ActiveModel {
            id: Set(new_id()),
            person_id: Set(person.as_str().to_owned()),
            position: Set(i32::try_from(count).map_err(StoreError::corrupt)?),
            body: Set(body),
            created_at: Set(now()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        StoredRule::try_from(row)
    }

    /// The person's rules, first to last.
    pub async fn rules(&self, person: &PersonId) -> Result<Vec<StoredRule>, StoreError> {
        rule::Entity::find()
            .filter(rule::Column::PersonId.eq(person.as_str()))
            .order_by_asc(rule::Column::Position)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredRule::try_from)
            .collect()
    }

    /// Deletes one rule; those after it move up one place.
    pub async fn delete_rule(&self, person: &PersonId, rule_id: &str) -> Result<(), StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.change_policy(&txn, person).await?;
        let rows = rule::Entity::find()
            .filter(rule::Column::PersonId.eq(person.as_str()))
            .order_by_asc(rule::Column::Position)
            .all(&txn)
            .await?;
        if !rows.iter().any(|r| r.id == rule_id) {
            return Err(StoreError::RuleNotFound(rule_id.to_owned()));
        }
        rule::Entity::delete_by_id(rule_id.to_owned())
            .exec(&txn)
            .await?;
        let remaining: Vec<_> = rows.into_iter().filter(|r| r.id != rule_id).collect();
        renumber(&txn, remaining).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Puts the person's rules in the given order. `order` must name each
    /// of their rules exactly once.
    pub async fn reorder_rules(
        &self,
        person: &PersonId,
        order: &[String],
    ) -> Result<Vec<StoredRule>, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.change_policy(&txn, person).await?;
        let rows = rule::Entity::find()
            .filter(rule::Column::PersonId.eq(person.as_str()))
            .all(&txn)
            .await?;
        let mut wanted: Vec<&String> = order.iter().collect();
        wanted.sort();
        wanted.dedup();
        let mut have: Vec<&String> = rows.iter().map(|r| &r.id).collect();
        have.sort();
        if wanted.len() != order.len() || wanted != have {
            return Err(StoreError::BadRuleOrder {
                expected: rows.len(),
            });
        }
        let mut by_new_place = Vec::with_capacity(rows.len());
        for row in rows {
            let place = order
                .iter()
                .position(|id| *id == row.id)
                .ok_or_else(|| StoreError::corrupt("rule vanished during reorder"))?;
            by_new_place.push((place, row));
        }
        by_new_place.sort_by_key(|(place, _)| *place);
        renumber(&txn, by_new_place.into_iter().map(|(_, row)| row)).await?;
        txn.commit().await?;
        self.rules(person).await
    }
}

/// Writes positions 0, 1, 2, ... in the order given, touching only rows whose
/// position changes.
async fn renumber(
    txn: &sea_orm::DatabaseTransaction,
    rows: impl IntoIterator<Item = rule::Model>,
) -> Result<(), StoreError> {
    for (position, row) in rows.into_iter().enumerate() {
        let position = i32::try_from(position).map_err(StoreError::corrupt)?;
        if row.position != position {
            let mut active: rule::ActiveModel = row.into();
            active.position = Set(position);
            active.update(txn).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Handle, store_test};

    fn rule(json: serde_json::Value) -> Rule {
        serde_json::from_value(json).unwrap()
    }

    fn three_rules() -> [Rule; 3] {
        [
            rule(
                serde_json::json!({"company": "any", "purposes": ["marketing"],
                "attributes": {"keys": ["interests"]}, "min_offer": null,
                "max_duration": null, "effect": "allow"}),
            ),
            rule(serde_json::json!({"company": "any", "purposes": "any",
                "attributes": {"bucket": "semi_private"}, "min_offer": null,
                "max_duration": "P30D", "effect": "ask"})),
            rule(serde_json::json!({"company": "any", "purposes": "any",
                "attributes": "any", "min_offer": null, "max_duration": null,
                "effect": "deny"})),
        ]
    }

    store_test!(rules_keep_their_order_and_their_meaning, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let rules = three_rules();
        for r in &rules {
            store.add_rule(&ada.id, r).await.unwrap();
        }
        let stored = store.rules(&ada.id).await.unwrap();
        let got: Vec<_> = stored.iter().map(|s| s.rule.clone()).collect();
        assert_eq!(got, rules.to_vec());
        assert_eq!(
            stored.iter().map(|s| s.position).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(store.profile(&ada.id).await.unwrap().rules, rules.to_vec());
    });

    store_test!(reordering_changes_which_rule_matches_first, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let rules = three_rules();
        let mut ids = Vec::new();
        for r in &rules {
            ids.push(store.add_rule(&ada.id, r).await.unwrap().id);
        }
        let order = vec![ids[2].clone(), ids[0].clone(), ids[1].clone()];
        let stored = store.reorder_rules(&ada.id, &order).await.unwrap();
        assert_eq!(
            stored.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            order
        );
        let profile = store.profile(&ada.id).await.unwrap();
        assert_eq!(
            profile.rules,
            vec![rules[2].clone(), rules[0].clone(), rules[1].clone()]
        );
    });

    store_test!(a_bad_order_is_refused_and_nothing_moves, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let mut ids = Vec::new();
        for r in &three_rules() {
            ids.push(store.add_rule(&ada.id, r).await.unwrap().id);
        }
        for bad in [
            vec![ids[0].clone(), ids[1].clone()],
            vec![ids[0].clone(), ids[0].clone(), ids[1].clone()],
            vec![ids[0].clone(), ids[1].clone(), "someone-elses".to_owned()],
            vec![
                ids[0].clone(),
                ids[1].clone(),
                ids[2].clone(),
                ids[2].clone(),
            ],
        ] {
            let err = store.reorder_rules(&ada.id, &bad).await.unwrap_err();
            assert!(
                matches!(err, StoreError::BadRuleOrder { expected: 3 }),
                "{bad:?}"
            );
        }
        let stored = store.rules(&ada.id).await.unwrap();
        assert_eq!(stored.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), ids);
    });

    store_test!(deleting_a_rule_closes_the_gap, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let mut ids = Vec::new();
        for r in &three_rules() {
            ids.push(store.add_rule(&ada.id, r).await.unwrap().id);
        }
        store.delete_rule(&ada.id, &ids[0]).await.unwrap();
        let stored = store.rules(&ada.id).await.unwrap();
        assert_eq!(
            stored
                .iter()
                .map(|s| (s.id.clone(), s.position))
                .collect::<Vec<_>>(),
            vec![(ids[1].clone(), 0), (ids[2].clone(), 1)]
        );
        // a new rule goes after the last one
        let added = store.add_rule(&ada.id, &three_rules()[0]).await.unwrap();
        assert_eq!(added.position, 2);
    });

    store_test!(another_persons_rule_cannot_be_deleted, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let bob = store
            .create_person(&Handle::parse("bob").unwrap())
            .await
            .unwrap();
        let id = store.add_rule(&ada.id, &three_rules()[0]).await.unwrap().id;
        let err = store.delete_rule(&bob.id, &id).await.unwrap_err();
        assert!(matches!(err, StoreError::RuleNotFound(_)));
        assert_eq!(store.rules(&ada.id).await.unwrap().len(), 1);
    });

    store_test!(rules_are_bounded_per_person, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let r = &three_rules()[0];
        for _ in 0..MAX_RULES_PER_PERSON {
            store.add_rule(&ada.id, r).await.unwrap();
        }
        let err = store.add_rule(&ada.id, r).await.unwrap_err();
        assert!(matches!(err, StoreError::TooManyRules { .. }));
    });

    store_test!(concurrent_appends_get_distinct_places, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let store = store.clone();
            let id = ada.id.clone();
            tasks.push(tokio::spawn(async move {
                store.add_rule(&id, &three_rules()[1]).await.unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let places: Vec<u32> = store
            .rules(&ada.id)
            .await
            .unwrap()
            .iter()
            .map(|r| r.position)
            .collect();
        assert_eq!(places, (0..12).collect::<Vec<u32>>());
    });
}
