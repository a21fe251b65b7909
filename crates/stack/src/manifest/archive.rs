//! The manifest's `archives` section: every record of a stream also written to S3 by Amazon
//! Data Firehose (the stream as its source), GZIP-compressed, partitioned by event date, for
//! training jobs and anything else that reads files.
//!
//! All archives share one bucket, [`archive_bucket_name`]; each writes under its own `prefix`.
//! The object layout is defined here once ([`ArchiveSpec::object_prefix`],
//! [`ArchiveSpec::firehose_prefix`], [`ArchiveSpec::error_output_prefix`]): the SAM render uses
//! these functions, and the Terraform module builds the same strings (the deploy test reads them
//! back).
//!
//! ```text
//! s3://<bucket>/activity/date=2026-11-23/<firehose object name>.gz        newline-delimited records
//! s3://<bucket>/activity-errors/<error type>/date=2026-11-23/<object>.gz  records Firehose could not partition or deliver
//! ```

use serde::Deserialize;

use super::{Stack, StackError, check_resource_key};

/// The archive bucket's key: deployed as [`archive_bucket_name`].
pub const ARCHIVE_BUCKET_KEY: &str = "archive";

/// The dynamic partitioning key: the name the metadata extraction query gives the event date,
/// and the `date=` of the object layout.
pub const ARCHIVE_PARTITION_KEY: &str = "date";

/// Days S3 keeps an object version after it stops being current (overwritten, or expired by the
/// lifecycle rule), so an accidental delete or overwrite can be undone for a month.
pub const ARCHIVE_NONCURRENT_VERSION_DAYS: u32 = 30;

/// Days after which S3 aborts a multipart upload that never completed (Firehose writes objects
/// in parts); the parts are billed until then.
pub const ARCHIVE_ABORT_INCOMPLETE_UPLOAD_DAYS: u32 = 7;

/// Seconds Firehose retries delivering a partition's object before it writes the records under
/// the error prefix instead (`DynamicPartitioningConfiguration.RetryOptions`).
pub const ARCHIVE_RETRY_SECONDS: u32 = 300;

/// Days the delivery stream's error log group keeps its events, as long as the functions' logs.
pub const ARCHIVE_LOG_RETENTION_DAYS: u32 = 30;

/// The log stream Firehose writes S3 delivery errors to, inside the archive's log group.
pub const ARCHIVE_LOG_STREAM: &str = "DestinationDelivery";

/// Firehose's buffer interval range with dynamic partitioning: the API takes 0..=900 s, but
/// zero buffering (an interval under 60 s) is not available with dynamic partitioning.
const BUFFER_INTERVAL_SECONDS: std::ops::RangeInclusive<u32> = 60..=900;

/// Firehose's buffer size range with dynamic partitioning: the API takes 1..=128 MiB, and
/// dynamic partitioning needs at least 64 MiB.
const BUFFER_SIZE_MIB: std::ops::RangeInclusive<u32> = 64..=128;

/// S3 refuses a lifecycle transition to STANDARD_IA before an object is 30 days old.
const STANDARD_IA_MINIMUM_DAYS: u32 = 30;

/// The deployed name of the archive bucket of the stack named `prefix`:
/// `<prefix>-archive-<account id>`, since bucket names are global across accounts (the SAM
/// stack name or Terraform's `name_prefix`, and the account deployed to). `None` for the local
/// stack, which has one account and no one to collide with: `local-archive`.
///
/// S3 bucket names are 3-63 lowercase letters, digits, hyphens and dots: with an account id,
/// the prefix must be lowercase and at most 42 characters.
pub fn archive_bucket_name(prefix: &str, account_id: Option<&str>) -> String {
    match account_id {
        Some(account) => format!("{prefix}-{ARCHIVE_BUCKET_KEY}-{account}"),
        None => format!("{prefix}-{ARCHIVE_BUCKET_KEY}"),
    }
}

