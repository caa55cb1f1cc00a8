// SPDX-License-Identifier: GPL-2.0

//! The C side of `/dev/printerfact`: the only `unsafe` code of the module.
//!
//! Linux 6.12's `kernel` crate has no character device, file or class abstractions, so this
//! module calls the C API through `kernel::bindings`, as a C driver would: the tables the kernel
//! reads ([`FOPS`], [`FACTS_ATTR`], [`OPENS_ATTR`]) are statics built at compile time, and their
//! callbacks are thin `extern "C"` functions that call the device logic in the crate root
//! (safe Rust returning [`Result`]); errors become negative errnos here, once, at the C boundary.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/device/class.h`](srctree/include/linux/device/class.h),
//! [`include/linux/device.h`](srctree/include/linux/device.h),
//! [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h),
//! [`include/linux/random.h`](srctree/include/linux/random.h).

use core::{ffi::c_void, mem::MaybeUninit, ptr};
use kernel::{
    bindings, c_str,
    error::{from_err_ptr, from_result, to_result},
    ffi::{c_char, c_int},
    prelude::*,
    str::CStr,
};

/// Name of the device node, of the class and of the entry in `/proc/devices`.
const NAME: &CStr = c_str!("printerfact");

/// `FMODE_WRITE` from `include/linux/fs.h`; bindgen cannot see it through its `__force` cast.
const FMODE_WRITE: bindings::fmode_t = 1 << 1;

/// Permissions of the device node: read for everyone, write for no one.
const DEVNODE_MODE: bindings::umode_t = 0o444;

/// Permissions of the counter files in sysfs.
const COUNTER_MODE: bindings::umode_t = 0o444;

/// Returns a uniformly distributed random number in `0..ceil` (no modulo bias).
pub(crate) fn random_below(ceil: u32) -> Result<u32> {
    if ceil == 0 {
        return Err(EINVAL);
    }
    // SAFETY: `__get_random_u32_below` has no preconditions besides `ceil > 0`, checked above.
    Ok(unsafe { bindings::__get_random_u32_below(ceil) })
}

/// A C table that the kernel reads through a pointer: a static in module memory, not a heap copy.
///
/// The statics of this type have no interior mutability, so they are placed in the module's
/// `.rodata`, which the module loader makes read-only once relocated (`module_enable_rodata_ro`
/// in `complete_formation`, with `CONFIG_STRICT_MODULE_RWX`): a stray write would fault.
///
/// # Invariants
///
/// The table is never written. Rust has shared access only (immutable statics of types without
/// interior mutability), and the kernel only reads the tables it is given here (see [`FOPS`] and
/// [`counter_attribute`]).
#[repr(transparent)]
struct KernelTable<T>(T);

impl<T> KernelTable<T> {
    const fn as_ptr(&'static self) -> *const T {
        &self.0
    }
}

// SAFETY: A `file_operations` table is never written (type invariant), so threads only ever read
// it. Its pointers are followed by the kernel only: to this module (`owner`) and to functions of
// this module, which all outlive every open file (open files pin the module).
unsafe impl Sync for KernelTable<bindings::file_operations> {}

// SAFETY: A `class_attribute` is never written (type invariant), so threads only ever read it.
// Its pointers are followed by the kernel only: to a name and functions of this module, which
// outlive the sysfs file (`ClassFile` removes it before the module is unloaded).
unsafe impl Sync for KernelTable<bindings::class_attribute> {}

/// The file operations of `/dev/printerfact`, in module memory like a C driver's.
///
/// `owner` is `THIS_MODULE`: the static the `module!` macro defines in the crate root, which
/// holds `&__this_module`, a link-time constant (a relocation, as C's `.owner = THIS_MODULE`), so
/// a static initializer can read it. `__register_chrdev` copies it into `cdev.owner`, and every
/// open takes a reference on it (`cdev_get`, then `fops_get` in `chrdev_open`,
/// `fs/char_dev.c`), so the module cannot be unloaded while a file is open (`delete_module`:
/// EWOULDBLOCK) and the table outlives every file.
///
/// No `write`, `unlocked_ioctl` or `mmap`: opening for writing fails in [`open`] (EPERM), the VFS
/// answers ioctl with ENOTTY and mmap with ENODEV. The kernel only reads the table: it holds it
/// as `const struct file_operations *` (`cdev.ops`, `file.f_op`).
static FOPS: KernelTable<bindings::file_operations> = KernelTable(bindings::file_operations {
    owner: crate::THIS_MODULE.as_ptr(),
    open: Some(open),
    read: Some(read),
    llseek: Some(bindings::default_llseek),
    // SAFETY: All zeros is a valid `file_operations`: the other fields are `Option`s of function
    // pointers (`None`), raw pointers (NULL) and integers.
    ..unsafe { MaybeUninit::zeroed().assume_init() }
});

