//! A byte buffer aligned to 64 bytes (a cache line, and one AVX-512 vector), so that the kernels'
//! full-vector loads of packed weights never straddle cache lines.
//!
//! Large buffers (the weights of a layer) get transparent huge pages where the system allows them
//! (`madvise` mode, the common default, gives them only on request). Decode streams every weight
//! once per token, and the CPU's hardware prefetchers stop at page boundaries: on 4 KiB pages one
//! core reads ~16–19 GB/s, on 2 MiB pages ~22–27 GB/s (measured on the Zen 4 machines this project
//! runs on). On Linux a buffer of 1 MiB or more (`MAPPED`) is a fresh 2 MiB-aligned anonymous
//! mapping advised `MADV_HUGEPAGE` before it is first written, not memory from the allocator:
//! glibc serves large requests from its heap once its dynamic mmap threshold has grown (it grows
//! as large blocks are freed, as model loading does), and heap pages that were touched before stay
//! 4 KiB pages whatever `madvise` says (the 1.5B Qwen had ~40 % of its decode bytes on small pages
//! before). Elsewhere, buffers of 2 MiB or more are 2 MiB-aligned allocations.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Alignment of every buffer.
const LINE: usize = 64;
/// A huge page: the size and alignment of large buffers.
const HUGE: usize = 2 << 20;
/// Size from which a buffer is mapped on its own (Linux): 1 MiB–2 MiB buffers (the 1.5B Qwen's
/// Q and output projections, 1.3 MB each) get one whole huge page, which wastes less than they
/// hold; larger ones get huge pages for each whole 2 MiB and small pages for the rest.
#[cfg(target_os = "linux")]
const MAPPED: usize = HUGE / 2;

pub(crate) struct AlignedBytes {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
}

// SAFETY: the buffer owns its memory exclusively, like a `Vec<u8>`.
unsafe impl Send for AlignedBytes {}
// SAFETY: shared access only reads, like `&Vec<u8>`.
unsafe impl Sync for AlignedBytes {}

impl Default for AlignedBytes {
    fn default() -> Self {
        AlignedBytes {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
        }
    }
}

impl Clone for AlignedBytes {
    fn clone(&self) -> Self {
        let mut copy = AlignedBytes::zeroed(self.len);
        copy.as_mut_slice().copy_from_slice(self.as_slice());
        copy
    }
}

impl Drop for AlignedBytes {
    fn drop(&mut self) {
        if self.cap > 0 {
            // SAFETY: allocated in `grow` with this capacity.
            unsafe { release(self.ptr, self.cap) };
        }
    }
}

/// The layout of a buffer of `cap` bytes (`cap > 0`, a multiple of [`LINE`]).
fn layout(cap: usize) -> Layout {
    let align = if cap >= HUGE { HUGE } else { LINE };
    Layout::from_size_align(cap, align).expect("buffer size overflows")
}

impl AlignedBytes {
    pub(crate) fn zeroed(len: usize) -> Self {
        let mut buf = AlignedBytes::default();
        buf.resize_zeroed(len);
        buf
    }

    /// Sets the length to `len`, reusing the allocation; the contents are zeroed only where the
    /// buffer grows (callers overwrite everything they read).
    pub(crate) fn resize_zeroed(&mut self, len: usize) {
        if len > self.cap {
            self.grow(len);
        }
        if len > self.len {
            // SAFETY: `len <= cap`: the range lies inside the allocation.
            unsafe {
                self.ptr
                    .as_ptr()
                    .add(self.len)
                    .write_bytes(0, len - self.len)
            };
        }
        self.len = len;
    }

