//! The `file` channel: each notification becomes one file in a folder,
//! written atomically (temporary file, fsync, rename, fsync of the folder),
//! named after its idempotency key so a resend finds it already there.
//! This is where drafts wait for a person.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::channel::{key_hash, SendError};
use super::Notification;

#[derive(Debug)]
pub(crate) struct FileDrop {
    dir: PathBuf,
}

impl FileDrop {
    pub(crate) fn new(dir: PathBuf) -> FileDrop {
        FileDrop { dir }
    }

    pub(crate) fn send(&self, channel: &str, n: &Notification) -> Result<String, SendError> {
        let path = self.dir.join(file_name(&n.key));
        if path.exists() {
            return Ok(format!("{} (already written)", path.display()));
        }
        write_atomically(&self.dir, &path, render(n).as_bytes()).map_err(|e| {
            let reason = format!("{}: {e}", path.display());
            match e.kind() {
                std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::NotFound
                | std::io::ErrorKind::NotADirectory
                | std::io::ErrorKind::ReadOnlyFilesystem => SendError::permanent(channel, reason),
                _ => SendError::transient(channel, reason),
            }
        })?;
        Ok(path.display().to_string())
    }
}

/// `KEY-HASH.txt`, the key made safe for a file name; the hash keeps two
/// keys that sanitize alike apart.
fn file_name(key: &str) -> String {
    let safe: String = key
        .chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}-{}.txt", safe.trim_start_matches('.'), key_hash(key))
}

fn render(n: &Notification) -> String {
    format!(
        "Idempotency-Key: {}\nIncident: {}\nTemplate: {} ({})\nStatus: {}\nNote: written by breachd for review; not legal advice.\nSubject: {}\n\n{}",
        n.key,
        n.incident_id,
        n.template,
        n.locale.tag(),
        n.status.as_str(),
        n.subject,
        n.body
    )
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("notification"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        let a = file_name("INC-1/gdpr supervisory/en");
        let b = file_name("INC-1/gdpr_supervisory/en");
        assert!(a.starts_with("INC-1_gdpr_supervisory_en-") && a.ends_with(".txt"));
        assert_ne!(a, b);
        assert!(!file_name("../../etc/passwd").contains('/'));
        assert!(!file_name("..").starts_with('.'));
    }
}
