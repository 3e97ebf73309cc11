#ifndef SAM2_CKERNELS_H
#define SAM2_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Which bfloat16 GEMM implementation runs.
typedef enum {
    /// The AVX-512 BF16 kernel when the CPU has it, else the portable one.
    SAM2_BF16_GEMM_AUTOMATIC = 0,
    /// Plain C (fp32 multiply-adds of the bf16-rounded inputs); runs on any CPU.
    SAM2_BF16_GEMM_PORTABLE = 1,
    /// `vdpbf16ps` micro-kernel; falls back to the portable one when the CPU lacks AVX512_BF16.
    SAM2_BF16_GEMM_AVX512 = 2,
} sam2_bf16_gemm_kernel;

/// bfloat16 bits of `x`, rounded to nearest even as PyTorch's `x.to(torch.bfloat16)` on CPU
/// (subnormals kept, overflow to infinity, every NaN becomes the quiet NaN 0x7FC0).
uint16_t sam2_bf16_from_float(float x);

/// Rounds `count` floats to bfloat16 bits (same rule as `sam2_bf16_from_float`).
void sam2_bf16_from_floats(const float *src, uint16_t *dst, size_t count);

/// 1 when this CPU runs the AVX-512 BF16 kernel (AVX512F, AVX512BW, AVX512VL and AVX512_BF16), else 0.
int sam2_bf16_gemm_has_avx512bf16(void);

/// C[m×n] = alpha·op(A)·op(B) + beta·C on row-major fp32 buffers (op(X) = Xᵀ when transX ≠ 0; lda/ldb/ldc are
/// row strides in floats, as cblas_sgemm with CblasRowMajor). A and B are rounded to bfloat16 (as
/// `sam2_bf16_from_float`), their products accumulated in fp32. With beta == 0, C is not read. Runs in the
/// calling thread only (callers split rows or columns to spread it); keeps a per-thread packing buffer (~1.2 MiB)
/// that lives as long as the thread. Returns the kernel that ran.
sam2_bf16_gemm_kernel sam2_bf16_gemm(sam2_bf16_gemm_kernel kernel, int transA, int transB,
                                     long m, long n, long k, float alpha,
                                     const float *a, long lda, const float *b, long ldb,
                                     float beta, float *c, long ldc);

/// Makes OpenBLAS use the kernels this CPU can run when its start-up detection fell back to a generic x86-64 one
/// (Debian's 0.3.21 knows no CPU newer than Sapphire Rapids and runs "Prescott" SSE3 kernels on, e.g., Emerald
/// Rapids: sgemm ~2× slower). Acts only when OPENBLAS_CORETYPE is unset, the library is a DYNAMIC_ARCH build
/// (`gotoblas_dynamic_init` exported) and its choice is a pre-AVX2 core on an AVX2 / AVX-512 CPU; it re-runs
/// OpenBLAS's dynamic initialisation with "Haswell" or "SkylakeX". Call once, before the first BLAS call.
/// Writes the core in use to `core` (empty when unknown) and returns 1 when it changed it, else 0.
int sam2_openblas_upgrade_core(char *core, size_t capacity);

/// Makes glibc's malloc keep freed memory for reuse instead of returning it to the kernel: blocks up to 32 MiB come
/// from the heap (no per-block mmap/munmap), the heap top is not trimmed below 2 GiB and grows in 256 MiB steps. A
/// training step builds and frees gigabytes of tape activations; with glibc's defaults much of it goes back to the
/// kernel after each step and comes back as fresh zeroed pages (page faults) in the next. Costs resident memory
/// (the peak stays mapped). Returns 1 when glibc accepted all three settings, 0 elsewhere (other C libraries).
int sam2_malloc_retain_freed_memory(void);

/// glibc's heap counters (mallinfo2): blocks mapped on their own, bytes in use, bytes of the heap (main arena) in
/// `out[0…2]`. Returns 1 on glibc, 0 elsewhere (out untouched). For tests of the settings above.
int sam2_malloc_statistics(size_t out[3]);

#ifdef __cplusplus
}
#endif

#endif
