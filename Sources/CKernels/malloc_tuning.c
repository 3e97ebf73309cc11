// glibc allocator settings for training (see CKernels.h).
#include "CKernels.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int sam2_malloc_retain_freed_memory(void) {
#if defined(__GLIBC__)
    // Setting M_MMAP_THRESHOLD also turns off glibc's dynamic threshold, so it stays at 32 MiB (its 64-bit maximum).
    int ok = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    ok &= mallopt(M_TRIM_THRESHOLD, 2047 * 1024 * 1024);
    ok &= mallopt(M_TOP_PAD, 256 * 1024 * 1024);
    return ok ? 1 : 0;
#else
    return 0;
#endif
}

int sam2_malloc_statistics(size_t out[3]) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    out[0] = info.hblks;
    out[1] = info.uordblks;
    out[2] = info.arena;
    return 1;
#else
    (void)out;
    return 0;
#endif
}
