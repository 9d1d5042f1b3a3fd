//! The release binary as a user runs it: installed, not as the linker
//! left it.
//!
//! The linker writes the binary a few KiB at a time, and the kernel keeps
//! a file so written in memory as one small block per page, each mapped
//! on its own as the program starts. A copy made as `install`, `cp` or
//! `cargo install` make one (or any binary read back from disk, after a
//! reboot) is kept in large blocks. On the bench machine `followup
//! --version` took 1.37 ms from the linker's file and 1.22 ms from a copy,
//! and an `add` 4.49 ms against 3.78 ms (interleaved, 41 to 61 turns); a
//! copy written 4 KiB at a time was as slow as the linker's file. The
//! tools followup is compared with run from their installed packages.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static INSTALLED: OnceLock<PathBuf> = OnceLock::new();

/// Copies the release binary into `dir` (with `std::fs::copy`, as
/// `cargo install` does), for [`followup`] to name from then on.
pub fn install_in(dir: &Path) {
    let copy = dir.join("followup");
    std::fs::copy(env!("CARGO_BIN_EXE_followup"), &copy)
        .unwrap_or_else(|e| panic!("cannot copy the release binary into {}: {e}", dir.display()));
    INSTALLED.set(copy).expect("installed once");
}

/// The binary [`install_in`] installed.
pub fn followup() -> &'static Path {
    INSTALLED
        .get()
        .expect("installed::install_in runs first")
        .as_path()
}