    /// Replaces the allocation by one of at least `len` bytes, keeping the first `self.len`.
    fn grow(&mut self, len: usize) {
        let cap = len.next_multiple_of(LINE).max(2 * self.cap);
        let ptr = acquire(cap);
        if self.cap > 0 {
            // SAFETY: both allocations hold at least `self.len` bytes and do not overlap; the
            // old one was allocated with `self.cap`.
            unsafe {
                std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), ptr.as_ptr(), self.len);
                release(self.ptr, self.cap);
            }
        }
        self.ptr = ptr;
        self.cap = cap;
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes from `ptr` are allocated and initialized (zeroed when the length
        // grew, written since); a dangling pointer is fine for `len == 0`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and the borrow is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// A new allocation of `cap` bytes (`cap > 0`, a multiple of [`LINE`]), aligned as [`layout`]
/// says; on Linux, one of `MAPPED` bytes or more is a fresh 2 MiB-aligned anonymous mapping
/// advised `MADV_HUGEPAGE` before anything touches it (see the module doc).
fn acquire(cap: usize) -> NonNull<u8> {
    let new_layout = layout(cap);
    #[cfg(target_os = "linux")]
    if cap >= MAPPED {
        // No fallback to the allocator: `release` tells the two kinds apart by size alone.
        return map_huge(cap).unwrap_or_else(|| alloc::handle_alloc_error(new_layout));
    }
    // SAFETY: `new_layout` has a non-zero size.
    let ptr = unsafe { alloc::alloc(new_layout) };
    let Some(ptr) = NonNull::new(ptr) else {
        alloc::handle_alloc_error(new_layout)
    };
    ptr
}

/// Frees what [`acquire`] returned for `cap`.
///
/// # Safety
/// `ptr` must come from `acquire(cap)` and not be used afterwards.
unsafe fn release(ptr: NonNull<u8>, cap: usize) {
    #[cfg(target_os = "linux")]
    if cap >= MAPPED {
        // SAFETY: `map_huge` mapped exactly `mapped_len(cap)` bytes at `ptr`.
        unsafe { libc::munmap(ptr.as_ptr().cast(), mapped_len(cap)) };
        return;
    }
    // SAFETY: allocated by `acquire` with this layout.
    unsafe { alloc::dealloc(ptr.as_ptr(), layout(cap)) };
}

/// Bytes mapped for a buffer of `cap` bytes: whole 4 KiB pages, or one whole huge page for a
/// buffer smaller than one.
#[cfg(target_os = "linux")]
fn mapped_len(cap: usize) -> usize {
    cap.next_multiple_of(4096).max(HUGE)
}

/// Maps `cap` bytes (rounded up to whole pages) at a 2 MiB boundary: maps 2 MiB more than that,
/// then unmaps the unaligned head and the tail. `None` if the system refuses (out of memory).
#[cfg(target_os = "linux")]
fn map_huge(cap: usize) -> Option<NonNull<u8>> {
    let len = mapped_len(cap);
    let over = len.checked_add(HUGE)?;
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no
    // existing memory.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            over,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return None;
    }
    let start = raw as usize;
    let aligned = start.next_multiple_of(HUGE);
    let (head, tail) = (aligned - start, over - (aligned - start) - len);
    // SAFETY: both ranges lie inside the mapping just made and outside `[aligned, aligned +
    // len)`, which is what we keep; `madvise` changes no contents (and is only advice: where the
    // kernel refuses, the memory stays on small pages).
    unsafe {
        if head > 0 {
            libc::munmap(raw, head);
        }
        if tail > 0 {
            libc::munmap((aligned + len) as *mut libc::c_void, tail);
        }
        libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
    NonNull::new(aligned as *mut u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_zeroed_keeps_contents_and_aligns() {
        let mut b = AlignedBytes::zeroed(100);
        assert_eq!(b.as_slice(), &[0; 100][..]);
        assert_eq!(b.as_slice().as_ptr() as usize % LINE, 0);
        b.as_mut_slice()[99] = 7;
        b.resize_zeroed(HUGE + 1);
        assert_eq!(b.as_slice()[99], 7);
        assert!(b.as_slice()[100..].iter().all(|&v| v == 0));
        assert_eq!(b.as_slice().as_ptr() as usize % HUGE, 0);
        b.resize_zeroed(10);
        b.resize_zeroed(200);
        assert!(
            b.as_slice()[10..].iter().all(|&v| v == 0),
            "regrown bytes are zeroed"
        );
        let c = b.clone();
        assert_eq!(c.as_slice(), b.as_slice());
        assert_eq!(AlignedBytes::default().as_slice(), &[] as &[u8]);
    }

    #[test]
    fn mapped_buffers_of_every_size_class_work() {
        // below, inside and above the 1–2 MiB class that gets one whole huge page on Linux
        for len in [
            HUGE / 2 - LINE,
            HUGE / 2,
            HUGE / 2 + 4096 + 1,
            HUGE - 1,
            3 * HUGE + 5,
        ] {
            let mut b = AlignedBytes::zeroed(len);
            assert!(b.as_slice().iter().all(|&v| v == 0));
            assert_eq!(b.as_slice().as_ptr() as usize % LINE, 0);
            #[cfg(target_os = "linux")]
            if len >= MAPPED {
                assert_eq!(b.as_slice().as_ptr() as usize % HUGE, 0, "{len}");
            }
            b.as_mut_slice().fill(3);
            let c = b.clone();
            drop(b);
            assert!(c.as_slice().iter().all(|&v| v == 3));
        }
    }
}
