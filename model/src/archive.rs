//! The activity archive as training and the backfill read it: every object under a folder or an
//! `s3://bucket/prefix`, each newline-delimited activity records as the activity stream holds
//! them (`.gz` objects gunzipped), grouped by user and sorted by event time.
//!
//! The archive is at least once (Firehose retries, producers resend): a record whose user and
//! event id were read already is a duplicate and left out, as feature-updates leaves out an
//! event id it applied. A line that is not an activity record is counted as malformed, with the
//! first one's reason kept, and left out: the router wrote every record, so one that does not
//! parse is damage, not data.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use shared::events::ActivityEvent;
use shared::features::item::epoch_ms;

use crate::history::UserEvent;

/// Where an archive is: a local folder or an S3 prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveLocation {
    Folder(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl FromStr for ArchiveLocation {
    type Err = ArchiveError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(ArchiveError::Location(format!(
                        "{text:?} names no bucket: write s3://<bucket>/<prefix>"
                    )));
                }
                Ok(ArchiveLocation::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                })
            }
            None if text.is_empty() => Err(ArchiveError::Location(
                "an empty archive location: give a folder or s3://<bucket>/<prefix>".into(),
            )),
            None => Ok(ArchiveLocation::Folder(PathBuf::from(text))),
        }
    }
}

impl fmt::Display for ArchiveLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveLocation::Folder(path) => write!(f, "{}", path.display()),
            ArchiveLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{0}")]
    Location(String),
    #[error("cannot read {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot list s3://{bucket}/{prefix}: {reason}")]
    List {
        bucket: String,
        prefix: String,
        reason: String,
    },
    #[error("cannot read s3://{bucket}/{key}: {reason}")]
    Get {
        bucket: String,
        key: String,
        reason: String,
    },
    #[error("{object} is not valid gzip: {source}")]
    Gzip {
        object: String,
        source: std::io::Error,
    },
    #[error("the archive {0} holds no objects")]
    Empty(String),
}

/// What was read, and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    pub objects: usize,
    pub records: usize,
    pub duplicates: usize,
    pub malformed: usize,
    /// The first malformed line's object, line number and reason.
    pub first_malformed: Option<String>,
    /// Event times of the oldest and newest event read (epoch ms).
    pub events_from: Option<i64>,
    pub events_to: Option<i64>,
}

/// The archive's events by user, each user's sorted by event time (ties in the order read).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Archive {
    pub users: BTreeMap<String, Vec<UserEvent>>,
    pub stats: ArchiveStats,
}

impl Archive {
    /// What was read, and left out, as the commands and the demo print it.
    pub fn summary(&self) -> String {
        let stats = &self.stats;
        format!(
            "{} objects, {} records ({} duplicates, {} malformed left out), {} users",
            stats.objects,
            stats.records,
            stats.duplicates,
            stats.malformed,
            self.users.len()
        )
    }
}

/// Reads objects one at a time into an [`Archive`].
#[derive(Debug, Default)]
pub struct ArchiveReader {
    seen: HashSet<(String, String)>,
    archive: Archive,
}

impl ArchiveReader {
    /// Adds the records of object `name` (gunzipped when its name ends in `.gz`).
    pub fn add_object(&mut self, name: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        let text = if name.ends_with(".gz") {
            let mut text = Vec::new();
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut text)
                .map_err(|source| ArchiveError::Gzip {
                    object: name.to_owned(),
                    source,
                })?;
            text
        } else {
            bytes.to_vec()
        };
        self.archive.stats.objects += 1;
        for (number, line) in text.split(|byte| *byte == b'\n').enumerate() {
            let line = line.trim_ascii();
            if !line.is_empty() {
                self.add_record(name, number + 1, line);
            }
        }
        Ok(())
    }

    fn add_record(&mut self, object: &str, line: usize, record: &[u8]) {
        let stats = &mut self.archive.stats;
        let event: ActivityEvent = match serde_json::from_slice(record) {
            Ok(event) => event,
            Err(error) => {
                stats.malformed += 1;
                stats
                    .first_malformed
                    .get_or_insert_with(|| format!("{object} line {line}: {error}"));
                return;
            }
        };
        stats.records += 1;
        if !self
            .seen
            .insert((event.user_id.clone(), event.event_id.clone()))
        {
            stats.duplicates += 1;
            return;
        }
        let at_ms = epoch_ms(event.timestamp);
        stats.events_from = Some(stats.events_from.map_or(at_ms, |t| t.min(at_ms)));
        stats.events_to = Some(stats.events_to.map_or(at_ms, |t| t.max(at_ms)));
        self.archive
            .users
            .entry(event.user_id)
            .or_default()
            .push(UserEvent {
                at_ms,
                activity_type: event.activity_type,
                amount: event.amount,
            });
    }

    pub fn finish(mut self) -> Archive {
        for events in self.archive.users.values_mut() {
            events.sort_by_key(|event| event.at_ms);
        }
        self.archive
    }
}

/// Reads every object of the archive at `location`, S3 with a client from the environment.
pub async fn read(location: &ArchiveLocation) -> Result<Archive, ArchiveError> {
    match location {
        ArchiveLocation::Folder(root) => read_folder(root),
        ArchiveLocation::S3 { bucket, prefix } => read_s3(&s3_client().await, bucket, prefix).await,
    }
}

/// Reads every file under `root`, in path order.
pub fn read_folder(root: &Path) -> Result<Archive, ArchiveError> {
    let mut reader = ArchiveReader::default();
    let mut files = Vec::new();
    list_files(root, &mut files)?;
    files.sort();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|source| ArchiveError::Folder {
            path: file.display().to_string(),
            source,
        })?;
        reader.add_object(&file.display().to_string(), &bytes)?;
    }
    finish(reader, &root.display().to_string())
}