/// `/sys/class/printerfact/facts`: the number of facts.
static FACTS_ATTR: KernelTable<bindings::class_attribute> =
    counter_attribute(c_str!("facts"), show_facts);

/// `/sys/class/printerfact/opens`: successful opens since loading.
static OPENS_ATTR: KernelTable<bindings::class_attribute> =
    counter_attribute(c_str!("opens"), show_opens);

/// The type of `class_attribute.show`.
type ShowFn = unsafe extern "C" fn(
    *const bindings::class,
    *const bindings::class_attribute,
    *mut c_char,
) -> isize;

/// A read-only class attribute named `name`, for a static, as C's `__ATTR_RO` makes it.
///
/// The attribute is static, so it needs no lockdep key of its own (C's `sysfs_attr_init` is for
/// attributes on the heap). With `CONFIG_DEBUG_LOCK_ALLOC`, `sysfs_add_file_mode_ns`
/// (`fs/sysfs/file.c`) passes `attr->key`, or `&attr->skey` when `key` is NULL as here, to
/// `__kernfs_create_file`, whose `lockdep_init_map` names the lockdep class of the file's active
/// references. `lockdep_init_map_type` (`kernel/locking/lockdep.c`) accepts a key for which
/// `static_obj` is true, and `static_obj` is true for every address inside a loaded module
/// (`is_module_address`: the module tree holds all its memory types), so `skey` inside this
/// static is accepted without registration. Lockdep uses a static key by its address only and
/// never writes it (only `lockdep_register_key` does, for dynamic keys), and `free_mod_mem`
/// (`kernel/module/main.c`) forgets the classes of keys in module memory at unload
/// (`lockdep_free_key_range`). The other sysfs and driver core code only reads the attribute
/// (`class_create_file_ns` takes `const struct class_attribute *`; `class_attr_show` reads it).
// Without CONFIG_DEBUG_LOCK_ALLOC, `struct attribute` has no fields besides `name` and `mode`.
#[allow(clippy::needless_update)]
const fn counter_attribute(
    name: &'static CStr,
    show: ShowFn,
) -> KernelTable<bindings::class_attribute> {
    KernelTable(bindings::class_attribute {
        attr: bindings::attribute {
            name: name.as_char_ptr(),
            mode: COUNTER_MODE,
            // SAFETY: All zeros is a valid `attribute`; the other fields exist with
            // CONFIG_DEBUG_LOCK_ALLOC only: `ignore_lockdep` false (lockdep checks the file),
            // `key` NULL (sysfs uses `skey`) and a zeroed `skey`, as in a static C attribute.
            ..unsafe { MaybeUninit::zeroed().assume_init() }
        },
        show: Some(show),
        store: None,
    })
}

/// `MKDEV` from `include/linux/kdev_t.h` (a macro, so not in the bindings).
const fn mkdev(major: u32, minor: u32) -> bindings::dev_t {
    (major << bindings::MINORBITS) | minor
}

/// A character device major number with one minor, served by a `file_operations` table.
///
/// # Invariants
///
/// `major` was returned by `__register_chrdev(0, 0, 1, name, fops)` and is still registered.
struct ChrdevRegion {
    major: u32,
    name: &'static CStr,
}

impl ChrdevRegion {
    fn register(
        name: &'static CStr,
        fops: &'static KernelTable<bindings::file_operations>,
    ) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string (the kernel copies it); `fops` is a static,
        // valid as long as the module, which the region's files pin (`owner`).
        let ret =
            unsafe { bindings::__register_chrdev(0, 0, 1, name.as_char_ptr(), fops.as_ptr()) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: with major 0 the kernel picked a free major, registered, and returned it.
        Ok(Self {
            major: ret.try_into()?,
            name,
        })
    }

    fn devt(&self) -> bindings::dev_t {
        mkdev(self.major, 0)
    }
}

impl Drop for ChrdevRegion {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, exactly this region is registered.
        unsafe { bindings::__unregister_chrdev(self.major, 0, 1, self.name.as_char_ptr()) };
    }
}

/// A device class (`/sys/class/<name>`) that the kernel allocates and frees (`class_create`).
///
/// The driver core releases a class at its last reference, which can come long after
/// `class_destroy`: `CONFIG_DEBUG_KOBJECT_RELEASE` delays it by seconds, past the module's
/// unloading. The release reads the `struct class` and calls its `class_release`. Both must
/// therefore outlive the module: `class_create` allocates the class and frees it from kernel
/// code, so the release reads nothing the module owns (a class in module memory was read
/// after the module freed it: KASAN "slab-use-after-free in class_release").
///
/// # Invariants
///
/// `ptr` was returned by `class_create`, and `class_destroy` has not been called on it yet.
struct Class {
    ptr: *mut bindings::class,
}

