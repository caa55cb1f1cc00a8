// SPDX-License-Identifier: GPL-2.0

//! Read-only character device with a sysfs class: the only `unsafe` code of the module.
//!
//! Linux 6.12's `kernel` crate has no character device, file or class abstractions, so this
//! module calls the C API through `kernel::bindings`. Everything above it is safe Rust: a device
//! implements [`ReadOnlyDevice`] and returns [`Result`]; errors become negative errnos here, once,
//! at the C boundary.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/device/class.h`](srctree/include/linux/device/class.h),
//! [`include/linux/device.h`](srctree/include/linux/device.h),
//! [`include/linux/random.h`](srctree/include/linux/random.h).

use core::{ffi::c_void, marker::PhantomData, ptr};
use kernel::{
    bindings, c_str,
    error::{from_err_ptr, from_result},
    ffi::{c_char, c_int},
    prelude::*,
    str::CStr,
    ThisModule,
};

#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
use kernel::types::Opaque;

/// `FMODE_WRITE` from `include/linux/fs.h`; bindgen cannot see it through its `__force` cast.
const FMODE_WRITE: bindings::fmode_t = 1 << 1;

/// Permissions of the device node: read for everyone, write for no one.
const DEVNODE_MODE: bindings::umode_t = 0o444;

/// Permissions of the counter files in sysfs.
const COUNTER_MODE: bindings::umode_t = 0o444;

/// A read-only number in sysfs: `/sys/class/<NAME>/<name>`.
pub(crate) struct Counter {
    /// File name in the class directory.
    pub(crate) name: &'static CStr,
    /// Current value; called for every read of the file.
    pub(crate) value: fn() -> u64,
}

/// A read-only character device whose open files each carry one `usize` of state.
///
/// The device node is `/dev/<NAME>` (mode 0444), its class `/sys/class/<NAME>`.
pub(crate) trait ReadOnlyDevice {
    /// Name of the device node, of the class and of the entry in `/proc/devices`.
    const NAME: &'static CStr;

    /// Files in the class directory.
    const COUNTERS: &'static [Counter];

    /// Opens a file; `write` says whether it was opened for writing. Returns its state.
    fn open(write: bool) -> Result<usize>;

    /// The bytes a file with `state` reads, from offset 0 to the end of file.
    fn contents(state: usize) -> Result<&'static [u8]>;
}

/// Returns a uniformly distributed random number in `0..ceil` (no modulo bias).
pub(crate) fn random_below(ceil: u32) -> Result<u32> {
    if ceil == 0 {
        return Err(EINVAL);
    }
    // SAFETY: `__get_random_u32_below` has no preconditions besides `ceil > 0`, checked above.
    Ok(unsafe { bindings::__get_random_u32_below(ceil) })
}

/// A class attribute with the counter it shows.
///
/// `#[repr(C)]` with `raw` first, so a pointer to `raw` is a pointer to the whole struct.
#[repr(C)]
struct CounterAttribute {
    raw: bindings::class_attribute,
    value: fn() -> u64,
}

/// A lockdep class key in module memory: what C's `sysfs_attr_init` gives a heap attribute.
///
/// sysfs takes the lockdep class of a file's active references from `attribute.key`, or from the
/// attribute's own `skey` when that is NULL, which lockdep accepts only for static objects: a
/// heap attribute without a key makes lockdep report "BUG: key ... has not been registered!".
/// Lockdep forgets the classes of keys in a module's memory when the module is unloaded.
#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
struct StaticLockClassKey(Opaque<bindings::lock_class_key>);

#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
impl StaticLockClassKey {
    const fn new() -> Self {
        // Lockdep wants a static key zeroed, and initialises it itself on first use.
        Self(Opaque::uninit())
    }

    fn as_ptr(&self) -> *mut bindings::lock_class_key {
        self.0.get()
    }
}

// SAFETY: lockdep serialises every access to a key (under its graph lock).
#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
unsafe impl Sync for StaticLockClassKey {}

/// The lockdep class of every counter file (one per call site, as with `sysfs_attr_init`).
#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
static COUNTER_FILE_KEY: StaticLockClassKey = StaticLockClassKey::new();

