//! Checkpoints: where each file was read up to, kept durable in the data
//! directory so a restart (even after `kill -9`) resumes without losing or
//! repeating lines.
//!
//! A file is known by device and inode *and* a fingerprint of its first bytes
//! (inodes are reused after deletion). The file is replaced atomically
//! (write to a temporary, fsync, rename, fsync the directory).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many leading bytes identify a file's content.
pub const FINGERPRINT_BYTES: u64 = 256;

/// A hash of a file's first bytes, and how many bytes it covers (fewer than
/// [`FINGERPRINT_BYTES`] while the file is that short).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    pub hash: u64,
}

impl Fingerprint {
    /// Hashes the first `upto` bytes (at most [`FINGERPRINT_BYTES`]) with
    /// positioned reads, leaving the file's cursor alone.
    pub fn of(file: &fs::File, upto: u64) -> io::Result<Fingerprint> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; FINGERPRINT_BYTES as usize];
        let want = upto.min(FINGERPRINT_BYTES) as usize;
        let mut got = 0;
        while got < want {
            match file.read_at(&mut buf[got..want], got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Fingerprint {
            len: got as u64,
            hash: fnv1a(&buf[..got]),
        })
    }

    /// The fingerprint of a file whose first bytes are `start` (at most
    /// [`FINGERPRINT_BYTES`] of them are used): for content read through a
    /// decompressor.
    pub fn of_bytes(start: &[u8]) -> Fingerprint {
        let start = &start[..start.len().min(FINGERPRINT_BYTES as usize)];
        Fingerprint {
            len: start.len() as u64,
            hash: fnv1a(start),
        }
    }

    /// Whether this fingerprint is complete (no need to recompute as the file grows).
    pub fn is_full(&self) -> bool {
        self.len >= FINGERPRINT_BYTES
    }
}

/// FNV-1a: stable across builds and versions, unlike std's hasher.
fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= c as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The recorded position in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub source: String,
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub fingerprint: Fingerprint,
    /// Bytes consumed as whole lines.
    pub offset: u64,
    /// Unix seconds when breachd stopped following the file (drained after
    /// rotation); kept for a while so a glob that also matches rotated files
    /// does not read them again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    /// Unix milliseconds when the glob scan this record comes from started. A
    /// file it did not know that was written to after it (a file that appeared
    /// and was rotated away between two checkpoints) may hold lines never read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_at: Option<i64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CheckpointFile {
    version: u32,
    files: Vec<Checkpoint>,
}

/// Closed files' checkpoints are forgotten after this long.
pub const CLOSED_RETENTION_SECS: i64 = 7 * 86_400;

/// The checkpoint file of a data directory.
#[derive(Debug)]
pub struct CheckpointStore {
    path: PathBuf,
}

impl CheckpointStore {
    /// Uses `data_dir/checkpoints.json`, creating the directory.
    pub fn open(data_dir: &Path) -> io::Result<CheckpointStore> {
        fs::create_dir_all(data_dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot create the data directory {}: {e}",
                    data_dir.display()
                ),
            )
        })?;
        Ok(CheckpointStore {
            path: data_dir.join("checkpoints.json"),
        })
    }

    /// All recorded checkpoints; none when the file does not exist yet.
    pub fn load(&self) -> io::Result<Vec<Checkpoint>> {
        match fs::read(&self.path) {
            Ok(bytes) => {
                let f: CheckpointFile = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} is damaged ({e}); move it away to start over (files are then read per read_from)",
                            self.path.display()
                        ),
                    )
                })?;
                Ok(f.files)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the recorded checkpoints atomically and durably.
    pub fn save(&self, files: &[Checkpoint]) -> io::Result<()> {
        let body = serde_json::to_vec(&CheckpointFile {
            version: 1,
            files: files.to_vec(),
        })?;
        let tmp = self.path.with_extension("json.tmp");
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_data()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(&dir.path().join("data")).unwrap();
        assert_eq!(store.load().unwrap(), vec![]);
        let cp = Checkpoint {
            source: "web".into(),
            path: "/var/log/x.log".into(),
            dev: 1,
            ino: 2,
            fingerprint: Fingerprint { len: 10, hash: 3 },
            offset: 4,
            closed_at: None,
            scanned_at: Some(5),
        };
        store.save(std::slice::from_ref(&cp)).unwrap();
        assert_eq!(store.load().unwrap(), vec![cp]);
    }

    #[test]
    fn a_damaged_file_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        fs::write(dir.path().join("checkpoints.json"), "{not json").unwrap();
        let e = store.load().unwrap_err().to_string();
        assert!(e.contains("move it away"), "{e}");
    }

    #[test]
    fn fingerprint_covers_at_most_the_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, vec![b'a'; 1000]).unwrap();
        let f = fs::File::open(&p).unwrap();
        let fp = Fingerprint::of(&f, 1000).unwrap();
        assert_eq!(fp.len, FINGERPRINT_BYTES);
        assert_eq!(Fingerprint::of(&f, 10).unwrap().len, 10);
        assert_ne!(Fingerprint::of(&f, 10).unwrap().hash, fp.hash);
        assert_eq!(Fingerprint::of_bytes(&[b'a'; 1000]), fp);
    }
}