impl Class {
    fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated and lives as long as the module. The class keeps the
        // pointer: the driver core copies it into the sysfs name, and reads it after
        // `class_destroy` only in `pr_debug` calls of the release (compiled out unless
        // CONFIG_DYNAMIC_DEBUG, off unless enabled at run time), as for every in-tree module.
        let ptr = from_err_ptr(unsafe { bindings::class_create(name.as_char_ptr()) })?;
        // SAFETY: `ptr` is a valid class with no devices yet, so no one reads `devnode` now;
        // devtmpfs calls it only while a device of the class exists, and `devnode` is code
        // of this module, which outlives every device (`Registration` destroys them first).
        unsafe { (*ptr).devnode = Some(devnode) };
        // INVARIANT: created just above.
        Ok(Self { ptr })
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, `ptr` is a live class from `class_create`; its devices
        // and files are gone (`Registration` drops them first). The kernel frees it later.
        unsafe { bindings::class_destroy(self.ptr) };
    }
}

/// A read-only file in a class directory, `/sys/class/<class>/<attribute name>`.
///
/// # Invariants
///
/// `class_create_file_ns(class, attr, NULL)` succeeded, the file has not been removed yet, and
/// `class` is a live class until the file is removed.
struct ClassFile {
    class: *const bindings::class,
    attr: &'static KernelTable<bindings::class_attribute>,
}

impl ClassFile {
    /// # Safety
    ///
    /// `class` must not be destroyed before the returned value is dropped.
    unsafe fn create(
        class: &Class,
        attr: &'static KernelTable<bindings::class_attribute>,
    ) -> Result<Self> {
        // SAFETY: `class.ptr` is a live class (type invariant of `Class`); `attr` is a static,
        // valid as long as the module, and the file is removed in `drop`, before the module is
        // unloaded (`Registration` is dropped by the module's exit); NULL is the "no namespace"
        // tag.
        let ret = unsafe { bindings::class_create_file_ns(class.ptr, attr.as_ptr(), ptr::null()) };
        to_result(ret)?;
        // INVARIANT: created just above; `class` stays live (function safety requirement).
        Ok(Self {
            class: class.ptr,
            attr,
        })
    }
}

impl Drop for ClassFile {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, the file exists in `class`, which is live. Removal
        // waits for running `show` calls (`kernfs_drain`); afterwards sysfs no longer calls
        // them nor reads the attribute (a file still open fails its active reference).
        unsafe { bindings::class_remove_file_ns(self.class, self.attr.as_ptr(), ptr::null()) };
    }
}

/// A device in a class; devtmpfs makes it `/dev/<name>`.
///
/// # Invariants
///
/// `device_create(class, NULL, devt, NULL, ...)` succeeded, the device is not destroyed yet,
/// and `class` is a live class until it is.
struct DeviceNode {
    class: *const bindings::class,
    devt: bindings::dev_t,
}

impl DeviceNode {
    /// # Safety
    ///
    /// `class` must not be destroyed before the returned value is dropped.
    unsafe fn create(class: &Class, devt: bindings::dev_t, name: &'static CStr) -> Result<Self> {
        // SAFETY: `class.ptr` is a live class (type invariant of `Class`); the format string
        // "%s" takes exactly one NUL-terminated string argument, `name` (the kernel copies it).
        from_err_ptr(unsafe {
            bindings::device_create(
                class.ptr,
                ptr::null_mut(),
                devt,
                ptr::null_mut(),
                c_str!("%s").as_char_ptr(),
                name.as_char_ptr(),
            )
        })?;
        // INVARIANT: created just above; `class` stays live (function safety requirement).
        Ok(Self {
            class: class.ptr,
            devt,
        })
    }
}

impl Drop for DeviceNode {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, the device `devt` exists in `class`, which is live.
        unsafe { bindings::device_destroy(self.class, self.devt) };
    }
}

/// The registered device: device number, class, counter files and device node.
///
/// Dropping it removes `/dev/printerfact` and `/sys/class/printerfact`. Fields drop in
/// declaration order, the reverse of creation; a failing [`Registration::new`] drops what it
/// created the same way (locals drop in reverse order of declaration).
pub(crate) struct Registration {
    _device: DeviceNode,
    _opens: ClassFile,
    _facts: ClassFile,
    _class: Class,
    _chrdev: ChrdevRegion,
}