/// The C structures the kernel reads through pointers while the device is registered.
///
/// # Invariants
///
/// Once [`Tables::new`] returns, the contents of the box are never moved or written. The kernel
/// reads `fops` through the chrdev region and through open files (which pin the module, so the
/// module cannot be unloaded before they are closed), and each attribute through its sysfs file;
/// [`Registration`] drops the tables only after removing both.
struct Tables {
    fops: bindings::file_operations,
    attrs: KVec<CounterAttribute>,
}

impl Tables {
    fn new<T: ReadOnlyDevice>(module: &'static ThisModule) -> Result<KBox<Self>> {
        let mut attrs = KVec::with_capacity(T::COUNTERS.len(), GFP_KERNEL)?;
        for counter in T::COUNTERS {
            // `struct attribute` has lockdep fields with CONFIG_DEBUG_LOCK_ALLOC only.
            #[allow(clippy::needless_update)]
            let attr = bindings::attribute {
                name: counter.name.as_char_ptr(),
                mode: COUNTER_MODE,
                #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
                key: COUNTER_FILE_KEY.as_ptr(),
                ..Default::default()
            };
            let raw = bindings::class_attribute {
                attr,
                show: Some(show_counter),
                store: None,
            };
            attrs.push(
                CounterAttribute {
                    raw,
                    value: counter.value,
                },
                GFP_KERNEL,
            )?;
        }
        let tables = Tables {
            fops: bindings::file_operations {
                // Open files pin the module: unloading is refused (EWOULDBLOCK) until they are
                // closed. The chrdev region's lookups pin it too (`cdev.owner` is this owner).
                owner: module.as_ptr(),
                open: Some(open::<T>),
                read: Some(read::<T>),
                llseek: Some(bindings::default_llseek),
                // No `write`, `unlocked_ioctl` or `mmap`: opening for writing fails in `open`
                // (EPERM), the VFS answers ioctl with ENOTTY and mmap with ENODEV.
                ..Default::default()
            },
            attrs,
        };
        Ok(KBox::new(tables, GFP_KERNEL)?)
    }
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
    /// # Safety
    ///
    /// `fops` must stay valid until the returned value is dropped.
    unsafe fn register(
        name: &'static CStr,
        fops: *const bindings::file_operations,
    ) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string (the kernel copies it); `fops` stays valid
        // while registered, as required from the caller.
        let ret = unsafe { bindings::__register_chrdev(0, 0, 1, name.as_char_ptr(), fops) };
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
/// `class_create_file_ns(class, attr, NULL)` succeeded and the file has not been removed yet.
struct ClassFile {
    class: *const bindings::class,
    attr: *const bindings::class_attribute,
}

impl ClassFile {
    /// # Safety
    ///
    /// `attr` must stay valid and unchanged until the returned value is dropped, and `class`
    /// must not be destroyed before that.
    unsafe fn create(class: &Class, attr: *const bindings::class_attribute) -> Result<Self> {
        // SAFETY: `class.ptr` is a live class (type invariant of `Class`); `attr` is valid until
        // the file is removed (function safety requirement); NULL is the "no namespace" tag.
        let ret = unsafe { bindings::class_create_file_ns(class.ptr, attr, ptr::null()) };
        kernel::error::to_result(ret)?;
        // INVARIANT: created just above.
        Ok(Self {
            class: class.ptr,
            attr,
        })
    }
}

impl Drop for ClassFile {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, the file exists in `class`, which is still registered
        // (function safety requirement of `create`). Removal waits for running `show` calls.
        unsafe { bindings::class_remove_file_ns(self.class, self.attr, ptr::null()) };
    }
}

/// A device in a class; devtmpfs makes it `/dev/<name>`.
///
/// # Invariants
///
/// `device_create(class, NULL, devt, NULL, ...)` succeeded and the device is not destroyed yet.
struct DeviceNode {
    class: *const bindings::class,
    devt: bindings::dev_t,
}

impl DeviceNode {
    fn create(class: &Class, devt: bindings::dev_t, name: &'static CStr) -> Result<Self> {
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
        // INVARIANT: created just above.
        Ok(Self {
            class: class.ptr,
            devt,
        })
    }
}

