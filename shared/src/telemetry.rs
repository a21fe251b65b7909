//! Logging through `tracing`, in the format and at the level Lambda's own log settings ask for.
//!
//! Lambda passes its "log format" and "application log level" settings to custom runtimes as
//! `AWS_LAMBDA_LOG_FORMAT` (`Text` | `JSON`) and `AWS_LAMBDA_LOG_LEVEL`
//! (`TRACE` … `FATAL`). `RUST_LOG` refines per module when set. The runtime opens a span per
//! invocation carrying `requestId`; every line logged inside it carries that span's fields,
//! so each line of an invocation names its request id.

use std::io;
use std::str::FromStr;

use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::config::{ProcessEnv, Source};

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// What Lambda's settings ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: LevelFilter,
    /// `RUST_LOG` directives, applied on top of `level`.
    pub directives: Option<String>,
}

impl LogSettings {
    /// Reads Lambda's settings; unknown values fall back to text at INFO rather than failing
    /// init, because logging must never be the reason a function does not start.
    pub fn from_source(source: &impl Source) -> Self {
        let get = |name: &str| source.var(name).and_then(Result::ok);
        let format = match get("AWS_LAMBDA_LOG_FORMAT") {
            Some(format) if format.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let level = get("AWS_LAMBDA_LOG_LEVEL")
            .and_then(|level| parse_level(&level))
            .unwrap_or(LevelFilter::INFO);
        let directives = get("RUST_LOG").filter(|d| !d.trim().is_empty());
        Self {
            format,
            level,
            directives,
        }
    }
}

/// Lambda's levels are TRACE, DEBUG, INFO, WARN, ERROR and FATAL; `tracing` has no FATAL.
fn parse_level(level: &str) -> Option<LevelFilter> {
    if level.eq_ignore_ascii_case("fatal") {
        return Some(LevelFilter::ERROR);
    }
    LevelFilter::from_str(level).ok()
}

/// Builds the subscriber for `settings`, writing to `writer`.
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = targets(settings);
    // CloudWatch stamps every line itself; a second timestamp only costs bytes.
    // The formatter's own level filter (INFO unless told) lets everything through; `filter`
    // decides.
    let builder = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
        .with_target(false)
        .without_time()
        .with_ansi(false);
    match settings.format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish()
                .with(filter),
        ),
        LogFormat::Text => Box::new(builder.finish().with(filter)),
    }
}

/// The level per target: Lambda's level, then each `RUST_LOG` directive (`level` or
/// `target=level`) on top. `Targets` rather than `EnvFilter`: the same directives without span
/// and field filters, and without the regex engine EnvFilter compiles into every function.
fn targets(settings: &LogSettings) -> Targets {
    let mut filter = Targets::new().with_default(settings.level);
    // One directive at a time, so one that does not parse is skipped instead of all of them.
    for directive in settings.directives.iter().flat_map(|d| d.split(',')) {
        if let Ok(parsed) = directive.trim().parse::<Targets>() {
            if let Some(level) = parsed.default_level() {
                filter = filter.with_default(level);
            }
            filter = filter.with_targets(parsed.iter());
        }
    }
    filter
}

/// Installs the process-wide subscriber from Lambda's settings, writing to stdout.
/// Call once, first thing in `main`.
pub fn init() {
    let settings = LogSettings::from_source(&ProcessEnv);
    // A second init (tests, local tools) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber(&settings, io::stdout));
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    fn settings(pairs: &[(&str, &str)]) -> LogSettings {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogSettings::from_source(&env)
    }

    /// Logs like an invocation: inside the runtime's span, which carries `requestId`.
    fn log_invocation(settings: &LogSettings) -> Vec<String> {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = subscriber(settings, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-123");
            let _entered = span.enter();
            tracing::debug!("debug detail");
            tracing::info!(task_id = "t1", "created task");
            tracing::warn!("slow dependency");
        });
        out.lines()
    }

    #[test]
    fn reads_lambda_settings() {
        let s = settings(&[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
        ]);
        assert_eq!(s.format, LogFormat::Json);
        assert_eq!(s.level, LevelFilter::DEBUG);
        let s = settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]);
        assert_eq!((s.format, s.level), (LogFormat::Text, LevelFilter::ERROR));
        let s = settings(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")]);
        assert_eq!(s.level, LevelFilter::INFO);
    }

    #[test]
    fn json_lines_carry_the_request_id_and_respect_the_level() {
        let lines = log_invocation(&settings(&[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ]));
        assert_eq!(lines.len(), 2, "debug is filtered out at INFO: {lines:?}");
        for line in &lines {
            let json: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            assert_eq!(json["span"]["requestId"], "req-123", "{line}");
        }
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "created task");
        assert_eq!(first["task_id"], "t1");
    }

    #[test]
    fn text_lines_carry_the_request_id() {
        let lines = log_invocation(&settings(&[("AWS_LAMBDA_LOG_LEVEL", "debug")]));
        assert_eq!(lines.len(), 3, "{lines:?}");
        for line in &lines {
            assert!(line.contains("requestId=\"req-123\""), "{line}");
        }
    }

    #[test]
    fn rust_log_refines_per_module() {
        let s = settings(&[("AWS_LAMBDA_LOG_LEVEL", "INFO"), ("RUST_LOG", "warn")]);
        let lines = log_invocation(&s);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("slow dependency"));
    }

    #[test]
    fn rust_log_sets_levels_per_target_and_skips_what_does_not_parse() {
        // The test's events have this module's path as their target.
        let quieter = settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "shared::telemetry=warn"),
        ]);
        assert_eq!(log_invocation(&quieter).len(), 1);
        let louder = settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
            (
                "RUST_LOG",
                "not a directive=,shared::telemetry=debug, other_crate=error",
            ),
        ]);
        assert_eq!(log_invocation(&louder).len(), 3);
        let elsewhere = settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
            ("RUST_LOG", "other_crate=trace"),
        ]);
        assert_eq!(log_invocation(&elsewhere).len(), 2);
    }
}
