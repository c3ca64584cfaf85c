//! A hint to the CPU's caches, for the few places where synack touches
//! memory it wrote long ago in a predictable order (events held by the
//! merge under a flood).

/// Asks the CPU to bring `value`'s memory into its caches (a hint: nothing
/// is read, nothing can fault); nothing on other machines.
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = std::ptr::from_ref(value).cast::<i8>();
        let mut line = 0;
        while line < std::mem::size_of::<T>() {
            // SAFETY: a prefetch is a hint that never faults, whatever the
            // address; `wrapping_add` keeps the pointer arithmetic defined;
            // SSE, which the instruction needs, is part of x86_64.
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(line));
            }
            line += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
