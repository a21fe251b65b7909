//! One log for the whole stack: the emulator, every function instance and the gateway's access
//! log, each line stamped with its time and component, in one file (and on the terminal when
//! asked).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use time::macros::format_description;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::task::JoinHandle;

pub struct LogSink {
    file: Mutex<std::fs::File>,
    echo: bool,
    path: PathBuf,
}

impl LogSink {
    /// Starts a new log at `path` (its folder is created; an old log is replaced).
    pub fn create(path: &Path, echo: bool) -> std::io::Result<Arc<Self>> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::File::create(path)?;
        Ok(Arc::new(Self {
            file: Mutex::new(file),
            echo,
            path: path.to_owned(),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn line(&self, component: &str, text: &str) {
        let now = OffsetDateTime::now_utc()
            .format(format_description!(
                "[hour]:[minute]:[second].[subsecond digits:3]"
            ))
            .unwrap_or_default();
        let line = format!("{now} {component:<18} {text}\n");
        // A failed log write must not take the stack down; the terminal still shows progress.
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = file.write_all(line.as_bytes());
        if self.echo {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    /// Copies every line `reader` produces (a child's stdout or stderr) into the log.
    pub fn follow<R>(self: &Arc<Self>, component: String, reader: R) -> JoinHandle<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let sink = Arc::clone(self);
        tokio::spawn(async move {
            // Bytes, not lines of UTF-8: a child writing invalid UTF-8 must not stop the copy
            // (its pipe would fill and the child would block).
            let mut reader = BufReader::new(reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line);
                        sink.line(&component, text.trim_end_matches(['\n', '\r']));
                    }
                }
            }
        })
    }

    /// The last `count` lines of the log, for error messages.
    pub fn tail(&self, count: usize) -> String {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(count)..].join("\n")
    }
}
