/* Dropout for CPU training in one pass over memory: random bits, mask and product (dropout.py).
 *
 * The random bits come from a counter-based generator, so that backward can make the same mask
 * again from the key instead of keeping it: word j of a mask keyed by `key` is
 * splitmix64(key + (j + 1) * golden), the j-th output of Steele, Lea and Flood's SplitMix64
 * seeded with `key`. Element i reads the 16-bit lane i % 4 of word i / 4 (little-endian) and is
 * kept iff the lane's low 15 bits are >= threshold. Kept elements are multiplied by the scale,
 * dropped ones by 0, and bf16 products are rounded to nearest even as torch rounds them, so that
 * `dropout.keep_mask` (the same masks in torch operations, for machines without this
 * library) gives the same numbers bit for bit. With relu = 1 the input goes through relu first
 * (the Transformer's feed-forward layers), and `nmt_relu_dropout_grad` gives that pair's
 * gradient from its output alone.
 *
 * Built by setup.py where a C compiler is found; loaded through ctypes, which releases the GIL.
 * Large tensors are shared among torch's own OpenMP threads: this library links the same libgomp
 * (soname libgomp.so.1) that torch has already loaded, so its parallel regions run on torch's
 * thread pool. A pool of its own would wait behind torch's, whose threads spin for a while after
 * each operator on the same cores.
 */
#include "kernel_common.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define PARALLEL_MIN 262144  // elements below which one thread does it all (a decoder step's)

enum { DTYPE_BF16 = 0, DTYPE_FP32 = 1 };

#define GOLDEN 0x9E3779B97F4A7C15ULL

static inline uint64_t splitmix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* relu(v) where asked, as torch.relu: negative values become 0; -0 and NaN stay. */
static inline float relu_if(int relu, float v) { return relu && v < 0.0f ? 0.0f : v; }

/* Elements [begin, end) in plain C, one word per four elements: the reference, the tail of the
 * SIMD path, and the path of CPUs without AVX-512. `begin` is a multiple of 4. */
static void apply_portable(int dtype, uint64_t key, const void *x, void *y, int64_t begin, int64_t end,
                           uint16_t threshold, uint32_t pattern, int relu) {
    float scale;
    if (dtype == DTYPE_BF16)
        scale = bf16_to_float((uint16_t)pattern);
    else
        memcpy(&scale, &pattern, sizeof scale);
    for (int64_t i = begin; i < end; i += 4) {
        const uint64_t word = splitmix64(key + (uint64_t)(i / 4 + 1) * GOLDEN);
        const int lanes = end - i < 4 ? (int)(end - i) : 4;
        float factor[4];
        for (int lane = 0; lane < 4; lane++)
            factor[lane] = ((word >> (16 * lane)) & 0x7FFF) >= threshold ? scale : 0.0f;
        if (dtype == DTYPE_BF16) {
            const uint16_t *in = (const uint16_t *)x + i;
            uint16_t *out = (uint16_t *)y + i;
            for (int lane = 0; lane < lanes; lane++)
                out[lane] = float_to_bf16(relu_if(relu, bf16_to_float(in[lane])) * factor[lane]);
        } else {
            const float *in = (const float *)x + i;
            float *out = (float *)y + i;
            for (int lane = 0; lane < lanes; lane++) out[lane] = relu_if(relu, in[lane]) * factor[lane];
        }
    }
}

#ifdef HAVE_AVX512_PATH

/* Eight words at once: counters c, c + golden, ..., mixed as in `splitmix64`. */
AVX512_TARGET static inline __m512i splitmix64_x8(__m512i z) {
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                           _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ULL));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                           _mm512_set1_epi64((long long)0x94D049BB133111EBULL));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* relu(x) as `relu_if` takes it: negative lanes become 0; -0 and NaN stay. */
AVX512_TARGET static inline __m512 relu16(int relu, __m512 x) {
    if (!relu) return x;
    return _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_setzero_ps());
}

