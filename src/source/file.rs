//! Tailing files matched by globs, through rotation, truncation and restarts.
//!
//! Each cycle rescans the globs and reads every followed file to its end:
//! - a file that appears later is read from its beginning;
//! - rename rotation (logrotate `create`): the old file is followed by its
//!   open descriptor until it has been quiet for `rotate_wait`, the new one is
//!   read from the beginning;
//! - `copytruncate` and in-place rewrites: a file shorter than our offset, or
//!   whose first bytes changed, is read again from the beginning;
//! - delete and recreate: like rotation;
//! - a last line without its newline is held back until it is completed.
//!
//! A file that appeared and was rotated away between two checkpoints is in no
//! checkpoint, and one that breachd never saw (created and rotated within one
//! cycle, or while breachd was down) is matched by no glob. So whenever a
//! rotation is noticed, and on every restart, the directory is searched for
//! files named like a followed file (`app.log.1`, `app.log-20260310`) that
//! breachd does not know and that were written to after the scan before
//! (for a restart: the last checkpointed scan). A copy whose first bytes are
//! those of a file that was truncated (copytruncate) is read from the offset
//! the truncated file had reached; a copy of a file still followed is
//! skipped; any other such file is read from its beginning.
//!
//! Compression (logrotate `compress`): while breachd runs it drains a rotated
//! file through its open descriptor, so compressing it loses nothing. A file
//! checkpointed before a restart and gzipped while breachd was down is found
//! as `NAME*.gz` by its decompressed first bytes and read from its offset.
//! Other compressed files (`.bz2`, `.xz`, ..., or a `.gz` no checkpoint
//! knows) are not read: with `compress`, use `delaycompress`.
//!
//! `read_from = end` applies only on a first start (no checkpoints yet for the
//! source); after that every file breachd has not seen is new and is read
//! from its beginning, so nothing written while breachd was down is skipped.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;

use crate::config::{ReadFrom, Source};
use crate::parse::LocalTime;
use crate::pipeline::{Decoder, EventSink, Stats};
use crate::source::checkpoint::{Checkpoint, Fingerprint, CLOSED_RETENTION_SECS};
use crate::source::framer::Framer;

/// Bytes read from one file per cycle before moving to the next file, so one
/// huge backlog does not starve the others or delay checkpoints.
const READ_BUDGET: u64 = 32 << 20;

/// A file written to this long before the previous scan still counts as
/// written after it: modification times are coarse, and a file read twice
/// costs duplicates while a file skipped costs lines.
const MTIME_SLACK_MS: i64 = 2_000;

/// Rotated files breachd does not decompress.
const COMPRESSED: [&str; 7] = ["gz", "bz2", "xz", "zst", "lz4", "Z", "zip"];

/// A file whose content was replaced under us (copytruncate, or rewritten
/// while breachd was down): a copy that starts with its old first bytes holds
/// the lines after `offset`.
#[derive(Debug, Clone)]
struct Rewritten {
    path: PathBuf,
    fingerprint: Fingerprint,
    offset: u64,
}

/// One followed file.
#[derive(Debug)]
struct Followed {
    path: PathBuf,
    dev: u64,
    ino: u64,
    file: File,
    framer: Framer,
    decoder: Decoder,
    fingerprint: Fingerprint,
    /// Size at the last look, to notice change.
    size: u64,
    /// Set when no glob path leads to this file any more (rotated or deleted).
    orphaned: Option<Instant>,
    last_growth: Instant,
    seen: bool,
}

impl Followed {
    /// Where this file stands: the offset of the last whole line handed on.
    fn checkpoint(&self, source: &str, closed_at: Option<i64>) -> Checkpoint {
        Checkpoint {
            source: source.to_string(),
            path: self.path.clone(),
            dev: self.dev,
            ino: self.ino,
            fingerprint: self.fingerprint,
            offset: self.framer.consumed(),
            closed_at,
            scanned_at: None, // stamped by `FileSource::checkpoints`
        }
    }
}

