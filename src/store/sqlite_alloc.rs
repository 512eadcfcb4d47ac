//! SQLite's own allocations through mimalloc, as Rust's already are (src/main.rs).
//!
//! SQLite calls the system malloc for its statements, cursors and journal pages: a user
//! created made about 150 such calls, over 300 instructions each in glibc, inside the
//! single writer's turn that every write waits for. SQLite takes the allocator from
//! `sqlite3_config`, which only works before SQLite is first used in the process.

// The one place that needs unsafe: SQLite's allocator is set through its C API.
#![allow(unsafe_code)]

use rusqlite::ffi;
use std::ffi::{c_int, c_void};

// SAFETY (all five): SQLite calls these exactly as malloc/free/realloc and
// malloc_usable_size, with pointers it got from them; mimalloc's functions take the same
// arguments, accept null where the C ones do, and align to 16 bytes (SQLite needs 8).

unsafe extern "C" fn malloc(size: c_int) -> *mut c_void {
    // SQLite never asks for a negative size; treat one as zero.
    unsafe { libmimalloc_sys::mi_malloc(usize::try_from(size).unwrap_or(0)) }
}

unsafe extern "C" fn free(ptr: *mut c_void) {
    unsafe { libmimalloc_sys::mi_free(ptr) }
}

unsafe extern "C" fn realloc(ptr: *mut c_void, size: c_int) -> *mut c_void {
    unsafe { libmimalloc_sys::mi_realloc(ptr, usize::try_from(size).unwrap_or(0)) }
}

unsafe extern "C" fn size(ptr: *mut c_void) -> c_int {
    let n = unsafe { libmimalloc_sys::mi_usable_size(ptr) };
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn roundup(size: c_int) -> c_int {
    let n = unsafe { libmimalloc_sys::mi_good_size(usize::try_from(size).unwrap_or(0)) };
    c_int::try_from(n).unwrap_or(size)
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn shutdown(_: *mut c_void) {}

/// Makes SQLite allocate through mimalloc. Call before any database is opened; returns
/// false (and SQLite keeps the system malloc) when SQLite was already in use.
pub fn use_mimalloc() -> bool {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(malloc),
        xFree: Some(free),
        xRealloc: Some(realloc),
        xSize: Some(size),
        xRoundup: Some(roundup),
        xInit: Some(init),
        xShutdown: Some(shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLITE_CONFIG_MALLOC takes one pointer to a sqlite3_mem_methods, which
    // SQLite copies before returning, so `methods` need not outlive the call. SQLite
    // refuses (SQLITE_MISUSE) once it is initialised rather than swap allocators under
    // live allocations.
    let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &raw const methods) };
    rc == ffi::SQLITE_OK
}

#[cfg(test)]
mod tests {
    /// Once a connection is open, SQLite's allocator stays what it was: memory it handed
    /// out is never freed by another allocator.
    #[test]
    fn the_allocator_is_not_swapped_once_sqlite_is_in_use() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        assert!(!super::use_mimalloc());
        let n: i64 = conn.query_row("SELECT 40 + 2", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 42);
    }
}
