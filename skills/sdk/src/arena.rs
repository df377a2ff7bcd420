//! The skill's global allocator on wasm32: a bump arena over the linear
//! memory the module starts with beyond its static data, then the standard
//! allocator.
//!
//! Every call runs in a fresh instance, so a call that allocates within the
//! memory its module declares never executes `memory.grow`. That matters to
//! the host: growing makes it unprotect pages of the instance's slot
//! (`mprotect`), and reusing the slot for the next call protects them again,
//! a TLB shootdown across every host thread; together most of the cost of a
//! small call on a busy host. `govassist skill build` links each skill with
//! headroom for this arena (`--initial-heap`); without it the arena is the
//! rest of the last page and everything else goes to the standard allocator.
//!
//! Freed arena memory is reused only when it is the most recent allocation
//! (vectors and strings growing at the top grow in place); anything else
//! stays used until the call ends, so at most the arena's size is ever
//! wasted. Larger or later allocations go to the standard allocator, which
//! frees and reuses as usual.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use std::alloc::System;

const WASM_PAGE: usize = 64 << 10;

extern "C" {
    /// Where the linker put the end of static data and the stack.
    static __heap_base: u8;
}

pub struct Arena {
    /// First free byte; 0 until the first allocation.
    next: Cell<usize>,
    /// End of the arena: the memory size the instance started with.
    end: Cell<usize>,
}

// Skills are single-threaded (wasm32 without shared memory).
unsafe impl Sync for Arena {}

impl Arena {
    pub const fn new() -> Arena {
        Arena {
            next: Cell::new(0),
            end: Cell::new(0),
        }
    }

    fn start(&self) -> usize {
        core::ptr::addr_of!(__heap_base) as usize
    }

    /// Claim `[__heap_base, memory size)` on first use: the standard
    /// allocator only ever takes memory it grows, above that.
    fn init(&self) {
        if self.next.get() == 0 {
            let start = self.start();
            let end = core::arch::wasm32::memory_size(0) * WASM_PAGE;
            self.next.set(start);
            self.end.set(end.max(start));
        }
    }

    fn owns(&self, ptr: *mut u8) -> bool {
        let p = ptr as usize;
        p >= self.start() && p < self.end.get()
    }

    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        self.init();
        let start = self.next.get().checked_add(layout.align() - 1)? & !(layout.align() - 1);
        let end = start.checked_add(layout.size())?;
        (end <= self.end.get()).then(|| {
            self.next.set(end);
            start as *mut u8
        })
    }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            None => System.alloc(layout),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            // Arena memory may have been used and released (see `dealloc`).
            Some(ptr) => {
                ptr.write_bytes(0, layout.size());
                ptr
            }
            None => System.alloc_zeroed(layout),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.owns(ptr) {
            return System.dealloc(ptr, layout);
        }
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(ptr) {
            return System.realloc(ptr, layout, new_size);
        }
        let p = ptr as usize;
        // The newest allocation grows or shrinks in place while it fits.
        if p + layout.size() == self.next.get() && p + new_size <= self.end.get() {
            self.next.set(p + new_size);
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = self.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size());
            self.dealloc(ptr, layout);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Arena = Arena::new();
