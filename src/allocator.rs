//! Process-wide tuning of glibc's allocator (part of the binary, not the library: a library
//! must not change how its host process allocates).
//!
//! Ingest hands multi-megabyte Arrow buffers from the threads that fill them to the thread that
//! encodes them. With glibc's defaults a block that size is returned to the kernel when it is
//! freed (`munmap`, or trimming the top of a heap) and the next chunk faults fresh zeroed pages
//! back in: on 60 days of large app-XML messages a third of ingest's time went to page faults
//! and zeroing. Keeping blocks of up to 32 MiB in the heap, and up to 256 MiB of free space at
//! its top, lets them be reused; peak memory barely moves because the same sizes recur.

/// Apply the tuning; call once, before any thread starts.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread
    // exists, and a failure (return 0) just leaves glibc's default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
