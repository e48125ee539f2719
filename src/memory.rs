//! Giving memory back to the operating system after a load.
//!
//! Loading a definition builds several short-lived copies of it (parsed,
//! converted, deserialised); glibc keeps the freed pages, so the server's
//! resident size would stay at the load's peak for its whole life. One
//! `malloc_trim` after each load returns them.

/// Caps glibc's malloc arenas at two: by default each busy thread may get
/// its own arena, and their free space adds up in the resident size. Call
/// once, before the runtime starts its threads.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` sets an allocator tunable; called before other
    // threads exist, it races with no allocation.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns freed heap pages to the OS where the allocator allows it
/// (glibc on Linux); elsewhere it does nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory held by glibc's
    // allocator; it takes no pointers and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
