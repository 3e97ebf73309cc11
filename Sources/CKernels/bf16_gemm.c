// bfloat16 GEMM: fp32 in and out, bf16-rounded operands, fp32 accumulation.
//
// Goto/BLIS structure: B is packed a (KC × NC) block at a time into panels of NR columns, A a (MC × KC) block at a
// time into panels of MR rows, and an MR × NR micro-kernel runs over every (A panel, B panel) pair. Packing rounds
// to bf16 and stores k in pairs: one 32-bit word holds (x[2p], x[2p+1]) — the operand layout of `vdpbf16ps`, which
// adds both products of a pair into one fp32 lane. Panels are zero-padded (rows/columns past the edge, odd k).
//
//   A panel: word (p, i) at ap[p·MR + i]   (i < MR: row of C, p: k pair) — broadcast by the micro-kernel
//   B panel: word (p, j) at bp[p·NR + j]   (j < NR: column of C)          — loaded as 2 × 16 lanes
//
// Blocking for Zen 4 (32 KiB L1d, 1 MiB L2 per core): a B micro-panel (KC/2 · NR words = 24 KiB) stays in L1 while
// the micro-kernel walks the A block (MC · KC bf16 = 378 KiB, in L2); the B block (KC · NC bf16 = 768 KiB) streams
// from L2/L3. The portable implementation shares the driver and packed layouts, so both round the inputs identically.

#include "CKernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SAM2_HAVE_X86 1
#define SAM2_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#endif

// Measured single-threaded on the Zen 4 machine: KC 256 → 384 took 4096×1152×384 from 169 to 194 GFLOP/s (one
// k block instead of two passes over C); NC 512 → 1024 gained ~5% at n ≥ 2048; MR 14 × NR 32 uses 28 of the 32
// zmm registers as accumulators.
enum { MR = 14, NR = 32, KC = 384, MC = MR * 36, NC = 1024 };

// MARK: - Rounding

/// Bits of `x` plus the round-to-nearest-even bias; the bf16 value is the upper 16 bits (NaN → 0x7FC0 there).
static inline uint32_t rounded_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (x != x) return 0x7FC00000u;
    return u + 0x7FFFu + ((u >> 16) & 1u);
}

uint16_t sam2_bf16_from_float(float x) { return (uint16_t)(rounded_bits(x) >> 16); }

void sam2_bf16_from_floats(const float *src, uint16_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = sam2_bf16_from_float(src[i]);
}

/// A k pair as one packed word: x0 (even k) in the low half, x1 (odd k) in the high half.
static inline uint32_t pair_word(float x0, float x1) {
    return (rounded_bits(x0) >> 16) | (rounded_bits(x1) & 0xFFFF0000u);
}

static inline float bf16_low(uint32_t w) { uint32_t u = w << 16; float f; memcpy(&f, &u, sizeof f); return f; }
static inline float bf16_high(uint32_t w) { uint32_t u = w & 0xFFFF0000u; float f; memcpy(&f, &u, sizeof f); return f; }

// MARK: - Portable packing and micro-kernel

/// Packs element (k, j) = src[k·ld + j] (j contiguous) for k < kc, j < valid into a W-wide panel.
static void pack_rows_portable(const float *src, long ld, long kc, long valid, int w, uint32_t *dst) {
    long pairs = (kc + 1) / 2;
    for (long p = 0; p < pairs; p++) {
        const float *r0 = src + 2 * p * ld, *r1 = r0 + ld;
        int odd = 2 * p + 1 < kc;
        for (int j = 0; j < w; j++)
            dst[p * w + j] = j < valid ? pair_word(r0[j], odd ? r1[j] : 0.0f) : 0u;
    }
}

/// Packs element (k, j) = src[j·ld + k] (k contiguous) for k < kc, j < valid into a W-wide panel.
static void pack_cols_portable(const float *src, long ld, long kc, long valid, int w, uint32_t *dst) {
    long pairs = (kc + 1) / 2;
    for (int j = 0; j < w; j++) {
        const float *row = src + j * ld;
        for (long p = 0; p < pairs; p++)
            dst[p * w + j] = j < valid ? pair_word(row[2 * p], 2 * p + 1 < kc ? row[2 * p + 1] : 0.0f) : 0u;
    }
}

/// Writes alpha·acc (+ beta·C unless beta is 0, when C is not read) into the mr × nr corner of the tile.
static void store_tile(const float *acc, float *c, long ldc, float alpha, float beta, int mr, int nr) {
    for (int i = 0; i < mr; i++) {
        float *cr = c + i * ldc;
        for (int j = 0; j < nr; j++)
            cr[j] = beta == 0.0f ? alpha * acc[i * NR + j] : alpha * acc[i * NR + j] + beta * cr[j];
    }
}