/// One archive: every record of `stream`, delivered by Firehose to the archive bucket under
/// `prefix`, partitioned by the date in `partition_date_field`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveSpec {
    /// The manifest stream whose every record is archived.
    pub stream: String,
    /// Where in the bucket: records under `<prefix>/date=<date>/`, failed ones under
    /// `<prefix>-errors/`. No leading or trailing `/`.
    pub prefix: String,
    /// The record field holding the event time, RFC 3339 in UTC: its first 10 characters
    /// (`YYYY-MM-DD`) are the date partition.
    pub partition_date_field: String,
    /// Firehose writes a partition's object once it has buffered this long ...
    pub buffer_interval_seconds: u32,
    /// ... or this much, whichever comes first (before compression).
    pub buffer_size_mib: u32,
    /// Objects move to S3 Standard-IA at this age.
    pub infrequent_access_after_days: u32,
    /// Objects expire (become noncurrent versions, deleted
    /// [`ARCHIVE_NONCURRENT_VERSION_DAYS`] later) at this age.
    pub expire_after_days: u32,
}

impl ArchiveSpec {
    /// The key prefix of every object of one date, followed by the date (`YYYY-MM-DD`):
    /// `activity/date=`. A reader lists `<object_prefix>2026-11-23/`.
    pub fn object_prefix(&self) -> String {
        format!("{}/{ARCHIVE_PARTITION_KEY}=", self.prefix)
    }

    /// Firehose's `Prefix`: the object prefix with the date from the metadata extraction query,
    /// `activity/date=!{partitionKeyFromQuery:date}/`.
    pub fn firehose_prefix(&self) -> String {
        format!(
            "{}!{{partitionKeyFromQuery:{ARCHIVE_PARTITION_KEY}}}/",
            self.object_prefix()
        )
    }

    /// Where records go that Firehose could not partition (no date in them) or deliver:
    /// `activity-errors/`.
    pub fn errors_prefix(&self) -> String {
        format!("{}-errors/", self.prefix)
    }

    /// Firehose's `ErrorOutputPrefix`: by error type, then by the day Firehose gave up (the
    /// record's own date may be what is missing):
    /// `activity-errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/`.
    pub fn error_output_prefix(&self) -> String {
        format!(
            "{}!{{firehose:error-output-type}}/{ARCHIVE_PARTITION_KEY}=!{{timestamp:yyyy-MM-dd}}/",
            self.errors_prefix()
        )
    }

    /// The two key prefixes Firehose writes under, records and errors: `activity/` and
    /// `activity-errors/` (what its role may write to).
    pub fn written_prefixes(&self) -> [String; 2] {
        [format!("{}/", self.prefix), self.errors_prefix()]
    }

    /// The key prefix the lifecycle rule filters on: the records' and the errors' objects both
    /// start with it, and no other archive's do (checked).
    pub fn lifecycle_prefix(&self) -> &str {
        &self.prefix
    }

    /// The metadata extraction query (JQ 1.6) that gives each record its date partition:
    /// `{date: .timestamp[0:10]}`.
    pub fn partition_query(&self) -> String {
        format!(
            "{{{ARCHIVE_PARTITION_KEY}: .{}[0:10]}}",
            self.partition_date_field
        )
    }

    /// Where the archive's records are, for readers: `s3://<bucket>/activity/`.
    pub fn uri(&self, bucket: &str) -> String {
        format!("s3://{bucket}/{}/", self.prefix)
    }
}