impl Registration {
    /// Registers the device. Its files pin `THIS_MODULE` (see [`FOPS`]).
    pub(crate) fn new() -> Result<Self> {
        let chrdev = ChrdevRegion::register(NAME, &FOPS)?;
        let class = Class::create(NAME)?;
        // SAFETY: `class` is declared before the files and the device node, so it is dropped
        // after them, both here on an early return and in `Registration` (field order).
        let facts = unsafe { ClassFile::create(&class, &FACTS_ATTR) }?;
        // SAFETY: as above.
        let opens = unsafe { ClassFile::create(&class, &OPENS_ATTR) }?;
        // SAFETY: as above.
        let device = unsafe { DeviceNode::create(&class, chrdev.devt(), NAME) }?;
        Ok(Self {
            _device: device,
            _opens: opens,
            _facts: facts,
            _class: class,
            _chrdev: chrdev,
        })
    }
}

// SAFETY: `Registration` only holds pointers to kernel objects and statics that it does not
// write, and the C functions its `Drop` calls may run on any thread.
unsafe impl Send for Registration {}

// SAFETY: `&Registration` gives access to nothing (all fields are private and unused).
unsafe impl Sync for Registration {}

/// `file_operations.open`: asks [`crate::open`] for the file's fact, keeps it in `private_data`.
///
/// # Safety
///
/// Called by the VFS with a valid `file` that no other thread uses yet.
unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    from_result(|| {
        // SAFETY: `file` is valid (function safety requirement).
        let write = unsafe { (*file).f_mode } & FMODE_WRITE != 0;
        let index = crate::open(write)?;
        // SAFETY: `file` is valid and not shared yet; `private_data` belongs to the driver. The
        // index is stored as an integer, never dereferenced.
        unsafe { (*file).private_data = index as *mut c_void };
        Ok(0)
    })
}

/// `file_operations.read`: copies [`crate::contents`] from `*ppos` to user space; 0 at the end.
///
/// # Safety
///
/// Called by the VFS with a valid `file` opened by [`open`], a user buffer `buf` of `count`
/// bytes and a valid `ppos`.
unsafe extern "C" fn read(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        // SAFETY: `file` is valid; `private_data` holds the index `open` stored and is not
        // written after open.
        let index = unsafe { (*file).private_data } as usize;
        let contents = crate::contents(index)?;
        // SAFETY: `ppos` is valid; `buf` is a user pointer, which `simple_read_from_buffer`
        // checks (`copy_to_user`); `contents` is valid for `contents.len()` bytes.
        let ret = unsafe {
            bindings::simple_read_from_buffer(
                buf.cast(),
                count,
                ppos,
                contents.as_ptr().cast(),
                contents.len(),
            )
        };
        if ret < 0 {
            // Only EFAULT: a bad user buffer.
            return Err(Error::from_errno(ret.try_into()?));
        }
        Ok(ret)
    })
}

/// `class.devnode`: sets the mode of the device node in devtmpfs, keeps the default name.
///
/// # Safety
///
/// Called by the driver core with `mode` either NULL or valid for writes.
unsafe extern "C" fn devnode(
    _dev: *const bindings::device,
    mode: *mut bindings::umode_t,
) -> *mut c_char {
    if !mode.is_null() {
        // SAFETY: `mode` is non-NULL, so valid for writes (function safety requirement).
        unsafe { *mode = DEVNODE_MODE };
    }
    ptr::null_mut()
}

/// Prints `value` and a newline into a sysfs buffer; returns the bytes written.
///
/// # Safety
///
/// `buf` must be the page-sized buffer sysfs passes to a `show` callback.
unsafe fn emit_counter(buf: *mut c_char, value: u64) -> isize {
    // SAFETY: `buf` is a sysfs page buffer (function safety requirement), which `sysfs_emit`
    // checks is page-aligned; "%llu\n" takes exactly one `unsigned long long`.
    let written = unsafe { bindings::sysfs_emit(buf, c_str!("%llu\n").as_char_ptr(), value) };
    written as isize
}

/// `class_attribute.show` of [`FACTS_ATTR`].
///
/// # Safety
///
/// Called by sysfs (`class_attr_show`) with `buf` a page-sized buffer.
unsafe extern "C" fn show_facts(
    _class: *const bindings::class,
    _attr: *const bindings::class_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: `buf` is a sysfs page buffer (function safety requirement).
    unsafe { emit_counter(buf, crate::fact_count()) }
}

/// `class_attribute.show` of [`OPENS_ATTR`].
///
/// # Safety
///
/// Called by sysfs (`class_attr_show`) with `buf` a page-sized buffer.
unsafe extern "C" fn show_opens(
    _class: *const bindings::class,
    _attr: *const bindings::class_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: `buf` is a sysfs page buffer (function safety requirement).
    unsafe { emit_counter(buf, crate::open_count()) }
}
