//! Transparent huge pages for the heap of the long-running commands.
//!
//! `run` and `replay` keep hundreds of thousands of small per-key states
//! (a few hundred bytes each, one per account and rule). On a 4 KiB-page
//! heap every one of those pages costs a fault and a TLB entry; backed by
//! 2 MiB pages the scale-10 replay runs about 6% faster (measured with
//! `bench/parse.py`, same machine, same run). glibc backs its heap with
//! huge pages only when told at start, through the environment
//! (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, which makes malloc
//! `madvise(MADV_HUGEPAGE)` what it maps), so the process re-executes
//! itself once, same pid and arguments, with the tunable added.
//!
//! Nothing happens when the kernel's THP mode is not `madvise` (`always`
//! already gives the heap huge pages, `never` refuses them), when
//! `GLIBC_TUNABLES` already names the tunable (an admin's choice, and the
//! re-executed process itself), or when `BREACHD_HUGE_PAGES=0`. If the
//! re-exec fails the command simply runs as it is.

use std::ffi::{OsStr, OsString};

const TUNABLE: &str = "glibc.malloc.hugetlb";
const THP_MODE: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// Re-executes the process with huge pages for its heap when it runs a
/// long command on glibc and the kernel would give them only on request.
/// Returns only when it did not (or could not) re-execute.
pub fn reexec_if_useful() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let args: Vec<OsString> = std::env::args_os().collect();
        let mode = std::fs::read_to_string(THP_MODE).unwrap_or_default();
        let Some(tunables) = wanted(
            &args,
            std::env::var_os("BREACHD_HUGE_PAGES").as_deref(),
            std::env::var_os("GLIBC_TUNABLES").as_deref(),
            &mode,
        ) else {
            return;
        };
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut cmd = std::process::Command::new(exe);
        if let Some(arg0) = args.first() {
            cmd.arg0(arg0);
        }
        // `exec` returns only on failure; then carry on without huge pages
        let _ = cmd.args(&args[1..]).env("GLIBC_TUNABLES", tunables).exec();
    }
}

/// The `GLIBC_TUNABLES` value to re-execute with, or `None` to go on as is:
/// `args` the command line, `opt_out` `BREACHD_HUGE_PAGES`, `current` the
/// present `GLIBC_TUNABLES`, `mode` the kernel's THP mode file.
fn wanted(
    args: &[OsString],
    opt_out: Option<&OsStr>,
    current: Option<&OsStr>,
    mode: &str,
) -> Option<OsString> {
    let long = args
        .iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "run" || a == "replay");
    if !long || opt_out == Some(OsStr::new("0")) || !mode.contains("[madvise]") {
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

/// Whether this process's heap was asked for huge pages (for summaries).
pub fn in_effect() -> bool {
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