impl Stack {
    pub(super) fn check_archives(&self) -> Result<(), StackError> {
        let invalid = |message: String| Err(StackError::Invalid(message));
        for (key, archive) in &self.archives {
            check_resource_key(key)?;
            if !self.streams.contains_key(&archive.stream) {
                return invalid(format!(
                    "archive {key}: stream {} is not defined",
                    archive.stream
                ));
            }
            if !BUFFER_INTERVAL_SECONDS.contains(&archive.buffer_interval_seconds) {
                return invalid(format!(
                    "archive {key}: buffer_interval_seconds {} is outside 60..=900: Firehose takes 0..=900, and zero buffering (under 60 s) is not available with dynamic partitioning",
                    archive.buffer_interval_seconds
                ));
            }
            if !BUFFER_SIZE_MIB.contains(&archive.buffer_size_mib) {
                return invalid(format!(
                    "archive {key}: buffer_size_mib {} is outside 64..=128: Firehose takes 1..=128 MiB, and at least 64 MiB with dynamic partitioning",
                    archive.buffer_size_mib
                ));
            }
            check_prefix(key, &archive.prefix)?;
            if !is_jq_identifier(&archive.partition_date_field) {
                return invalid(format!(
                    "archive {key}: partition_date_field {:?} is not a plain field name (letters, digits, _; not starting with a digit), which the query .<field>[0:10] needs",
                    archive.partition_date_field
                ));
            }
            if archive.infrequent_access_after_days < STANDARD_IA_MINIMUM_DAYS {
                return invalid(format!(
                    "archive {key}: infrequent_access_after_days {} is under 30: S3 refuses a transition to STANDARD_IA before 30 days",
                    archive.infrequent_access_after_days
                ));
            }
            if archive.expire_after_days <= archive.infrequent_access_after_days {
                return invalid(format!(
                    "archive {key}: expire_after_days {} must be greater than infrequent_access_after_days {}: S3 expires an object only after its transitions",
                    archive.expire_after_days, archive.infrequent_access_after_days
                ));
            }
        }
        // Each archive's lifecycle rule filters on its prefix, so no archive's objects may
        // start with another's prefix.
        for (key, archive) in &self.archives {
            if let Some((other, _)) = self.archives.iter().find(|(other, spec)| {
                *other != key && spec.prefix.starts_with(archive.lifecycle_prefix())
            }) {
                return invalid(format!(
                    "archives {key} and {other}: the prefix {:?} of {key} begins the prefix of {other}; each archive's lifecycle rule filters on its prefix, so none may begin another's",
                    archive.prefix
                ));
            }
        }
        Ok(())
    }
}

/// Segments of letters, digits, `-`, `_` and `.`, joined by single `/`: no leading, trailing or
/// doubled `/`, and nothing Firehose would read as an expression (`!{...}`).
fn check_prefix(key: &str, prefix: &str) -> Result<(), StackError> {
    let segment = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if prefix.split('/').all(segment) {
        Ok(())
    } else {
        Err(StackError::Invalid(format!(
            "archive {key}: prefix {prefix:?} must be non-empty, without a leading, trailing or doubled /, of letters, digits, -, _ and ."
        )))
    }
}