/// All files of one `[[source]]`.
#[derive(Debug)]
pub struct FileSource {
    cfg: Source,
    index: u32,
    max_line: usize,
    followed: Vec<Followed>,
    /// Checkpoints from the last run not yet matched to a file.
    unmatched: Vec<Checkpoint>,
    /// Files drained and closed, remembered so a glob that matches rotated
    /// files does not read them twice.
    closed: Vec<Checkpoint>,
    /// No checkpoint existed for this source at start: `read_from` applies.
    first_start: bool,
    scanned_once: bool,
    /// Stats of files already closed.
    closed_stats: Stats,
    /// Unix milliseconds when the latest scan started; before the first scan
    /// of this run, the last checkpointed scan of the previous run.
    last_scan: Option<i64>,
    /// A rotation was noticed: look for rotated files breachd does not know.
    rotated: bool,
    /// Truncated or rewritten files whose copy may still be found.
    rewritten: Vec<Rewritten>,
    /// Checkpointed files gzipped while breachd was down, to read from their
    /// checkpoint on (kept in the checkpoints until read).
    compressed: Vec<(PathBuf, Checkpoint)>,
}

impl FileSource {
    /// `checkpoints` are this source's records from the last run.
    pub fn new(
        cfg: Source,
        index: u32,
        max_line: usize,
        checkpoints: Vec<Checkpoint>,
    ) -> FileSource {
        let now = unix_now();
        let last_scan = checkpoints.iter().filter_map(|c| c.scanned_at).max();
        let (closed, unmatched): (Vec<_>, Vec<_>) = checkpoints
            .into_iter()
            .filter(|c| c.closed_at.is_none_or(|t| now - t < CLOSED_RETENTION_SECS))
            .partition(|c| c.closed_at.is_some());
        FileSource {
            first_start: closed.is_empty() && unmatched.is_empty(),
            cfg,
            index,
            max_line,
            followed: Vec::new(),
            unmatched,
            closed,
            scanned_once: false,
            closed_stats: Stats::default(),
            last_scan,
            rotated: false,
            rewritten: Vec::new(),
            compressed: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The directories to watch for changes.
    pub fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.cfg.patterns.iter().map(|p| static_dir(p)).collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Lines counted so far, over open and closed files.
    pub fn stats(&self) -> Stats {
        let mut s = self.closed_stats.clone();
        for f in &self.followed {
            s.add(&f.decoder.stats);
        }
        s
    }

    /// Where every file stands, for the checkpoint store.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        let mut out: Vec<Checkpoint> = self
            .followed
            .iter()
            .map(|f| f.checkpoint(&self.cfg.name, None))
            .collect();
        out.extend(self.closed.iter().cloned());
        // Not found yet this run (e.g. a directory not mounted): keep them.
        out.extend(self.unmatched.iter().cloned());
        out.extend(self.compressed.iter().map(|(_, c)| c.clone()));
        for c in &mut out {
            c.scanned_at = self.last_scan;
        }
        out
    }

    /// One cycle: rescan, read everything new, close drained rotated files.
    /// Returns the number of bytes consumed.
    pub fn poll(&mut self, sink: &mut dyn EventSink) -> io::Result<u64> {
        let previous_scan = self.last_scan;
        self.scan();
        let mut consumed = 0;
        // older than anything in the files still there: read first
        for (path, cp) in std::mem::take(&mut self.compressed) {
            match self.read_compressed(&path, cp.offset, sink) {
                Ok(n) => consumed += n,
                Err(e) => {
                    tracing::warn!(source = %self.cfg.name, path = %path.display(), error = %e, "cannot read a compressed rotated file; will retry after a restart");
                    self.unmatched.push(cp);
                }
            }
        }
        let mut read = 0;
        loop {
            let upto = self.followed.len();
            for f in &mut self.followed[read..upto] {
                let (n, rewritten) = read_available(f, sink)?;
                consumed += n;
                if let Some(r) = rewritten {
                    self.rewritten.push(r);
                    self.rotated = true;
                }
            }
            read = upto;
            // After the reads, which notice truncations: a copy is then
            // read from where its original was left. Files found are read
            // in this cycle too.
            if !std::mem::take(&mut self.rotated) {
                break;
            }
            if let Some(since) = previous_scan {
                self.discover(since);
            }
        }
        // a copy not found by now was compressed or never made
        self.rewritten.clear();
        let rotate_wait = self.cfg.rotate_wait;
        let mut i = 0;
        while i < self.followed.len() {
            let f = &self.followed[i];
            let drained = f.framer.pending() == 0 || f.last_growth.elapsed() >= rotate_wait;
            let done = f.orphaned.is_some_and(|t| {
                t.elapsed() >= rotate_wait && f.last_growth.elapsed() >= rotate_wait && drained
            });
            if done {
                let mut f = self.followed.swap_remove(i);
                if let Some(crate::source::framer::Frame::Line(raw, _)) = f.framer.take_rest() {
                    f.decoder.truncated(raw);
                }
                tracing::info!(source = %self.cfg.name, path = %f.path.display(), lines = f.decoder.stats.lines, "finished a rotated or deleted file");
                self.closed_stats.add(&f.decoder.stats);
                self.closed
                    .push(f.checkpoint(&self.cfg.name, Some(unix_now())));
                continue;
            }
            i += 1;
        }
        Ok(consumed)
    }

    /// Matches glob paths to followed files by identity and opens new ones.
    fn scan(&mut self) {
        let started = unix_ms();
        for f in &mut self.followed {
            f.seen = false;
        }
        let mut found = Vec::new();
        for pattern in &self.cfg.patterns {
            match glob::glob(pattern) {
                Ok(paths) => {
                    for path in paths.flatten() {
                        if let Ok(meta) = fs::metadata(&path) {
                            if meta.is_file() {
                                found.push((path, meta));
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(source = %self.cfg.name, pattern, error = %e, "bad glob"),
            }
        }
        for (path, meta) in found {
            let (dev, ino) = (meta.dev(), meta.ino());
            if let Some(f) = self
                .followed
                .iter_mut()
                .find(|f| f.dev == dev && f.ino == ino)
            {
                if f.path != path {
                    f.path = path;
                }
                f.seen = true;
                f.orphaned = None;
                continue;
            }
            match self.open(&path, &meta) {
                // a new file is what a rotation creates; the one before it
                // may have come and gone with no followed file orphaned
                Ok(()) => self.rotated = true,
                Err(e) => {
                    tracing::warn!(source = %self.cfg.name, path = %path.display(), error = %e, "cannot open a log file; will retry")
                }
            }
        }
        if !self.scanned_once {
            self.scanned_once = true;
            if self.followed.is_empty() {
                tracing::info!(source = %self.cfg.name, patterns = ?self.cfg.patterns, "no file matches yet; waiting for one");
            }
            self.recover_renamed();
            // What the last run did not know may have been rotated away.
            self.rotated = true;
        }
        let now = Instant::now();
        for f in &mut self.followed {
            if !f.seen && f.orphaned.is_none() {
                tracing::debug!(source = %self.cfg.name, path = %f.path.display(), "file rotated away or deleted; draining it");
                f.orphaned = Some(now);
                self.rotated = true;
            }
        }
        self.last_scan = Some(started);
    }

    /// Follows files named like a known one (its name and a suffix), in its
    /// directory, that breachd does not know and that were written to since
    /// `since_ms`: rotated away before breachd read or recorded them.
    fn discover(&mut self, since_ms: i64) {
        let mut named: Vec<&Path> = self.followed.iter().map(|f| f.path.as_path()).collect();
        named.extend(self.closed.iter().map(|c| c.path.as_path()));
        named.extend(self.rewritten.iter().map(|r| r.path.as_path()));
        let mut dirs: Vec<(PathBuf, Vec<Vec<u8>>)> = Vec::new();
        for p in named {
            let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
                continue;
            };
            let name = name.as_bytes().to_vec();
            match dirs.iter_mut().find(|(d, _)| d == dir) {
                Some((_, names)) if !names.contains(&name) => names.push(name),
                Some(_) => {}
                None => dirs.push((dir.to_path_buf(), vec![name])),
            }
        }
        let mut found = Vec::new();
        for (dir, names) in &dirs {
            let Ok(entries) = fs::read_dir(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                let rotated_name = names
                    .iter()
                    .any(|n| name.len() > n.len() && name.as_bytes().starts_with(n));
                if !rotated_name {
                    continue;
                }
                let path = dir.join(&name);
                let Ok(meta) = fs::metadata(&path) else {
                    continue;
                };
                if meta.is_file() {
                    let recent = modified_ms(&meta) >= since_ms - MTIME_SLACK_MS;
                    found.push((path, meta, recent));
                }
            }
        }
        for (path, meta, recent) in found {
            if let Err(e) = self.follow_discovered(&path, &meta, recent) {
                tracing::warn!(source = %self.cfg.name, path = %path.display(), error = %e, "cannot open a rotated file; it is not read");
            }
        }
    }

    /// Follows a rotated file found by [`Self::discover`] unless it is known:
    /// the copy of a truncated file from where that file was read to, any
    /// other file written to `recent`ly from its beginning.
    fn follow_discovered(
        &mut self,
        path: &Path,
        meta: &fs::Metadata,
        recent: bool,
    ) -> io::Result<()> {
        let (dev, ino) = (meta.dev(), meta.ino());
        if self.followed.iter().any(|f| f.dev == dev && f.ino == ino) {
            return Ok(());
        }
        let file = File::open(path)?;
        let same_start =
            |fp: &Fingerprint| Fingerprint::of(&file, fp.len).is_ok_and(|now| now == *fp);
        let known = self
            .closed
            .iter()
            .any(|c| c.dev == dev && c.ino == ino && same_start(&c.fingerprint));
        // a copy of a file still followed: its lines are read there (a
        // short start, such as one header line, proves no copy)
        let copy = self
            .followed
            .iter()
            .any(|f| f.fingerprint.is_full() && same_start(&f.fingerprint));
        if known || copy {
            return Ok(());
        }
        let len = meta.len();
        let copied = self.rewritten.iter().position(|r| {
            r.path.parent() == path.parent() && r.offset <= len && same_start(&r.fingerprint)
        });
        drop(file);
        let start = match copied {
            Some(i) => self.rewritten.swap_remove(i).offset,
            None if recent => 0,
            None => return Ok(()),
        };
        if is_compressed(path.file_name().unwrap_or_default()) {
            // usually the rotated file breachd drained through its descriptor
            tracing::debug!(source = %self.cfg.name, path = %path.display(), "a compressed rotated file is not read");
            return Ok(());
        }
        tracing::info!(source = %self.cfg.name, path = %path.display(), offset = start, "found a rotated file written after breachd last looked; reading it");
        self.follow_from(path, meta, Some(start))
    }

    /// Checkpointed files no glob matches any more were rotated while breachd
    /// was down: find them by identity in their directory and drain them.
    fn recover_renamed(&mut self) {
        for cp in std::mem::take(&mut self.unmatched) {
            let dir = cp.path.parent().unwrap_or(Path::new("."));
            let hit = fs::read_dir(dir).ok().and_then(|rd| {
                rd.flatten().find_map(|e| {
                    let m = e.metadata().ok()?;
                    (m.is_file() && m.dev() == cp.dev && m.ino() == cp.ino).then(|| (e.path(), m))
                })
            });
            // an inode reused by another file is not the checkpointed file
            let hit = hit.filter(|(path, _)| {
                File::open(path)
                    .and_then(|f| Fingerprint::of(&f, cp.fingerprint.len))
                    .is_ok_and(|now| now == cp.fingerprint)
            });
            match hit {
                Some((path, meta)) => match self.follow_from(&path, &meta, Some(cp.offset)) {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(source = %self.cfg.name, path = %path.display(), error = %e, "cannot reopen a rotated file")
                    }
                },
                None => match find_compressed(&cp) {
                    Some(gz) => {
                        tracing::info!(source = %self.cfg.name, path = %cp.path.display(), compressed = %gz.display(), offset = cp.offset, "a checkpointed file was compressed while breachd was down; reading the rest of it");
                        self.compressed.push((gz, cp));
                    }
                    None => {
                        tracing::warn!(source = %self.cfg.name, path = %cp.path.display(), "a checkpointed file is gone; lines written to it after the checkpoint are lost")
                    }
                },
            }
        }
    }

    /// Reads a gzipped rotated file from `offset` (in its decompressed
    /// bytes) to its end. Returns the bytes consumed.
    fn read_compressed(
        &mut self,
        path: &Path,
        offset: u64,
        sink: &mut dyn EventSink,
    ) -> io::Result<u64> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let mut gz = MultiGzDecoder::new(io::BufReader::with_capacity(256 * 1024, file));
        io::copy(&mut (&mut gz).take(offset), &mut io::sink())?;
        let mut framer = Framer::new(self.max_line);
        framer.reset(offset);
        let mut decoder = self.decoder_for(path, &meta);
        loop {
            let n = framer.fill(&mut gz)?;
            while let Some(frame) = framer.next_frame() {
                decoder.frame(frame, sink)?;
            }
            if n == 0 {
                break;
            }
        }
        if let Some(crate::source::framer::Frame::Line(raw, _)) = framer.take_rest() {
            decoder.truncated(raw);
        }
        tracing::info!(source = %self.cfg.name, path = %path.display(), lines = decoder.stats.lines, "finished a compressed rotated file");
        self.closed_stats.add(&decoder.stats);
        Ok(framer.consumed().saturating_sub(offset))
    }

    /// A decoder for the lines of `path`; zoneless times take its mtime's year.
    fn decoder_for(&self, path: &Path, meta: &fs::Metadata) -> Decoder {
        let reference = meta
            .modified()
            .ok()
            .and_then(|m| jiff::Timestamp::try_from(m).ok())
            .unwrap_or_else(jiff::Timestamp::now);
        let local = LocalTime::new(self.cfg.timezone.clone(), reference);
        let name = format!("{}:{}", self.cfg.name, path.display());
        Decoder::for_format(&self.cfg.format, &local, self.index, name)
    }

    fn open(&mut self, path: &Path, meta: &fs::Metadata) -> io::Result<()> {
        let (dev, ino) = (meta.dev(), meta.ino());
        let cp = match take_matching(&mut self.unmatched, dev, ino, path) {
            Some(Ok(cp)) => Some(cp),
            Some(Err(stale)) => {
                // rewritten while breachd was down (copytruncate): its copy
                // holds the lines after the checkpoint
                tracing::info!(source = %self.cfg.name, path = %path.display(), "file was truncated or rewritten while breachd was down; reading it from the beginning");
                self.rewritten.push(Rewritten {
                    path: path.to_path_buf(),
                    fingerprint: stale.fingerprint,
                    offset: stale.offset,
                });
                None
            }
            None => match take_matching(&mut self.closed, dev, ino, path) {
                Some(Ok(cp)) => Some(cp),
                _ => None,
            },
        };
        self.follow_from(path, meta, cp.map(|c| c.offset))
    }

    /// Follows `path` from `resume` (a recorded offset), or per `read_from`.
    fn follow_from(
        &mut self,
        path: &Path,
        meta: &fs::Metadata,
        resume: Option<u64>,
    ) -> io::Result<()> {
        let mut file = File::open(path)?;
        let len = meta.len();
        let fingerprint = Fingerprint::of(&file, len)?;
        let start = match resume {
            Some(offset) if offset <= len => offset,
            Some(_) => 0, // shorter than our offset: truncated while we were away
            None if self.first_start
                && !self.scanned_once
                && self.cfg.read_from == ReadFrom::End =>
            {
                line_end_at_or_before(&file, len)?
            }
            None => 0,
        };
        file.seek(SeekFrom::Start(start))?;
        let mut framer = Framer::new(self.max_line);
        framer.reset(start);
        let decoder = self.decoder_for(path, meta);
        tracing::info!(source = %self.cfg.name, path = %path.display(), offset = start, resumed = resume.is_some(), "following a file");
        self.followed.push(Followed {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
            file,
            framer,
            decoder,
            fingerprint,
            size: len,
            orphaned: None,
            last_growth: Instant::now(),
            seen: true,
        });
        Ok(())
    }
}

/// Takes the checkpoint of the file at (dev, ino): `Ok` if its first bytes
/// still match, `Err` with it if they changed (truncated or rewritten).
fn take_matching(
    list: &mut Vec<Checkpoint>,
    dev: u64,
    ino: u64,
    path: &Path,
) -> Option<Result<Checkpoint, Checkpoint>> {
    let i = list.iter().position(|c| c.dev == dev && c.ino == ino)?;
    let cp = list.swap_remove(i);
    let same = File::open(path)
        .and_then(|f| Fingerprint::of(&f, cp.fingerprint.len))
        .is_ok_and(|now| now == cp.fingerprint);
    Some(if same { Ok(cp) } else { Err(cp) })
}

/// Reads everything the file has now, up to the per-cycle budget. Returns
/// the bytes consumed and, when the file was truncated or rewritten, what it
/// was (its copy holds the lines we had not read).
fn read_available(
    f: &mut Followed,
    sink: &mut dyn EventSink,
) -> io::Result<(u64, Option<Rewritten>)> {
    let len = f.file.metadata()?.len();
    let position = f.framer.consumed() + f.framer.pending() as u64;
    // The first bytes are compared every time, not only when the size
    // changed: truncated and written back to the same size between two
    // looks is a rewrite too. It is one positioned read of 256 bytes.
    let rewritten = len < position || Fingerprint::of(&f.file, f.fingerprint.len)? != f.fingerprint;
    let mut was = None;
    if rewritten {
        tracing::info!(path = %f.path.display(), offset = position, size = len, "file was truncated or rewritten; reading it from the beginning");
        was = Some(Rewritten {
            path: f.path.clone(),
            fingerprint: f.fingerprint,
            offset: f.framer.consumed(),
        });
        f.file.seek(SeekFrom::Start(0))?;
        f.framer.reset(0);
        f.fingerprint = Fingerprint::of(&f.file, len)?;
    } else if !f.fingerprint.is_full() && len > f.fingerprint.len {
        f.fingerprint = Fingerprint::of(&f.file, len)?;
    }
    if len != f.size {
        f.size = len;
        f.last_growth = Instant::now();
    }
    let before = f.framer.consumed();
    loop {
        let n = f.framer.fill(&mut f.file)?;
        while let Some(frame) = f.framer.next_frame() {
            f.decoder.frame(frame, sink)?;
        }
        if n == 0 || f.framer.consumed() - before >= READ_BUDGET {
            break;
        }
    }
    Ok((f.framer.consumed() - before, was))
}

/// The `.gz` beside a checkpointed file (named like it) whose decompressed
/// first bytes are the checkpointed file's.
fn find_compressed(cp: &Checkpoint) -> Option<PathBuf> {
    let dir = cp.path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = cp.path.file_name()?.as_bytes();
    fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let file_name = e.file_name();
        let path = dir.join(&file_name);
        let gz =
            file_name.as_bytes().starts_with(name) && path.extension().is_some_and(|x| x == "gz");
        if !gz {
            return None;
        }
        let mut start = vec![0u8; cp.fingerprint.len as usize];
        let mut got = 0;
        let mut reader = MultiGzDecoder::new(File::open(&path).ok()?);
        while got < start.len() {
            match reader.read(&mut start[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        (Fingerprint::of_bytes(&start[..got]) == cp.fingerprint).then_some(path)
    })
}

/// Whether a file name ends in a compression suffix.
fn is_compressed(name: &OsStr) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|e| COMPRESSED.iter().any(|c| e == OsStr::new(c)))
}

/// A file's modification time in Unix milliseconds (0 when unknown).
fn modified_ms(meta: &fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1000)
        .saturating_add(meta.mtime_nsec() / 1_000_000)
}

