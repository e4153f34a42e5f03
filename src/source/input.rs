//! Finite inputs for `replay`: a file, a gzip file (recognised by its magic
//! bytes, not its name), or standard input (`-`).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// An opened replay input.
pub struct Input {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
    /// Size on disk when known (for progress), compressed size for gzip.
    pub size: Option<u64>,
    /// Last modification time: the reference for year-less timestamps.
    pub modified: Option<std::time::SystemTime>,
}

impl Input {
    /// Opens `path`, or standard input for `-`.
    pub fn open(path: &Path) -> io::Result<Input> {
        if path == Path::new("-") {
            return Ok(Input {
                name: "<stdin>".into(),
                reader: sniff_gzip(Box::new(io::stdin()))?,
                size: None,
                modified: None,
            });
        }
        let file = File::open(path).map_err(|e| with_path(e, path))?;
        let meta = file.metadata().map_err(|e| with_path(e, path))?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a directory; give the log files in it",
                    path.display()
                ),
            ));
        }
        // Peek with a positioned read so a plain file is read straight into
        // the framer's buffer, with no second buffer in between.
        let mut magic = [0u8; 2];
        let n = std::os::unix::fs::FileExt::read_at(&file, &mut magic, 0)
            .map_err(|e| with_path(e, path))?;
        let reader: Box<dyn Read + Send> = if n == 2 && magic == [0x1f, 0x8b] {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(
                256 * 1024,
                file,
            )))
        } else {
            Box::new(file)
        };
        Ok(Input {
            name: path.display().to_string(),
            reader,
            size: Some(meta.len()),
            modified: meta.modified().ok(),
        })
    }

    /// Opens every path in order.
    pub fn open_all(paths: &[PathBuf]) -> io::Result<Vec<Input>> {
        paths.iter().map(|p| Input::open(p)).collect()
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Wraps a stream in a gzip decoder when it starts with gzip's magic.
fn sniff_gzip(inner: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut r = BufReader::with_capacity(256 * 1024, inner);
    let head = io::BufRead::fill_buf(&mut r)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(MultiGzDecoder::new(r)))
    } else {
        Ok(Box::new(r))
    }
}