fn is_jq_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::manifest::tests::{manifest_with, refused};

    fn set(field: &'static str, value: serde_json::Value) -> impl FnOnce(&mut serde_json::Value) {
        move |m| m["archives"]["activity"][field] = value
    }

    #[test]
    fn the_activity_archive_has_its_object_layout() {
        let stack = Stack::workspace();
        let archive = &stack.archives["activity"];
        assert_eq!(archive.stream, "activity");
        assert_eq!(archive.object_prefix(), "activity/date=");
        assert_eq!(
            archive.firehose_prefix(),
            "activity/date=!{partitionKeyFromQuery:date}/"
        );
        assert_eq!(archive.errors_prefix(), "activity-errors/");
        assert_eq!(
            archive.written_prefixes(),
            ["activity/".to_owned(), "activity-errors/".to_owned()]
        );
        assert_eq!(
            archive.error_output_prefix(),
            "activity-errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/"
        );
        assert_eq!(archive.partition_query(), "{date: .timestamp[0:10]}");
        assert_eq!(
            archive.uri("prod-archive-123456789012"),
            "s3://prod-archive-123456789012/activity/"
        );
        // The layout follows the manifest's prefix and field.
        let other = ArchiveSpec {
            prefix: "raw/events".into(),
            partition_date_field: "eventTime".into(),
            ..archive.clone()
        };
        assert_eq!(
            other.firehose_prefix(),
            "raw/events/date=!{partitionKeyFromQuery:date}/"
        );
        assert_eq!(other.partition_query(), "{date: .eventTime[0:10]}");
    }

    #[test]
    fn the_bucket_name_carries_the_prefix_and_the_account() {
        assert_eq!(
            archive_bucket_name("prod", Some("123456789012")),
            "prod-archive-123456789012"
        );
        assert_eq!(archive_bucket_name("local", None), "local-archive");
    }

    #[test]
    fn the_archived_stream_must_exist() {
        let message = refused(set("stream", "clicks".into()));
        assert!(
            message.contains("archive activity: stream clicks is not defined"),
            "{message}"
        );
    }

    #[test]
    fn buffering_stays_inside_what_firehose_takes_with_dynamic_partitioning() {
        let message = refused(set("buffer_interval_seconds", 0.into()));
        assert!(
            message.contains("buffer_interval_seconds 0 is outside 60..=900"),
            "{message}"
        );
        let message = refused(set("buffer_interval_seconds", 901.into()));
        assert!(
            message.contains("buffer_interval_seconds 901 is outside 60..=900"),
            "{message}"
        );
        let message = refused(set("buffer_size_mib", 5.into()));
        assert!(
            message.contains("buffer_size_mib 5 is outside 64..=128"),
            "{message}"
        );
        let message = refused(set("buffer_size_mib", 129.into()));
        assert!(
            message.contains("buffer_size_mib 129 is outside 64..=128"),
            "{message}"
        );
        for (interval, size) in [(60, 64), (900, 128)] {
            manifest_with(|m| {
                m["archives"]["activity"]["buffer_interval_seconds"] = interval.into();
                m["archives"]["activity"]["buffer_size_mib"] = size.into();
            })
            .expect("the limits themselves");
        }
    }

    #[test]
    fn the_prefix_is_a_plain_key_prefix() {
        for prefix in [
            "",
            "/activity",
            "activity/",
            "raw//activity",
            "a!{x}",
            "a b",
        ] {
            let message = refused(set("prefix", prefix.into()));
            assert!(
                message.contains(&format!("archive activity: prefix {prefix:?} must be")),
                "{prefix}: {message}"
            );
        }
        manifest_with(set("prefix", "raw/activity.v2".into())).expect("segments joined by /");
    }

    #[test]
    fn the_date_field_is_a_plain_field_name() {
        for field in ["", "event time", "1st", ".timestamp", "a.b"] {
            let message = refused(set("partition_date_field", field.into()));
            assert!(
                message.contains("is not a plain field name"),
                "{field}: {message}"
            );
        }
    }

    #[test]
    fn lifecycle_days_are_what_s3_accepts() {
        let message = refused(set("infrequent_access_after_days", 29.into()));
        assert!(
            message.contains("infrequent_access_after_days 29 is under 30"),
            "{message}"
        );
        let message = refused(set("expire_after_days", 30.into()));
        assert!(
            message.contains(
                "expire_after_days 30 must be greater than infrequent_access_after_days 30"
            ),
            "{message}"
        );
        manifest_with(set("expire_after_days", 31.into())).expect("a day after the transition");
    }

    #[test]
    fn one_archive_prefix_may_not_begin_another() {
        let message = refused(|m| {
            let mut second = m["archives"]["activity"].clone();
            second["prefix"] = "activity-v2".into();
            m["archives"]["activity-v2"] = second;
        });
        assert!(
            message.contains("archives activity and activity-v2: the prefix \"activity\" of activity begins the prefix of activity-v2"),
            "{message}"
        );
        manifest_with(|m| {
            let mut second = m["archives"]["activity"].clone();
            second["prefix"] = "enriched".into();
            second["stream"] = "enriched".into();
            m["archives"]["enriched"] = second;
        })
        .expect("two archives with their own prefixes");
    }

    #[test]
    fn archive_keys_fields_and_reasons_are_checked() {
        let message = refused(|m| m["archives"]["Activity"] = m["archives"]["activity"].clone());
        assert!(message.contains("resource key \"Activity\""), "{message}");
        let message = refused(set("compression", "ZIP".into()));
        assert!(message.contains("unknown field `compression`"), "{message}");
        let message = refused(|m| {
            m["reasons"]["archives.activity.buffer_hints"] = "why".into();
        });
        assert!(
            message.contains("the manifest has no setting archives.activity.buffer_hints"),
            "{message}"
        );
    }
}