/* 16 floats rounded to bf16 as `float_to_bf16` rounds them (NaN included). */
AVX512_TARGET static inline __m256i to_bf16_x16(__m512 p) {
    __m512i u = _mm512_castps_si512(p);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    u = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
    u = _mm512_mask_mov_epi32(u, _mm512_cmp_ps_mask(p, p, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
    return _mm512_cvtepi32_epi16(u);
}

AVX512_TARGET static inline __m512 from_bf16_x16(__m256i x) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(x), 16));
}

/* 16 bf16 values (after relu where asked) times 0 or scale, rounded to bf16. */
AVX512_TARGET static inline __m256i product_bf16_x16(__m256i x, __mmask16 keep, __m512 scale, int relu) {
    const __m512 xf = relu16(relu, from_bf16_x16(x));
    /* x times the mask's value, not a masked move: -x * 0 is -0 and NaN * 0 NaN, as in torch */
    return to_bf16_x16(_mm512_mul_ps(xf, _mm512_maskz_mov_ps(keep, scale)));
}

/* Elements [begin, end) 32 a step: 8 words are 32 lanes, lane k for element k of the block;
 * `begin` is a multiple of 32. */
AVX512_TARGET static void apply_avx512(int dtype, uint64_t key, const void *x, void *y, int64_t begin, int64_t n,
                                       uint16_t threshold, uint32_t pattern, int relu) {
    const __m512i low15 = _mm512_set1_epi16(0x7FFF);
    const __m512i thr = _mm512_set1_epi16((short)threshold);
    const __m512i step = _mm512_set1_epi64((long long)(8 * GOLDEN));
    const long long first = (long long)(begin / 4);  // the block's first word
    __m512i counter = _mm512_add_epi64(
        _mm512_set1_epi64((long long)key),
        _mm512_mullo_epi64(_mm512_add_epi64(_mm512_set1_epi64(first), _mm512_set_epi64(8, 7, 6, 5, 4, 3, 2, 1)),
                           _mm512_set1_epi64((long long)GOLDEN)));
    int64_t i = begin;
    if (dtype == DTYPE_BF16) {
        const __m512 scale = _mm512_set1_ps(bf16_to_float((uint16_t)pattern));
        const uint16_t *in = x;
        uint16_t *out = y;
        for (; i + 32 <= n; i += 32, counter = _mm512_add_epi64(counter, step)) {
            const __m512i bits = _mm512_and_si512(splitmix64_x8(counter), low15);
            const __mmask32 keep = _mm512_cmpge_epu16_mask(bits, thr);
            const __m512i xs = _mm512_loadu_si512((const void *)(in + i));
            const __m256i lo = product_bf16_x16(_mm512_castsi512_si256(xs), (__mmask16)keep, scale, relu);
            const __m256i hi = product_bf16_x16(_mm512_extracti64x4_epi64(xs, 1), (__mmask16)(keep >> 16), scale, relu);
            _mm512_storeu_si512((void *)(out + i), _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
        }
    } else {
        float f;
        memcpy(&f, &pattern, sizeof f);
        const __m512 scale = _mm512_set1_ps(f);
        const float *in = x;
        float *out = y;
        for (; i + 32 <= n; i += 32, counter = _mm512_add_epi64(counter, step)) {
            const __m512i bits = _mm512_and_si512(splitmix64_x8(counter), low15);
            const __mmask32 keep = _mm512_cmpge_epu16_mask(bits, thr);
            const __m512 lo = _mm512_maskz_mov_ps((__mmask16)keep, scale);
            const __m512 hi = _mm512_maskz_mov_ps((__mmask16)(keep >> 16), scale);
            _mm512_storeu_ps(out + i, _mm512_mul_ps(relu16(relu, _mm512_loadu_ps(in + i)), lo));
            _mm512_storeu_ps(out + i + 16, _mm512_mul_ps(relu16(relu, _mm512_loadu_ps(in + i + 16)), hi));
        }
    }
    apply_portable(dtype, key, x, y, i, n, threshold, pattern, relu);
}

/* grad * scale where y > 0, else 0, 16 bf16 elements a step; returns how many it did (the
 * caller does the rest in plain C). */
AVX512_TARGET static int64_t relu_grad_avx512(const uint16_t *y, const uint16_t *grad, uint16_t *out, int64_t n,
                                              float scale) {
    const __m512 s = _mm512_set1_ps(scale);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 yf = from_bf16_x16(_mm256_loadu_si256((const void *)(y + i)));
        const __mmask16 live = _mm512_cmp_ps_mask(yf, _mm512_setzero_ps(), _CMP_GT_OQ);
        const __m512 g = from_bf16_x16(_mm256_loadu_si256((const void *)(grad + i)));
        _mm256_storeu_si256((void *)(out + i), to_bf16_x16(_mm512_maskz_mov_ps(live, _mm512_mul_ps(g, s))));
    }
    return i;
}

