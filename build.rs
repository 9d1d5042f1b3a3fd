//! Link options that make every command start sooner.
//!
//! A command is a new process each time, and on a small VM the dynamic
//! loader's work before `main` was a fifth of an `add`. Two options cut it
//! where the system allows them (Linux with glibc, built for the machine
//! it builds on):
//!
//! - Relative relocations packed (`-z pack-relative-relocs`, `DT_RELR`):
//!   the loader reads a few kilobytes instead of the 390 KB table of 16,000
//!   entries. glibc runs such binaries from 2.36 on, and older ones refuse
//!   them by name (`GLIBC_ABI_DT_RELR`), so the option is only given where
//!   the C library building followup is 2.36 or newer.
//! - The unwinder linked in (`libgcc_eh.a`) instead of loaded from
//!   `libgcc_s.so`: one shared library fewer to find, map and relocate, and
//!   its start-up probe of the CPU (slow on a VM) skipped.
//!
//! Both keep the binary a position-independent executable that loads
//! glibc dynamically, so `LD_PRELOAD` (libfaketime, in the clock tests and
//! for anyone checking the daemon under a faked clock) still works.

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    if !native || var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    if glibc_at_least(2, 36) {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // Named before the standard library's `-lgcc_s`, so the linker takes
    // the unwinder from here and, finding nothing left to take from
    // `libgcc_s.so`, leaves it out (`--as-needed`). Not bundled: the linker
    // driver (cc) knows where GCC keeps it. Only where it does: a system
    // that links with clang and has no GCC has no `libgcc_eh.a`, and
    // there the standard library's `libgcc_s.so` serves as before.
    if linker_finds("libgcc_eh.a") {
        println!("cargo::rustc-link-lib=static:-bundle=gcc_eh");
    } else {
        println!(
            "cargo::warning=libgcc_eh.a not found by the linker driver: the unwinder is loaded from libgcc_s.so (each command starts a little later)"
        );
    }
}

/// Whether the linker driver (the configured linker, else `cc`) knows
/// where `file` is: it names a file it knows by its full path, and one it
/// does not by the bare name it was asked about.
fn linker_finds(file: &str) -> bool {
    println!("cargo::rerun-if-env-changed=RUSTC_LINKER");
    let linker = env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".into());
    let Ok(output) = std::process::Command::new(linker)
        .arg(format!("-print-file-name={file}"))
        .output()
    else {
        return false;
    };
    let named = String::from_utf8_lossy(&output.stdout);
    let path = std::path::Path::new(named.trim());
    output.status.success() && path.is_absolute() && path.is_file()
}

/// Whether the glibc this build script runs on (the one followup links
/// against, the build being native) is `major.minor` or newer.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_at_least(major: u32, minor: u32) -> bool {
    unsafe extern "C" {
        fn gnu_get_libc_version() -> *const std::ffi::c_char;
    }
    // SAFETY: glibc returns a pointer to a static, NUL-terminated string.
    let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version
        .to_str()
        .unwrap_or_default()
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_at_least(_major: u32, _minor: u32) -> bool {
    false
}
