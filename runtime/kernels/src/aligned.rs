//! A byte buffer aligned to 64 bytes (a cache line, and one AVX-512 vector), so that the kernels'
//! full-vector loads of packed weights never straddle cache lines.
//!
//! Buffers of 2 MiB and more (the weights of a layer) are aligned to 2 MiB and, on Linux, marked
//! `MADV_HUGEPAGE` before they are first written, so that they get transparent huge pages where
//! the system allows them (`madvise` mode, the common default, gives them only on request). Decode
//! streams every weight once per token, and the CPU's hardware prefetchers stop at page
//! boundaries: on 4 KiB pages one core reads ~16–19 GB/s, on 2 MiB pages ~22–27 GB/s (measured on
//! the Zen 4 machines this project runs on).

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Alignment of every buffer.
const LINE: usize = 64;
/// Size (and alignment) from which a buffer asks for huge pages.
const HUGE: usize = 2 << 20;

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
            // SAFETY: allocated in `grow` with exactly this layout.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), layout(self.cap)) };
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
        let new_layout = layout(cap);
        // SAFETY: `new_layout` has a non-zero size.
        let ptr = unsafe { alloc::alloc(new_layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            alloc::handle_alloc_error(new_layout)
        };
        if cap >= HUGE {
            advise_huge_pages(ptr.as_ptr(), cap);
        }
        if self.cap > 0 {
            // SAFETY: both allocations hold at least `self.len` bytes and do not overlap; the
            // old one was allocated with `layout(self.cap)`.
            unsafe {
                std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), ptr.as_ptr(), self.len);
                alloc::dealloc(self.ptr.as_ptr(), layout(self.cap));
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

/// Asks for transparent huge pages on `[ptr, ptr + len)` (2 MiB-aligned, not yet written).
/// Only advice: where the kernel refuses, the memory simply stays on small pages.
#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *mut u8, len: usize) {
    // SAFETY: the range is one live allocation of ours; `madvise` changes no contents.
    unsafe { libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *mut u8, _len: usize) {}

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
}