#endif

/* This thread's share [begin, end) of n elements in `blocks` blocks of 32 (the last share takes
 * the tail); all of it outside a parallel region. */
static void split(int64_t blocks, int64_t n, int64_t *begin, int64_t *end) {
#ifdef _OPENMP
    const int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t per = (blocks + threads - 1) / threads;
    *begin = (me * per < blocks ? me * per : blocks) * 32;
    *end = me == threads - 1 ? n : ((me + 1) * per < blocks ? (me + 1) * per : blocks) * 32;
#else
    (void)blocks;
    *begin = 0;
    *end = n;
#endif
}

/* 1 where calls with simd = 1 take the AVX-512 path on this CPU, 0 where they take plain C. */
int nmt_dropout_simd(void) {
#ifdef HAVE_AVX512_PATH
    return has_avx512();
#else
    return 0;
#endif
}

/* y = x * mask over n elements (y may be x), or relu(x) * mask with relu = 1; returns 0, or -1
 * for an unknown dtype. `pattern` is the bit pattern of the scale in the dtype; simd = 0 forces
 * plain C (tests compare the two paths). */
int nmt_dropout(int dtype, uint64_t key, const void *x, void *y, int64_t n, int threshold, uint32_t pattern,
                int relu, int simd) {
    if (dtype != DTYPE_BF16 && dtype != DTYPE_FP32) return -1;
#ifdef HAVE_AVX512_PATH
    const int wide = simd && has_avx512();
#else
    const int wide = 0;
    (void)simd;
#endif
    /* Blocks of 32 elements shared among torch's OpenMP threads (see above): every
     * element's bits depend on its index only, so any split gives the same numbers. */
    const int64_t blocks = n / 32;
#pragma omp parallel if (n >= PARALLEL_MIN)
    {
        int64_t begin = 0, end = n;
        split(blocks, n, &begin, &end);
#ifdef HAVE_AVX512_PATH
        if (wide) apply_avx512(dtype, key, x, y, begin, end, (uint16_t)threshold, pattern, relu);
#endif
        if (!wide) apply_portable(dtype, key, x, y, begin, end, (uint16_t)threshold, pattern, relu);
    }
    return 0;
}

/* The gradient of relu then dropout from its output y alone, for bf16: out = grad * scale where
 * y > 0 (the element was positive and kept), else 0. `pattern` is the scale's bf16 bits. */
void nmt_relu_dropout_grad(const uint16_t *y, const uint16_t *grad, uint16_t *out, int64_t n, uint32_t pattern,
                           int simd) {
    const float scale = bf16_to_float((uint16_t)pattern);
    const int64_t blocks = n / 32;
#pragma omp parallel if (n >= PARALLEL_MIN)
    {
        int64_t begin = 0, end = n;
        split(blocks, n, &begin, &end);
        int64_t i = begin;
#ifdef HAVE_AVX512_PATH
        if (simd && has_avx512()) i += relu_grad_avx512(y + begin, grad + begin, out + begin, end - begin, scale);
#endif
        for (; i < end; i++) out[i] = bf16_to_float(y[i]) > 0.0f ? float_to_bf16(bf16_to_float(grad[i]) * scale) : 0;
    }
    (void)simd;
}
