//! The fault proxy in front of the emulator, as the SDK sees it: untouched forwarding, and
//! each injected fault surfacing as the error AWS would cause (a modeled throttling error, a
//! 5xx, a lost connection), with the writes of "slow" and "dropped after forwarding" taken
//! effect and those of the others not.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use emulator::fault_proxy::{Fault, FaultPlan, FaultProxy};

fn endpoint() -> String {
    testkit::emulator::endpoint().to_owned()
}

/// A DynamoDB client of `url` that tries once: every fault reaches the test.
fn single_attempt_client(url: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn table(client: &aws_sdk_dynamodb::Client) -> String {
    let name = format!("proxy-{}", ulid::Ulid::new().to_string().to_lowercase());
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    name
}

#[tokio::test]
async fn every_fault_reaches_the_sdk_as_aws_would_cause_it_and_only_forwarded_writes_land() {
    let proxy = FaultProxy::start("test", &endpoint(), 20261124)
        .await
        .unwrap();
    let through_proxy = single_attempt_client(&proxy.url);
    let direct = single_attempt_client(&endpoint());
    // Untouched while there is no plan.
    let table = table(&through_proxy).await;
    assert_eq!(proxy.counts().requests, 1);

    proxy.set_plan(FaultPlan {
        rate: 1.0,
        slowest: Duration::from_millis(150),
    });
    let (mut throttled, mut server_errors, mut lost, mut succeeded) = (0, 0, 0, 0);
    const WRITES: usize = 100;
    for n in 0..WRITES {
        let result = through_proxy
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::S(n.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => succeeded += 1,
            Err(SdkError::ServiceError(error))
                if error.err().is_provisioned_throughput_exceeded_exception() =>
            {
                throttled += 1
            }
            Err(SdkError::ServiceError(error)) => {
                let status = error.raw().status().as_u16();
                assert!(
                    [500, 503].contains(&status),
                    "{status} {:?}",
                    error.err().code()
                );
                server_errors += 1;
            }
            Err(SdkError::DispatchFailure(_)) => lost += 1,
            Err(other) => panic!("an error AWS would not cause: {other:?}"),
        }
    }
    proxy.set_plan(FaultPlan::NONE);
    let counts = proxy.counts();
    assert_eq!(counts.requests, 1 + WRITES as u64);
    assert_eq!(counts.faults.iter().sum::<u64>(), WRITES as u64);
    assert_eq!(throttled, counts.of(Fault::Throttled));
    assert_eq!(server_errors, counts.of(Fault::ServerError));
    assert_eq!(succeeded, counts.of(Fault::Slow));
    assert_eq!(
        lost,
        counts.of(Fault::Dropped) + counts.of(Fault::DroppedAfterForwarding)
    );
    for fault in Fault::ALL {
        assert!(counts.of(fault) > 0, "no {} in 100 draws", fault.label());
    }
    // Slow answers and answers lost after forwarding took effect; the others never arrived.
    let mut landed = 0;
    for n in 0..WRITES {
        let item = direct
            .get_item()
            .table_name(&table)
            .key("id", AttributeValue::S(n.to_string()))
            .send()
            .await
            .unwrap()
            .item;
        landed += u64::from(item.is_some());
    }
    assert_eq!(
        landed,
        counts.of(Fault::Slow) + counts.of(Fault::DroppedAfterForwarding)
    );
    proxy.stop();
}

#[tokio::test]
async fn with_a_latency_model_a_call_is_answered_no_sooner_than_its_service_takes() {
    use emulator::latency::{LatencyModel, ServiceLatency};
    let proxy = FaultProxy::start("latency", &endpoint(), 1).await.unwrap();
    let client = single_attempt_client(&proxy.url);
    let table = table(&client).await;
    // No spread: every DynamoDB call takes 400 ms, whatever the emulator takes below that.
    let fixed = ServiceLatency {
        median_ms: 400.0,
        p99_ms: 400.0,
    };
    proxy.set_latency(Some(LatencyModel {
        dynamodb: fixed,
        ..LatencyModel::region()
    }));
    for n in 0..3 {
        let started = std::time::Instant::now();
        client
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::S(n.to_string()))
            .send()
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "{:?}",
            started.elapsed()
        );
    }
    proxy.set_latency(None);
    let started = std::time::Instant::now();
    client
        .get_item()
        .table_name(&table)
        .key("id", AttributeValue::S("0".into()))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "answered as soon as the emulator does: {:?}",
        started.elapsed()
    );
}
