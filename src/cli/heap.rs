//! The heap of the long-running commands.
//!
//! `run` and `replay` keep hundreds of thousands of small per-key states
//! (a few hundred bytes each, one per account and rule) and a few large
//! tables that are rebuilt as keys expire. With glibc's defaults that heap
//! is costly to the kernel: every 4 KiB page is a fault and a TLB entry,
//! and each rebuilt table is a fresh `mmap` whose pages are faulted and
//! zeroed again while the old one is unmapped. Two settings, each measured
//! on the scale-10 replay (`bench/parse.py`, alternating runs):
//!
//! - **Huge pages.** glibc backs its heap with 2 MiB pages only when told at
//!   start, through the environment (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`),
//!   so where the kernel's THP mode is `madvise` the process re-executes
//!   itself once, same pid and arguments, with the tunable added (~6%).
//!   Nothing happens when the mode is `always` (the heap gets them anyway)
//!   or `never`, when `GLIBC_TUNABLES` already names the tunable (an admin's
//!   choice, and the re-executed process itself), or when
//!   `BREACHD_HUGE_PAGES=0`. If the re-exec fails the command runs as is.
//! - **Keep freed memory.** `mallopt` raises the thresholds above which glibc
//!   serves a block with its own `mmap` (to 32 MiB, its ceiling) and gives the
//!   top of the heap back (to 1 GiB), so a rebuilt table reuses memory that
//!   is already mapped (~5%, most of the kernel's page zeroing). The heap then
//!   stays near its high-water mark, which the key caps bound.

use std::ffi::{OsStr, OsString};

const TUNABLE: &str = "glibc.malloc.hugetlb";
const THP_MODE: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// Sets up the heap for a long command on glibc (see the module doc); for
/// other commands and other C libraries it does nothing.
pub fn setup() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if !GLIBC || !long_command(&args) {
        return;
    }
    let mode = std::fs::read_to_string(THP_MODE).unwrap_or_default();
    if let Some(tunables) = wanted(
        &args,
        std::env::var_os("BREACHD_HUGE_PAGES").as_deref(),
        std::env::var_os("GLIBC_TUNABLES").as_deref(),
        &mode,
    ) {
        // returns only if the exec failed: then go on without huge pages
        reexec(&args, tunables);
    }
    keep_freed_memory();
}

/// Whether this build runs on glibc, whose allocator the settings are for.
const GLIBC: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// Runs this program again with `args`, `GLIBC_TUNABLES` set to `tunables`.
#[cfg(unix)]
fn reexec(args: &[OsString], tunables: OsString) {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.first() {
        cmd.arg0(arg0);
    }
    let _ = cmd.args(&args[1..]).env("GLIBC_TUNABLES", tunables).exec();
}

#[cfg(not(unix))]
fn reexec(_: &[OsString], _: OsString) {}

/// The `GLIBC_TUNABLES` value to re-execute with, or `None` to go on as is:
/// `args` the command line, `opt_out` `BREACHD_HUGE_PAGES`, `current` the
/// present `GLIBC_TUNABLES`, `mode` the kernel's THP mode file.
fn wanted(
    args: &[OsString],
    opt_out: Option<&OsStr>,
    current: Option<&OsStr>,
    mode: &str,
) -> Option<OsString> {
    if !long_command(args) || opt_out == Some(OsStr::new("0")) || !mode.contains("[madvise]") {
        return None;
    }
    match current {
        Some(c) if c.to_string_lossy().contains(TUNABLE) => None,
        Some(c) if !c.is_empty() => {
            let mut v = c.to_os_string();
            v.push(format!(":{TUNABLE}=1"));
            Some(v)
        }
        _ => Some(OsString::from(format!("{TUNABLE}=1"))),
    }
}

/// Whether `args` run `run` or `replay`, the commands that hold per-key state.
fn long_command(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "run" || a == "replay")
}

/// Raises glibc's mmap and trim thresholds (see the module doc).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // glibc's <malloc.h>
    const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    unsafe extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    // SAFETY: `mallopt` is glibc's documented, thread-safe malloc tuning
    // call; it takes two ints and changes only the allocator's thresholds
    // (an out-of-range value is refused with 0, which leaves the default).
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// Whether this process's heap was asked for huge pages (for summaries).
pub fn huge_pages() -> bool {
    std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains(&format!("{TUNABLE}=1")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    const MADVISE: &str = "always [madvise] never\n";

    #[test]
    fn only_the_long_commands_under_madvise_mode_ask() {
        let replay = args(&["breachd", "replay", "x.log"]);
        assert_eq!(
            wanted(&replay, None, None, MADVISE),
            Some("glibc.malloc.hugetlb=1".into())
        );
        let run = args(&["breachd", "run", "--config", "c.toml"]);
        assert!(wanted(&run, None, None, MADVISE).is_some());
        for other in [
            &["breachd", "check"][..],
            &["breachd", "incident", "list"],
            &["breachd"],
        ] {
            assert_eq!(wanted(&args(other), None, None, MADVISE), None, "{other:?}");
        }
        // a file named `run` is an argument, not the command
        assert_eq!(
            wanted(&args(&["breachd", "check", "run"]), None, None, MADVISE),
            None
        );
        for mode in ["[always] madvise never\n", "always madvise [never]\n", ""] {
            assert_eq!(wanted(&replay, None, None, mode), None, "{mode:?}");
        }
    }

    #[test]
    fn an_admins_tunables_are_kept_and_never_asked_twice() {
        let replay = args(&["breachd", "replay", "x.log"]);
        let mine = OsString::from("glibc.malloc.arena_max=2");
        assert_eq!(
            wanted(&replay, None, Some(&mine), MADVISE),
            Some("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1".into())
        );
        // the re-executed process (or an admin's own choice) goes on as is
        let set = OsString::from("glibc.malloc.hugetlb=0");
        assert_eq!(wanted(&replay, None, Some(&set), MADVISE), None);
        assert_eq!(wanted(&replay, Some(OsStr::new("0")), None, MADVISE), None);
    }
}
