//! A Lambda function that misbehaves on request, for testing the local Runtime API: the event's
//! `action` says whether to answer, fail, hang or exit. `FIXTURE_FAIL_INIT` makes init fail.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if std::env::var_os("FIXTURE_FAIL_INIT").is_some() {
        return Err("init failed on purpose".into());
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        // A Kinesis event: a record whose data is "crash" fails the invocation; every record
        // whose data is "fail" is reported as a batch item failure; a batch with a record whose
        // data starts with "slow" takes 100 ms.
        if let Some(records) = event.payload["Records"]
            .as_array()
            .filter(|records| records.iter().all(|r| r["kinesis"].is_object()))
        {
            use base64::Engine;
            let data = |record: &Value| {
                base64::engine::general_purpose::STANDARD
                    .decode(record["kinesis"]["data"].as_str().unwrap_or_default())
                    .unwrap_or_default()
            };
            if records
                .iter()
                .any(|record| data(record).starts_with(b"slow"))
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            if records.iter().any(|record| data(record) == b"crash") {
                return Err(Error::from("crashed on purpose"));
            }
            let failures: Vec<Value> = records
                .iter()
                .filter(|record| data(record) == b"fail")
                .map(|record| json!({"itemIdentifier": record["kinesis"]["sequenceNumber"]}))
                .collect();
            return Ok(json!({"batchItemFailures": failures}));
        }
        // An SQS event: every message whose body is "fail" is reported as a batch item failure.
        if let Some(records) = event.payload["Records"].as_array() {
            let failures: Vec<Value> = records
                .iter()
                .filter(|record| record["body"] == "fail")
                .map(|record| json!({"itemIdentifier": record["messageId"]}))
                .collect();
            return Ok(json!({"batchItemFailures": failures}));
        }
        let action = event.payload["action"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match action.as_str() {
            "echo" => Ok(json!({
                "echo": event.payload,
                "pid": std::process::id(),
                "function": std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
                "configured": std::env::var("FIXTURE_SETTING").ok(),
                "inherited": std::env::var("HOME").ok(),
            })),
            "error" => Err(Error::from("failed on purpose")),
            "sleep" => {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                Ok(json!({}))
            }
            "exit" => std::process::exit(3),
            other => Err(Error::from(format!("unknown action {other:?}"))),
        }
    }))
    .await
}