impl Drop for DeviceNode {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, the device `devt` exists in `class`.
        unsafe { bindings::device_destroy(self.class, self.devt) };
    }
}

/// A registered [`ReadOnlyDevice`]: device number, class, counter files and device node.
///
/// Dropping it removes `/dev/<NAME>` and `/sys/class/<NAME>`. Fields drop in declaration order,
/// the reverse of creation; a failing [`Registration::new`] drops what it created the same way.
pub(crate) struct Registration<T: ReadOnlyDevice> {
    _device: DeviceNode,
    _files: KVec<ClassFile>,
    _class: Class,
    _chrdev: ChrdevRegion,
    _tables: KBox<Tables>,
    _device_type: PhantomData<T>,
}

impl<T: ReadOnlyDevice> Registration<T> {
    /// Registers the device; `module` owns the open files.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let tables = Tables::new::<T>(module)?;
        // SAFETY: `tables` is dropped after `chrdev` (field order of `Registration`; on an early
        // return, locals drop in reverse order of declaration).
        let chrdev = unsafe { ChrdevRegion::register(T::NAME, &tables.fops) }?;
        let class = Class::create(T::NAME)?;
        let mut files = KVec::with_capacity(tables.attrs.len(), GFP_KERNEL)?;
        for attr in tables.attrs.iter() {
            // SAFETY: `tables` (never written, `Tables` invariant) and `class` both outlive
            // `files`, as above.
            files.push(unsafe { ClassFile::create(&class, &attr.raw) }?, GFP_KERNEL)?;
        }
        let device = DeviceNode::create(&class, chrdev.devt(), T::NAME)?;
        Ok(Self {
            _device: device,
            _files: files,
            _class: class,
            _chrdev: chrdev,
            _tables: tables,
            _device_type: PhantomData,
        })
    }
}

// SAFETY: `Registration` only holds pointers to data that is not written after creation, and
// the C functions its `Drop` calls may run on any thread.
unsafe impl<T: ReadOnlyDevice> Send for Registration<T> {}

// SAFETY: `&Registration` gives access to nothing (all fields are private and unused).
unsafe impl<T: ReadOnlyDevice> Sync for Registration<T> {}

/// `file_operations.open`: asks `T` for the file's state and keeps it in `private_data`.
///
/// # Safety
///
/// Called by the VFS with a valid `file` that no other thread uses yet.
unsafe extern "C" fn open<T: ReadOnlyDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        // SAFETY: `file` is valid (function safety requirement).
        let write = unsafe { (*file).f_mode } & FMODE_WRITE != 0;
        let state = T::open(write)?;
        // SAFETY: `file` is valid and not shared yet; `private_data` belongs to the driver. The
        // state is stored as an integer, never dereferenced.
        unsafe { (*file).private_data = state as *mut c_void };
        Ok(0)
    })
}

/// `file_operations.read`: copies `T::contents` from `*ppos` to user space; 0 at the end.
///
/// # Safety
///
/// Called by the VFS with a valid `file` opened by [`open`], a user buffer `buf` of `count`
/// bytes and a valid `ppos`.
unsafe extern "C" fn read<T: ReadOnlyDevice>(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        // SAFETY: `file` is valid; `private_data` holds the state `open` stored and is not
        // written after open.
        let state = unsafe { (*file).private_data } as usize;
        let contents = T::contents(state)?;
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

/// `class_attribute.show` of a [`Counter`]: prints its value and a newline.
///
/// # Safety
///
/// Called by sysfs with `attr` pointing to the `raw` field of a live [`CounterAttribute`] and
/// `buf` a page-sized buffer.
unsafe extern "C" fn show_counter(
    _class: *const bindings::class,
    attr: *const bindings::class_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: `attr` is the first field of a `#[repr(C)]` `CounterAttribute` in `Tables`, which
    // outlives the sysfs files (function safety requirement, `Tables` invariant).
    let counter = unsafe { &*attr.cast::<CounterAttribute>() };
    let value: u64 = (counter.value)();
    // SAFETY: `buf` is a sysfs page buffer; "%llu\n" takes exactly one `unsigned long long`.
    let written = unsafe { bindings::sysfs_emit(buf, c_str!("%llu\n").as_char_ptr(), value) };
    written as isize
}
