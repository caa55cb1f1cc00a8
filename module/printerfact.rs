// SPDX-License-Identifier: GPL-2.0

//! `/dev/printerfact`: one random printer fact per open file.
//!
//! Interface (testscripts depend on it; keep it stable):
//!
//! - Loading logs exactly one line, `printerfact: loaded <N> facts`, where `<N>` is the number of
//!   lines of `facts.txt`; unloading logs nothing.
//! - `/dev/printerfact`, mode 0444, is listed as `printerfact` in `/proc/devices`. Each open picks
//!   one fact uniformly at random; reading returns that fact and a newline, then end of file.
//!   Reading again from offset 0 (`lseek`, `pread`) returns the same fact.
//! - Opening for writing fails with EPERM (and with EACCES for non-root users, by the 0444
//!   mode); ioctl fails with ENOTTY, mmap with ENODEV.
//! - `/sys/class/printerfact/facts`: number of facts; `/sys/class/printerfact/opens`: number of
//!   successful opens since loading. Both read-only.
//! - Unloading is refused while the device is open: `delete_module` fails with EWOULDBLOCK
//!   (EAGAIN; kmod's `rmmod` says "Module printerfact is in use").

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

mod chrdev;
mod facts;

module! {
    type: PrinterFactModule,
    name: "printerfact",
    description: "/dev/printerfact: one random printer fact per read",
    license: "GPL",
}

// The device logic, in safe Rust; `chrdev` calls it from the C callbacks. A file's state is the
// index of its fact in `facts::FACTS`.

/// Successful opens since the module was loaded.
static OPENS: AtomicU64 = AtomicU64::new(0);

/// Opens a file (`write`: opened for writing) and returns the index of its fact.
fn open(write: bool) -> Result<usize> {
    if write {
        return Err(EPERM);
    }
    let index = chrdev::random_below(facts::COUNT.try_into()?)?;
    OPENS.fetch_add(1, Ordering::Relaxed);
    Ok(index.try_into()?)
}

/// The bytes a file whose fact is `index` reads, from offset 0 to the end of file.
fn contents(index: usize) -> Result<&'static [u8]> {
    facts::FACTS.get(index).copied().ok_or(EINVAL)
}

/// `/sys/class/printerfact/facts`.
fn fact_count() -> u64 {
    facts::COUNT as u64
}

/// `/sys/class/printerfact/opens`.
fn open_count() -> u64 {
    OPENS.load(Ordering::Relaxed)
}

struct PrinterFactModule {
    _registration: chrdev::Registration,
}

impl kernel::Module for PrinterFactModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // The file operations' owner is `THIS_MODULE`, the same module (see `chrdev::FOPS`).
        let registration = chrdev::Registration::new()?;
        pr_info!("loaded {} facts\n", facts::COUNT);
        Ok(Self {
            _registration: registration,
        })
    }
}
