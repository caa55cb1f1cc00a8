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
use kernel::{c_str, prelude::*};

mod chrdev;
mod facts;

module! {
    type: PrinterFactModule,
    name: "printerfact",
    description: "/dev/printerfact: one random printer fact per read",
    license: "GPL",
}

/// Successful opens since the module was loaded.
static OPENS: AtomicU64 = AtomicU64::new(0);

/// The device: a file's state is the index of its fact in [`facts::FACTS`].
struct PrinterFact;

impl PrinterFact {
    fn fact_count() -> u64 {
        facts::COUNT as u64
    }

    fn open_count() -> u64 {
        OPENS.load(Ordering::Relaxed)
    }
}

impl chrdev::ReadOnlyDevice for PrinterFact {
    const NAME: &'static CStr = c_str!("printerfact");

    const COUNTERS: &'static [chrdev::Counter] = &[
        chrdev::Counter {
            name: c_str!("facts"),
            value: Self::fact_count,
        },
        chrdev::Counter {
            name: c_str!("opens"),
            value: Self::open_count,
        },
    ];

    fn open(write: bool) -> Result<usize> {
        if write {
            return Err(EPERM);
        }
        let index = chrdev::random_below(facts::COUNT.try_into()?)?;
        OPENS.fetch_add(1, Ordering::Relaxed);
        Ok(index.try_into()?)
    }

    fn contents(state: usize) -> Result<&'static [u8]> {
        facts::FACTS.get(state).copied().ok_or(EINVAL)
    }
}

struct PrinterFactModule {
    _registration: chrdev::Registration<PrinterFact>,
}

impl kernel::Module for PrinterFactModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let registration = chrdev::Registration::new(module)?;
        pr_info!("loaded {} facts\n", facts::COUNT);
        Ok(Self {
            _registration: registration,
        })
    }
}
