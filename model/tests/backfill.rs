//! The backfill against the emulator: items of spec version 1 (as the release before version 2
//! wrote them) become readable at version 2 with the features the archive's events give,
//! idempotently, resumably and within the write budget.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use model::archive::{Archive, ArchiveReader};
use model::backfill::{BackfillOptions, run};
use model::history::UserEvent;
use model::train::{Examples, moment, user_examples};
use shared::clients::ClientSettings;
use shared::events::ActivityType;
use shared::features::{FeatureItem, SpecVersion, evaluate};

/// 2026-11-23T10:00:00Z.
const T0: i64 = 1_795_428_000_000;
const MINUTE: i64 = 60_000;

fn events(user: usize) -> Vec<(i64, ActivityType)> {
    let mut events = vec![
        (T0, ActivityType::View),
        (T0 + MINUTE, ActivityType::AddToCart),
    ];
    // Every other user bought what was in the cart.
    if user.is_multiple_of(2) {
        events.push((T0 + 3 * MINUTE, ActivityType::Purchase));
    }
    events.push((T0 + 5 * MINUTE + user as i64, ActivityType::Click));
    events
}

/// The archive of `users` users, as Firehose would have written it.
fn archive(users: usize) -> Archive {
    let mut reader = ArchiveReader::default();
    let mut lines = String::new();
    for user in 0..users {
        for (n, (at, activity_type)) in events(user).into_iter().enumerate() {
            let timestamp = moment(at)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            let amount = if activity_type == ActivityType::Purchase {
                r#","amount":9.5"#
            } else {
                ""
            };
            lines.push_str(&format!(
                "{{\"eventId\":\"e{user}-{n}\",\"userId\":\"user-{user:02}\",\"type\":\"{}\",\"timestamp\":\"{timestamp}\"{amount}}}\n",
                activity_type.as_str()
            ));
        }
    }
    reader
        .add_object("activity/date=2026-11-23/a", lines.as_bytes())
        .unwrap();
    reader.finish()
}

/// User `user`'s item as the release before version 2 wrote it: the same windows and sessions,
/// no cart times, marked version 1.
fn version_1_item(user: usize) -> FeatureItem {
    let mut item = FeatureItem::new(&format!("user-{user:02}"));
    for (at, activity_type) in events(user) {
        let amount = (activity_type == ActivityType::Purchase).then_some(9.5);
        item.apply(moment(at), activity_type, amount);
    }
    item.spec_version = 1;
    item.last_cart_at = None;
    item.last_purchase_at = None;
    item.version = 3;
    item
}

struct Fixture {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl Fixture {
    async fn new() -> Self {
        let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        let table = testkit::emulator::table(&client, "features").await;
        Self { client, table }
    }

    async fn put(&self, item: &FeatureItem) {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item).unwrap()))
            .send()
            .await
            .unwrap();
    }

    async fn item(&self, user: &str) -> Option<FeatureItem> {
        let key = HashMap::from([("userId".to_owned(), AttributeValue::S(user.to_owned()))]);
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        Some(FeatureItem::from_stored(item).unwrap())
    }

    fn options(&self, budget: f64, progress_file: Option<std::path::PathBuf>) -> BackfillOptions {
        BackfillOptions {
            table: self.table.clone(),
            source: "test-archive".into(),
            write_units_per_second: budget,
            progress_file,
            max_items: None,
        }
    }
}