/// For `read_from = end`: the offset just after the last complete line.
fn line_end_at_or_before(file: &File, len: u64) -> io::Result<u64> {
    let mut pos = len;
    let mut buf = [0u8; 4096];
    while pos > 0 {
        let n = buf.len().min(pos as usize);
        let start = pos - n as u64;
        file.read_exact_at(&mut buf[..n], start)?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            return Ok(start + i as u64 + 1);
        }
        pos = start;
    }
    Ok(0)
}

/// The directory part of a glob before its first wildcard.
fn static_dir(pattern: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    for comp in Path::new(pattern).components() {
        let s = comp.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[', '{']) {
            return dir;
        }
        dir.push(comp);
    }
    dir.parent().map(Path::to_path_buf).unwrap_or(dir)
}

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn unix_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// How long the daemon waits between cycles when nothing wakes it.
pub fn idle_wait(sources: &[FileSource]) -> Duration {
    sources
        .iter()
        .map(|s| s.cfg.poll_interval)
        .min()
        .unwrap_or(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_dir_stops_at_the_first_wildcard() {
        assert_eq!(
            static_dir("/var/log/nginx/*.log"),
            PathBuf::from("/var/log/nginx")
        );
        assert_eq!(
            static_dir("/var/log/*/access.log"),
            PathBuf::from("/var/log")
        );
        assert_eq!(static_dir("/var/log/auth.log"), PathBuf::from("/var/log"));
        assert_eq!(static_dir("logs/*.log"), PathBuf::from("logs"));
    }
}
