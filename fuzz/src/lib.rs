//! What every fuzz target shares: an allocation bound.
//!
//! libFuzzer's `-malloc_limit_mb` needs a sanitizer's malloc hooks, and `-rss_limit_mb` only sees
//! memory that is touched, so with `--sanitizer none` a reader that *reserves* gigabytes on a
//! lying header (`Vec::with_capacity(declared)`) would go unnoticed. [`Guard`] is the global
//! allocator of every target: while an input runs ([`Bound::for_input`]) any single allocation
//! or reallocation larger than [`limit`] bytes prints what it was and aborts, which libFuzzer
//! reports as a crash and saves as an artifact.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Deflate expands at most about 1032:1, so no honest reader needs more than this times its
/// (compressed) input for the data it decodes.
pub const DEFLATE_MAX_RATIO: usize = 1032;
/// What a reader may reserve whatever the input: the CIFAR-10 reader reserves up to one official
/// batch (30.7 MB) for an archive entry before its data arrives, by design.
pub const FIXED_ALLOWANCE: usize = 64 << 20;

static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);

/// The largest single allocation allowed for an input of `len` bytes: the fixed allowance plus
/// twice (a `Vec` doubling its capacity) what deflate could expand the whole input to.
pub fn limit(len: usize) -> usize {
    FIXED_ALLOWANCE.saturating_add(len.saturating_mul(2 * DEFLATE_MAX_RATIO))
}

/// The global allocator of the fuzz targets: the system allocator with the bound above.
pub struct Guard;

#[cold]
fn too_large(size: usize) -> ! {
    let (limit, len) = (
        LIMIT.load(Ordering::Relaxed),
        INPUT_LEN.load(Ordering::Relaxed),
    );
    // Formatting integers into a fixed buffer allocates nothing.
    let mut buf = [0u8; 256];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = writeln!(
        cursor,
        "fuzz allocation bound: one allocation of {size} bytes for a {len}-byte input (limit {limit})"
    );
    let end = cursor.position() as usize;
    let _ = std::io::stderr().write_all(&buf[..end]);
    std::process::abort();
}

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT.load(Ordering::Relaxed) {
            too_large(layout.size());
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT.load(Ordering::Relaxed) {
            too_large(layout.size());
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > LIMIT.load(Ordering::Relaxed) {
            too_large(new_size);
        }
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

/// The bound in force while it lives (one fuzz input); unbounded again when dropped.
pub struct Bound(());

impl Bound {
    pub fn for_input(data: &[u8]) -> Bound {
        INPUT_LEN.store(data.len(), Ordering::Relaxed);
        LIMIT.store(limit(data.len()), Ordering::Relaxed);
        Bound(())
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        LIMIT.store(usize::MAX, Ordering::Relaxed);
    }
}

/// Makes [`Guard`] the global allocator of a fuzz target (once, at the top level); each input
/// then starts with `let _bound = Bound::for_input(data);`.
#[macro_export]
macro_rules! guard_allocations {
    () => {
        #[global_allocator]
        static GUARD: $crate::Guard = $crate::Guard;
    };
}
