//! A byte buffer aligned to 64 bytes (a cache line, and one AVX-512 vector), so that the kernels'
//! full-vector loads of packed weights never straddle cache lines.

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([u8; 64]);

const LINE: usize = std::mem::size_of::<Line>();

#[derive(Clone, Default)]
pub(crate) struct AlignedBytes {
    lines: Vec<Line>,
    len: usize,
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
        self.lines.resize(len.div_ceil(LINE), Line([0; LINE]));
        self.len = len;
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `lines` holds `lines.len() * 64 >= len` initialized bytes; `Line` is plain bytes.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<u8>(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and the borrow is unique.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<u8>(), self.len) }
    }
}
