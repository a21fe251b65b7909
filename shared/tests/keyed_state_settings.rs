//! The keyed-state core's settings as the functions read them from their environment.

use shared::config::Env;
use shared::keyed_state::Settings;

const REQUIRED: [(&str, &str); 3] = [
    ("STATES", "s"),
    ("APPLIED_EVENTS_TABLE", "a"),
    ("REJECTS_QUEUE_URL", "https://q/rejects"),
];

#[test]
fn settings_have_the_deployed_defaults_and_name_what_is_wrong() {
    let settings = Settings::from_env(&Env::from_pairs(&REQUIRED), "STATES").unwrap();
    assert_eq!(
        settings,
        Settings {
            state_table: "s".into(),
            applied_ids_table: "a".into(),
            rejects_queue_url: "https://q/rejects".into(),
            max_future_skew: time::Duration::minutes(5),
            state_cache_size: 10_000,
        }
    );
    let mut pairs = REQUIRED.to_vec();
    pairs.push(("STATE_CACHE_SIZE", "0"));
    let off = Settings::from_env(&Env::from_pairs(&pairs), "STATES").unwrap();
    assert_eq!(off.state_cache_size, 0, "0 turns the cache off");
    testkit::settings::assert_each_setting_is_named(
        |env| Settings::from_env(env, "STATES"),
        &REQUIRED,
        &[
            ("STATE_CACHE_SIZE", "lots"),
            ("STATE_CACHE_SIZE", "1000001"),
            ("MAX_FUTURE_SKEW_SECONDS", "-5"),
            ("REJECTS_QUEUE_URL", "https://q/rejects.fifo"),
        ],
    );
}