static void kernel_portable(long pairs, const uint32_t *ap, const uint32_t *bp, float *c, long ldc,
                            float alpha, float beta, int mr, int nr) {
    float acc[MR * NR];
    memset(acc, 0, sizeof acc);
    for (long p = 0; p < pairs; p++, ap += MR, bp += NR) {
        float b0[NR], b1[NR];
        for (int j = 0; j < NR; j++) { b0[j] = bf16_low(bp[j]); b1[j] = bf16_high(bp[j]); }
        for (int i = 0; i < mr; i++) {
            float a0 = bf16_low(ap[i]), a1 = bf16_high(ap[i]);
            float *row = acc + i * NR;
            for (int j = 0; j < NR; j++) row[j] += a0 * b0[j] + a1 * b1[j];
        }
    }
    store_tile(acc, c, ldc, alpha, beta, mr, nr);
}

// MARK: - AVX-512 BF16 packing and micro-kernel

#ifdef SAM2_HAVE_X86

/// Bits of 16 floats plus the round-to-nearest-even bias (bf16 in each lane's upper half), NaN → 0x7FC0.
SAM2_AVX512BF16 static inline __m512i rounded_bits16(__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_mask_mov_epi32(r, nan, _mm512_set1_epi32(0x7FC00000));
}

static inline __mmask16 lanes(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

SAM2_AVX512BF16 static void pack_rows_avx(const float *src, long ld, long kc, long valid, int w, uint32_t *dst) {
    long pairs = (kc + 1) / 2;
    for (long p = 0; p < pairs; p++) {
        const float *r0 = src + 2 * p * ld, *r1 = r0 + ld;
        int odd = 2 * p + 1 < kc;
        for (int j = 0; j < w; j += 16) {
            __mmask16 load = lanes(valid - j);
            __m512i lo = _mm512_srli_epi32(rounded_bits16(_mm512_maskz_loadu_ps(load, r0 + j)), 16);
            __m512i hi = _mm512_and_si512(rounded_bits16(_mm512_maskz_loadu_ps(odd ? load : 0, r1 + j)),
                                          _mm512_set1_epi32((int)0xFFFF0000u));
            _mm512_mask_storeu_epi32(dst + p * w + j, lanes(w - j), _mm512_or_si512(lo, hi));
        }
    }
}

/// In-register transpose of a 16 × 16 matrix of 32-bit words (row r in v[r] → column r in v).
SAM2_AVX512BF16 static inline void transpose16(__m512i v[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    // u[4i + c], 128-bit lane L = rows 4i..4i+3 of column 4L + c.
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int c = 0; c < 4; c++) {
        __m512i xlo = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44), xhi = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
        __m512i ylo = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44), yhi = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
        v[c] = _mm512_shuffle_i32x4(xlo, ylo, 0x88);
        v[4 + c] = _mm512_shuffle_i32x4(xlo, ylo, 0xDD);
        v[8 + c] = _mm512_shuffle_i32x4(xhi, yhi, 0x88);
        v[12 + c] = _mm512_shuffle_i32x4(xhi, yhi, 0xDD);
    }
}

/// Rows with k contiguous: each row's 32 k values become 16 pair words; 16 rows at a time are transposed in
/// registers so the panel is written a pair (W words) at a time.
SAM2_AVX512BF16 static void pack_cols_avx(const float *src, long ld, long kc, long valid, int w, uint32_t *dst) {
    long pairs = (kc + 1) / 2;
    // Word 2q+1 of (lo, hi) is the bf16 of element q: the upper half of each rounded lane.
    static const uint16_t odd_words[32] = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
                                           33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
    __m512i pick = _mm512_loadu_si512(odd_words);
    for (int j0 = 0; j0 < w; j0 += 16) {
        __mmask16 store = lanes(w - j0);
        for (long k0 = 0; k0 < kc; k0 += 32) {
            __m512i v[16];
            __mmask16 m0 = lanes(kc - k0), m1 = lanes(kc - k0 - 16);
            for (int r = 0; r < 16; r++) {
                if (j0 + r >= valid) { v[r] = _mm512_setzero_si512(); continue; }
                const float *row = src + (j0 + r) * ld + k0;
                __m512i lo = rounded_bits16(_mm512_maskz_loadu_ps(m0, row));
                __m512i hi = rounded_bits16(_mm512_maskz_loadu_ps(m1, row + 16));
                v[r] = _mm512_permutex2var_epi16(lo, pick, hi);
            }
            transpose16(v);
            long p0 = k0 / 2, count = pairs - p0 < 16 ? pairs - p0 : 16;
            for (long q = 0; q < count; q++) _mm512_mask_storeu_epi32(dst + (p0 + q) * w + j0, store, v[q]);
        }
    }
}