#[tokio::test]
async fn version_1_items_read_at_version_2_as_the_archive_says_and_a_rerun_writes_nothing() {
    let fixture = Fixture::new().await;
    let archive = archive(6);
    // Users 0-3 have version 1 items; user 4 has one written by version 2's writer already;
    // user 5 has none; user 9 has a version 1 item but no events in the archive's span.
    for user in 0..4 {
        fixture.put(&version_1_item(user)).await;
    }
    fixture.put(&version_1_item(9)).await;
    let mut current = version_1_item(4);
    current.spec_version = 2;
    current.last_cart_at = Some(T0 + MINUTE);
    fixture.put(&current).await;
    let read_at = moment(T0 + 10 * MINUTE);
    let before = fixture.item("user-01").await.unwrap();
    let refused = evaluate(Some(&before), read_at, SpecVersion::V2).unwrap_err();
    assert!(refused.to_string().contains("backfill"), "{refused}");

    let summary = run(
        &fixture.client,
        &archive,
        &fixture.options(1_000.0, None),
        |_| {},
    )
    .await
    .unwrap();
    let counts = &summary.counts;
    assert_eq!(
        (
            counts.items,
            counts.migrated,
            counts.with_archived_events,
            counts.already_latest,
            counts.failed
        ),
        (6, 5, 4, 1, 0),
        "{summary:?}"
    );
    assert!(summary.complete);
    // A write unit per KB started of each migrated item (moto reports half a unit); the scan:
    // half a unit per 4 KB started of its one page.
    assert_eq!(counts.billed_write_units, 5.0, "{summary:?}");
    assert_eq!(counts.billed_read_units, 0.5, "{summary:?}");

    for user in 0..4usize {
        let user_id = format!("user-{user:02}");
        let item = fixture.item(&user_id).await.unwrap();
        assert_eq!(item.spec_version, 2);
        assert_eq!(
            item.version, 4,
            "bumped, so a writer's cached copy re-reads"
        );
        // The migrated item reads as the archive's events give, at version 2.
        let online = evaluate(Some(&item), read_at, SpecVersion::V2).unwrap();
        let history: Vec<UserEvent> = archive.users[&user_id].clone();
        let mut offline = Examples::default();
        user_examples(&history, &[T0 + 10 * MINUTE], SpecVersion::V2, &mut offline);
        assert_eq!(online.model_row(), offline.rows[0], "{user_id}");
        let open_cart = online.get("seconds_since_open_cart").unwrap().clone();
        let expected = if user.is_multiple_of(2) {
            86_400
        } else {
            9 * 60
        };
        assert_eq!(
            open_cart,
            shared::features::FeatureValue::Integer(expected),
            "{user_id}"
        );
    }
    assert!(
        fixture.item("user-05").await.is_none(),
        "no item is created"
    );
    // Marked, with nothing folded in: no event of user 9 is in the archive's span.
    let marked = fixture.item("user-09").await.unwrap();
    assert_eq!((marked.spec_version, marked.last_cart_at), (2, None));

    // Idempotent: everything is at the latest version now.
    let again = run(
        &fixture.client,
        &archive,
        &fixture.options(1_000.0, None),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((again.counts.migrated, again.counts.already_latest), (0, 6));
    assert_eq!(again.counts.spent_write_units(), 0.0);
}

#[tokio::test]
async fn a_stopped_run_goes_on_after_the_last_item_it_handled_within_its_budget() {
    let fixture = Fixture::new().await;
    let archive = archive(8);
    for user in 0..8 {
        fixture.put(&version_1_item(user)).await;
    }
    let file = std::env::temp_dir().join(format!("backfill-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&file);
    // A trial on three items.
    let mut options = fixture.options(1_000.0, Some(file.clone()));
    options.max_items = Some(3);
    let first = run(&fixture.client, &archive, &options, |_| {})
        .await
        .unwrap();
    assert_eq!((first.counts.migrated, first.complete), (3, false));

    // The other five: five writes of one unit at 4 units a second take at least 1.25 s.
    let options = fixture.options(4.0, Some(file.clone()));
    let summary = run(&fixture.client, &archive, &options, |_| {})
        .await
        .unwrap();
    assert_eq!(summary.resumed_after, 3);
    assert_eq!(summary.counts.items, 8, "counted over both runs");
    assert_eq!(summary.counts.migrated, 8);
    assert_eq!(summary.counts.with_archived_events, 8);
    assert!(summary.complete);
    assert!(
        summary.elapsed.as_secs_f64() >= 1.2,
        "{:?} for 5 writes at 4 units/s",
        summary.elapsed
    );
    for user in 0..8 {
        let item = fixture.item(&format!("user-{user:02}")).await.unwrap();
        assert_eq!(
            (item.spec_version, item.version),
            (2, 4),
            "user {user}, once"
        );
    }
    // A complete run's file: nothing more to do.
    let again = run(&fixture.client, &archive, &options, |_| {})
        .await
        .unwrap();
    assert_eq!((again.resumed_after, again.counts.migrated), (8, 8));

    // Another table or archive with the same file is refused.
    let mut other = fixture.options(4.0, Some(file.clone()));
    other.table = "another-table".into();
    let error = run(&fixture.client, &archive, &other, |_| {})
        .await
        .unwrap_err();
    assert!(error.to_string().contains("use another file"), "{error}");
    std::fs::remove_file(file).unwrap();

    let error = run(
        &fixture.client,
        &archive,
        &fixture.options(0.0, None),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("above 0"), "{error}");
}

#[tokio::test]
async fn an_item_that_failed_is_tried_again_by_the_next_run_even_after_a_complete_scan() {
    let fixture = Fixture::new().await;
    let archive = archive(2);
    fixture.put(&version_1_item(0)).await;
    // User 1's item is damaged: its windows are not the binary the spec writes.
    let mut damaged =
        serde_dynamo::to_item::<_, HashMap<String, AttributeValue>>(&version_1_item(1)).unwrap();
    damaged.insert("windows".into(), AttributeValue::S("garbled".into()));
    fixture
        .client
        .put_item()
        .table_name(&fixture.table)
        .set_item(Some(damaged))
        .send()
        .await
        .unwrap();
    let file = std::env::temp_dir().join(format!("backfill-failed-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let options = fixture.options(1_000.0, Some(file.clone()));
    let first = run(&fixture.client, &archive, &options, |_| {})
        .await
        .unwrap();
    assert!(first.complete);
    assert_eq!((first.counts.migrated, first.counts.failed), (1, 1));
    assert_eq!(first.failures[0].0, "user-01");
    assert!(first.failures[0].1.contains("does not parse"), "{first:?}");

    // The operator repairs the item; the same command goes on and migrates it.
    fixture.put(&version_1_item(1)).await;
    let second = run(&fixture.client, &archive, &options, |_| {})
        .await
        .unwrap();
    assert_eq!((second.counts.migrated, second.counts.failed), (2, 0));
    assert_eq!(fixture.item("user-01").await.unwrap().spec_version, 2);
    std::fs::remove_file(file).unwrap();
}
