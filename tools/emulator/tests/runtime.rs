//! The local Runtime API and process supervision, with a function that misbehaves on request
//! (`examples/misbehaving-function.rs`, built by `cargo test`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emulator::functions::{FunctionPool, FunctionSettings, InvokeError, StartError};
use emulator::logs::LogSink;
use serde_json::{Value, json};

fn fixture() -> PathBuf {
    // target/debug/deps/<this test> -> target/debug/examples/misbehaving-function
    let deps = std::env::current_exe().unwrap();
    let binary = deps
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples/misbehaving-function");
    assert!(
        binary.is_file(),
        "{} is missing: `cargo test -p local-stack` builds it",
        binary.display()
    );
    binary
}

fn settings(name: &str, timeout: Duration, environment: &[(&str, &str)]) -> FunctionSettings {
    FunctionSettings {
        key: name.into(),
        deployed_name: format!("test-{name}"),
        binary: fixture(),
        environment: environment
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        memory_mb: 128,
        timeout,
        log_format: "JSON",
        region: "us-east-1".into(),
        instances: 1,
    }
}

fn logs(name: &str) -> Arc<LogSink> {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.log"));
    LogSink::create(&path, false).unwrap()
}

async fn invoke(pool: &FunctionPool, event: Value) -> Result<Value, InvokeError> {
    let payload = pool
        .invoke(serde_json::to_vec(&event).unwrap().into())
        .await?;
    Ok(serde_json::from_slice(&payload).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_errors_timeouts_and_crashes_like_lambda() {
    let pool = FunctionPool::start(
        settings(
            "fixture",
            Duration::from_secs(1),
            &[("FIXTURE_SETTING", "configured")],
        ),
        logs("runtime-behaviour"),
    )
    .await
    .expect("the fixture starts");

    let answer = invoke(&pool, json!({"action": "echo", "n": 1}))
        .await
        .unwrap();
    assert_eq!(answer["echo"]["n"], 1);
    assert_eq!(answer["function"], "test-fixture");
    assert_eq!(answer["configured"], "configured");
    assert_eq!(
        answer["inherited"],
        Value::Null,
        "the process gets a clean environment"
    );
    let first_pid = answer["pid"].clone();

    match invoke(&pool, json!({"action": "error"})).await {
        Err(InvokeError::FunctionError { body, .. }) => {
            assert!(body.contains("failed on purpose"), "{body}")
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    let answer = invoke(&pool, json!({"action": "echo"})).await.unwrap();
    assert_eq!(
        answer["pid"], first_pid,
        "a handled error keeps the environment"
    );

    let started = Instant::now();
    assert_eq!(
        invoke(&pool, json!({"action": "sleep"})).await,
        Err(InvokeError::TimedOut(Duration::from_secs(1)))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let answer = invoke(&pool, json!({"action": "echo"})).await.unwrap();
    assert_ne!(
        answer["pid"], first_pid,
        "a timed-out environment is replaced"
    );
    let second_pid = answer["pid"].clone();

    match invoke(&pool, json!({"action": "exit"})).await {
        Err(InvokeError::Crashed(reason)) => assert!(reason.contains("exit"), "{reason}"),
        other => panic!("expected a crash, got {other:?}"),
    }
    let answer = invoke(&pool, json!({"action": "echo"})).await.unwrap();
    assert_ne!(
        answer["pid"], second_pid,
        "a crashed environment is replaced"
    );

    pool.stop().await;
    assert_eq!(
        pool.invoke(b"{}".to_vec().into()).await,
        Err(InvokeError::Stopped)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_spread_over_the_environments() {
    let mut settings = settings("pair", Duration::from_secs(5), &[]);
    settings.instances = 2;
    let pool = Arc::new(
        FunctionPool::start(settings, logs("runtime-pair"))
            .await
            .unwrap(),
    );
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..20 {
        let pool = Arc::clone(&pool);
        calls.spawn(async move { invoke(&pool, json!({"action": "echo", "n": n})).await });
    }
    let mut pids = std::collections::BTreeSet::new();
    let mut answered = std::collections::BTreeSet::new();
    while let Some(result) = calls.join_next().await {
        let answer = result.unwrap().unwrap();
        pids.insert(answer["pid"].to_string());
        answered.insert(answer["echo"]["n"].as_u64().unwrap());
    }
    assert_eq!(answered.len(), 20, "every invocation answered once");
    assert!(pids.len() <= 2);
    pool.stop().await;
}

#[tokio::test]
async fn an_init_failure_stops_the_start_with_the_reason() {
    let result = FunctionPool::start(
        settings(
            "broken",
            Duration::from_secs(1),
            &[("FIXTURE_FAIL_INIT", "1")],
        ),
        logs("runtime-init"),
    )
    .await;
    match result {
        Err(error @ StartError::InitFailed { .. }) => {
            // The process exits before its runtime loop starts, as a failed `main` does; the
            // message names the function, the exit and the process's own words.
            let message = error.to_string();
            assert!(message.starts_with("broken: init failed"), "{message}");
            assert!(message.contains("exit status: 1"), "{message}");
            assert!(message.contains("init failed on purpose"), "{message}");
        }
        Err(other) => panic!("expected an init failure, got {other}"),
        Ok(_) => panic!("expected an init failure, the pool started"),
    }

    let mut missing = settings("absent", Duration::from_secs(1), &[]);
    missing.binary = PathBuf::from("/nonexistent/absent");
    let error = FunctionPool::start(missing, logs("runtime-missing"))
        .await
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("cargo build -p absent"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_kills_each_busy_process_once_and_idle_ones_never() {
    let pool = Arc::new(
        FunctionPool::start(
            settings("crash", Duration::from_secs(20), &[]),
            logs("runtime-crash"),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        pool.crash_busy("nothing runs"),
        0,
        "an idle process is left alone"
    );
    let first_pid = invoke(&pool, json!({"action": "echo"})).await.unwrap()["pid"].clone();

    let sleeping = tokio::spawn({
        let pool = Arc::clone(&pool);
        async move { invoke(&pool, json!({"action": "sleep"})).await }
    });
    let started = Instant::now();
    let mut killed = 0;
    while killed == 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        killed = pool.crash_busy("killed on purpose");
    }
    assert_eq!(killed, 1);
    // Until it is gone, the process still holds its invocation; it is not killed twice.
    assert_eq!(pool.crash_busy("killed again"), 0);
    match sleeping.await.unwrap() {
        Err(InvokeError::Crashed(reason)) => {
            assert!(reason.contains("killed on purpose"), "{reason}")
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    let answer = invoke(&pool, json!({"action": "echo"})).await.unwrap();
    assert_ne!(answer["pid"], first_pid, "the killed process is replaced");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_places_every_invocation_on_one_environment_until_it_moves_or_goes() {
    let mut settings = settings("pinned", Duration::from_secs(5), &[]);
    settings.instances = 2;
    let pool = Arc::new(
        FunctionPool::start(settings, logs("runtime-pinned"))
            .await
            .unwrap(),
    );
    let pid_of = |answer: Value| answer["pid"].as_u64().unwrap();
    async fn one_by_one(pool: &FunctionPool, calls: usize) -> Vec<u64> {
        let mut pids = Vec::new();
        for n in 0..calls {
            let answer = invoke(pool, json!({"action": "echo", "n": n}))
                .await
                .unwrap();
            pids.push(answer["pid"].as_u64().unwrap());
        }
        pids
    }
    let distinct = |pids: &[u64]| pids.iter().collect::<std::collections::BTreeSet<_>>().len();

    // Unpinned, one invocation at a time: the environments take them in turn.
    let unpinned = one_by_one(&pool, 6).await;
    assert_eq!(distinct(&unpinned), 2, "{unpinned:?}");
    assert_eq!(pool.pinned(), None);

    pool.pin(Some(1));
    let first = one_by_one(&pool, 6).await;
    assert_eq!(distinct(&first), 1, "{first:?}");
    // Side by side too: the others wait for instance 1 rather than go elsewhere.
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..4 {
        let pool = Arc::clone(&pool);
        calls.spawn(async move { invoke(&pool, json!({"action": "echo", "n": n})).await });
    }
    while let Some(answer) = calls.join_next().await {
        assert_eq!(pid_of(answer.unwrap().unwrap()), first[0]);
    }

    pool.pin(Some(2));
    let second = one_by_one(&pool, 6).await;
    assert_eq!(distinct(&second), 1, "{second:?}");
    assert_ne!(second[0], first[0], "another environment");

    // A pinned environment that crashes is replaced, and its replacement takes over.
    match invoke(&pool, json!({"action": "exit"})).await {
        Err(InvokeError::Crashed(_)) => {}
        other => panic!("expected a crash, got {other:?}"),
    }
    let replaced = one_by_one(&pool, 3).await;
    assert_eq!(distinct(&replaced), 1, "{replaced:?}");
    assert!(![first[0], second[0]].contains(&replaced[0]));

    pool.pin(None);
    let again = one_by_one(&pool, 6).await;
    assert_eq!(distinct(&again), 2, "{again:?}");
    assert!(again.contains(&first[0]), "instance 1 kept its process");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_update_replaces_every_environment_without_failing_an_invocation() {
    let mut settings = settings(
        "updated",
        Duration::from_secs(5),
        &[("FIXTURE_SETTING", "old")],
    );
    settings.instances = 2;
    let pool = Arc::new(
        FunctionPool::start(settings, logs("runtime-updated"))
            .await
            .unwrap(),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (pool, stop) = (Arc::clone(&pool), Arc::clone(&stop));
        callers.spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = invoke(&pool, json!({"action": "echo"})).await;
                seen.push(answer.map(|a| (a["configured"].clone(), a["pid"].clone())));
            }
            seen
        });
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    pool.update_environment(&[("FIXTURE_SETTING".into(), "new".into())])
        .await
        .unwrap();
    // Every invocation from here on runs under the new configuration.
    let after = invoke(&pool, json!({"action": "echo"})).await.unwrap();
    assert_eq!(after["configured"], "new");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut old_pids = std::collections::BTreeSet::new();
    let mut new_pids = std::collections::BTreeSet::new();
    while let Some(seen) = callers.join_next().await {
        let seen = seen.unwrap();
        let values: Vec<Value> = seen
            .iter()
            .map(|answer| answer.as_ref().expect("no invocation fails").0.clone())
            .collect();
        let switched = values.iter().position(|v| v == "new").expect("switched");
        assert!(switched > 0, "some answers came from the old configuration");
        assert!(values[switched..].iter().all(|v| v == "new"), "{values:?}");
        for answer in seen.iter().flatten() {
            match answer.0.as_str() {
                Some("old") => old_pids.insert(answer.1.to_string()),
                _ => new_pids.insert(answer.1.to_string()),
            };
        }
    }
    assert!(
        old_pids.is_disjoint(&new_pids),
        "new processes serve the new configuration"
    );

    // A configuration the function refuses at init stops the update at the first environment;
    // the other keeps serving the configuration before it.
    let error = pool
        .update_environment(&[("FIXTURE_FAIL_INIT".into(), "1".into())])
        .await
        .unwrap_err();
    assert!(error.contains("did not finish init"), "{error}");
    let answer = invoke(&pool, json!({"action": "echo"})).await.unwrap();
    assert_eq!(answer["configured"], "new");
    pool.stop().await;
}
