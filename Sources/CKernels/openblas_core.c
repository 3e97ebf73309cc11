// OpenBLAS core-type correction (see CKernels.h). Uses dlsym so that the package still links against an OpenBLAS
// without DYNAMIC_ARCH, or another CBLAS, where this does nothing.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"

/// Cores OpenBLAS picks for CPUs it does not know (or older than AVX2): upgrading from these is safe on a CPU
/// that reports the newer instruction sets.
static int is_pre_avx2_core(const char *name) {
    static const char *generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                    "Coppermine", "Northwood", "Banias", "Sandybridge", "Barcelona", "Bobcat",
                                    "Bulldozer", "Piledriver", "Steamroller", "Excavator", "Opteron", "Athlon"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcasecmp(name, generic[i]) == 0) return 1;
    return 0;
}

static void copy_name(char *core, size_t capacity, const char *name) {
    if (!core || capacity == 0) return;
    strncpy(core, name ? name : "", capacity - 1);
    core[capacity - 1] = 0;
}

int sam2_openblas_upgrade_core(char *core, size_t capacity) {
    copy_name(core, capacity, "");
#if defined(__x86_64__)
    char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!corename) return 0;
    const char *current = corename();
    copy_name(core, capacity, current);
    if (!quit || !init || !current || getenv("OPENBLAS_CORETYPE") || !is_pre_avx2_core(current)) return 0;
    __builtin_cpu_init();
    const char *target = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        target = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        target = "Haswell";
    if (!target) return 0;
    // gotoblas_dynamic_init reads OPENBLAS_CORETYPE only while `gotoblas` is unset; quit unsets it. The variable is
    // removed again afterwards so child processes (e.g. fixture scripts) detect for themselves.
    setenv("OPENBLAS_CORETYPE", target, 1);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    copy_name(core, capacity, corename());
    return strcasecmp(corename(), current) != 0;
#else
    return 0;
#endif
}