SAM2_AVX512BF16 static void kernel_avx(long pairs, const uint32_t *ap, const uint32_t *bp, float *c, long ldc,
                                       float alpha, float beta, int mr, int nr) {
    __m512 acc[MR][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) { acc[i][0] = _mm512_setzero_ps(); acc[i][1] = _mm512_setzero_ps(); }
    // The C tile is touched once per block, after thousands of cycles of arithmetic: fetch its lines meanwhile
    // (without this, 8 KiB row strides such as 4096 × 2048 outputs ran ~25% slower, stalled on store misses).
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + nr - 1), _MM_HINT_T0);
    }
    for (long p = 0; p < pairs; p++, ap += MR, bp += NR) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(bp), b1 = (__m512bh)_mm512_load_si512(bp + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)ap[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], a, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], a, b1);
        }
    }
    __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if (i < mr) {
            float *cr = c + i * ldc;
            __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
            if (beta != 0.0f) {
                r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), r0);
                r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), r1);
            }
            _mm512_mask_storeu_ps(cr, m0, r0);
            _mm512_mask_storeu_ps(cr + 16, m1, r1);
        }
    }
}

#endif

// MARK: - Driver

typedef void (*pack_fn)(const float *, long, long, long, int, uint32_t *);
typedef void (*kernel_fn)(long, const uint32_t *, const uint32_t *, float *, long, float, float, int, int);

typedef struct {
    pack_fn pack_rows, pack_cols;
    kernel_fn kernel;
} implementation;

static const implementation portable = {pack_rows_portable, pack_cols_portable, kernel_portable};
#ifdef SAM2_HAVE_X86
static const implementation avx512 = {pack_rows_avx, pack_cols_avx, kernel_avx};
#endif

int sam2_bf16_gemm_has_avx512bf16(void) {
#ifdef SAM2_HAVE_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
    }
    return cached;
#else
    return 0;
#endif
}

/// Per-thread packing space: (MC + NC) · KC / 2 words, 64-byte aligned, allocated on a thread's first call and
/// kept for its lifetime (a fresh 1.2 MiB allocation per call would be an mmap + page faults each time).
static uint32_t *packing_buffer(void) {
    static _Thread_local uint32_t *buffer = NULL;
    if (!buffer) buffer = aligned_alloc(64, (size_t)(MC + NC) * (KC / 2) * sizeof(uint32_t));
    return buffer;
}

static void scale_c(long m, long n, float beta, float *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

sam2_bf16_gemm_kernel sam2_bf16_gemm(sam2_bf16_gemm_kernel kernel, int transA, int transB,
                                     long m, long n, long k, float alpha,
                                     const float *a, long lda, const float *b, long ldb,
                                     float beta, float *c, long ldc) {
    const implementation *f = &portable;
    sam2_bf16_gemm_kernel used = SAM2_BF16_GEMM_PORTABLE;
#ifdef SAM2_HAVE_X86
    if (kernel != SAM2_BF16_GEMM_PORTABLE && sam2_bf16_gemm_has_avx512bf16()) {
        f = &avx512;
        used = SAM2_BF16_GEMM_AVX512;
    }
#endif
    if (m <= 0 || n <= 0) return used;
    if (k <= 0 || alpha == 0.0f) { scale_c(m, n, beta, c, ldc); return used; }
    uint32_t *ap = packing_buffer();
    if (!ap) return used;  // out of memory: leaves C untouched (cannot happen short of exhaustion)
    uint32_t *bp = ap + (size_t)MC * (KC / 2);
    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC, pairs = (kc + 1) / 2;
            for (long q = 0; q * NR < nc; q++) {
                long j0 = jc + q * NR, valid = nc - q * NR;
                uint32_t *dst = bp + q * pairs * NR;
                if (transB) f->pack_cols(b + j0 * ldb + pc, ldb, kc, valid, NR, dst);
                else f->pack_rows(b + pc * ldb + j0, ldb, kc, valid, NR, dst);
            }
            float beta_block = pc == 0 ? beta : 1.0f;
            for (long ic = 0; ic < m; ic += MC) {
                long mc = m - ic < MC ? m - ic : MC;
                for (long p = 0; p * MR < mc; p++) {
                    long i0 = ic + p * MR, valid = mc - p * MR;
                    uint32_t *dst = ap + p * pairs * MR;
                    if (transA) f->pack_rows(a + pc * lda + i0, lda, kc, valid, MR, dst);
                    else f->pack_cols(a + i0 * lda + pc, lda, kc, valid, MR, dst);
                }
                for (long q = 0; q * NR < nc; q++) {
                    int nr = nc - q * NR < NR ? (int)(nc - q * NR) : NR;
                    for (long p = 0; p * MR < mc; p++) {
                        int mr = mc - p * MR < MR ? (int)(mc - p * MR) : MR;
                        f->kernel(pairs, ap + p * pairs * MR, bp + q * pairs * NR,
                                  c + (ic + p * MR) * ldc + jc + q * NR, ldc, alpha, beta_block, mr, nr);
                    }
                }
            }
        }
    }
    return used;
}