/// Reads every object under `prefix` of `bucket`, in key order.
pub async fn read_s3(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Archive, ArchiveError> {
    let mut reader = ArchiveReader::default();
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| ArchiveError::List {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            reason: aws_sdk_s3::error::DisplayErrorContext(error).to_string(),
        })?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    for key in &keys {
        let get_error = |reason: String| ArchiveError::Get {
            bucket: bucket.to_owned(),
            key: key.clone(),
            reason,
        };
        let object = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| get_error(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| get_error(e.to_string()))?
            .into_bytes();
        reader.add_object(&format!("s3://{bucket}/{key}"), &bytes)?;
    }
    finish(reader, &format!("s3://{bucket}/{prefix}"))
}

fn finish(reader: ArchiveReader, location: &str) -> Result<Archive, ArchiveError> {
    let archive = reader.finish();
    if archive.stats.objects == 0 {
        return Err(ArchiveError::Empty(location.to_owned()));
    }
    Ok(archive)
}

/// An S3 client from the environment. Against a local endpoint (`AWS_ENDPOINT_URL` or
/// `AWS_ENDPOINT_URL_S3`) buckets are addressed by path: `bucket.localhost` does not resolve.
pub async fn s3_client() -> aws_sdk_s3::Client {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let local = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(local)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ArchiveError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ArchiveError::Folder {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| ArchiveError::Folder {
                path: dir.display().to_string(),
                source,
            })?
            .path();
        if path.is_dir() {
            list_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use shared::events::ActivityType;

    use super::*;

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn record(id: &str, user: &str, kind: &str, at: &str) -> String {
        format!(r#"{{"eventId":"{id}","userId":"{user}","type":"{kind}","timestamp":"{at}"}}"#)
    }

    #[test]
    fn records_are_deduplicated_by_user_and_event_id_and_sorted_by_event_time() {
        let mut reader = ArchiveReader::default();
        let first = [
            record("e2", "u1", "purchase", "2026-11-23T10:05:00Z"),
            record("e1", "u1", "add_to_cart", "2026-11-23T10:00:00Z"),
            "{not json".into(),
        ]
        .join("\n");
        reader
            .add_object("a/date=2026-11-23/one.gz", &gzip(&first))
            .unwrap();
        // The second object repeats e1 (a Firehose retry) and has e1 of another user.
        let second = [
            record("e1", "u1", "add_to_cart", "2026-11-23T10:00:00Z"),
            record("e1", "u2", "view", "2026-11-22T23:59:59Z"),
        ]
        .join("\r\n")
            + "\n";
        reader
            .add_object("a/date=2026-11-23/two", second.as_bytes())
            .unwrap();
        let archive = reader.finish();
        assert_eq!(archive.stats.objects, 2);
        assert_eq!(
            archive.stats.records, 4,
            "the malformed line is not a record"
        );
        assert_eq!(archive.stats.duplicates, 1);
        assert_eq!(archive.stats.malformed, 1);
        assert!(
            archive
                .stats
                .first_malformed
                .as_deref()
                .unwrap()
                .contains("one.gz line 3"),
            "{:?}",
            archive.stats.first_malformed
        );
        let u1: Vec<ActivityType> = archive.users["u1"]
            .iter()
            .map(|e| e.activity_type)
            .collect();
        assert_eq!(u1, [ActivityType::AddToCart, ActivityType::Purchase]);
        assert_eq!(archive.users["u2"].len(), 1);
        assert_eq!(
            archive.stats.events_from,
            Some(archive.users["u2"][0].at_ms)
        );
        assert_eq!(archive.stats.events_to, Some(archive.users["u1"][1].at_ms));
    }

    #[test]
    fn a_damaged_gzip_object_is_an_error_naming_it() {
        let mut bytes = gzip(&record("e1", "u1", "view", "2026-11-23T10:00:00Z"));
        bytes.truncate(bytes.len() / 2);
        let error = ArchiveReader::default()
            .add_object("x.gz", &bytes)
            .unwrap_err();
        assert!(
            error.to_string().contains("x.gz is not valid gzip"),
            "{error}"
        );
    }

    #[test]
    fn locations_are_folders_or_s3_prefixes() {
        assert_eq!(
            "s3://b/activity/".parse::<ArchiveLocation>().unwrap(),
            ArchiveLocation::S3 {
                bucket: "b".into(),
                prefix: "activity/".into()
            }
        );
        assert_eq!(
            "s3://b".parse::<ArchiveLocation>().unwrap().to_string(),
            "s3://b/"
        );
        assert!("s3:///x".parse::<ArchiveLocation>().is_err());
        assert!("".parse::<ArchiveLocation>().is_err());
        assert_eq!(
            "target/archive".parse::<ArchiveLocation>().unwrap(),
            ArchiveLocation::Folder("target/archive".into())
        );
    }

    #[tokio::test]
    async fn a_folder_is_read_recursively() {
        let root = std::env::temp_dir().join(format!("archive-{}", std::process::id()));
        let partition = root.join("activity/date=2026-11-23");
        std::fs::create_dir_all(&partition).unwrap();
        std::fs::write(
            partition.join("a.gz"),
            gzip(&record("e1", "u1", "view", "2026-11-23T10:00:00Z")),
        )
        .unwrap();
        let archive = read(&ArchiveLocation::Folder(root.clone())).await.unwrap();
        assert_eq!((archive.stats.objects, archive.users.len()), (1, 1));
        std::fs::remove_dir_all(&root).unwrap();
        let error = read(&ArchiveLocation::Folder(root)).await.unwrap_err();
        assert!(error.to_string().contains("cannot read"), "{error}");
    }
}
