/* Label-smoothed cross-entropy rows and their gradient in two passes over bf16 logits (loss.py).
 *
 * For each row z (V logits) with target y, smoothing e and m = max z:
 *
 *     loss = log Σ exp(z - m) - (1 - e)(z_y - m) - (e / V) Σ (z - m)
 *     grad = softmax(z) - e / V - (1 - e) onehot(y), rounded to bf16 to nearest even
 *
 * every term relative to the row maximum, as loss.py's torch operations compute it. Rows whose
 * target is `ignore` get loss 0 and gradient 0. torch's operations made seven passes over an
 * fp32 copy of the logits (the copy, two maxima, softmax, a sum, two in-place updates) and one
 * more to round the gradient to bf16: here one pass reads the row for its maximum and sum, one
 * for Σ exp, and one writes the gradient, the row staying in the core's cache between them.
 *
 * Rows are shared among torch's OpenMP threads: this library links the same libgomp (soname
 * libgomp.so.1) that torch has already loaded, so its parallel regions run on torch's thread
 * pool rather than a second one competing for the cores. Built by setup.py with the dropout
 * kernel; where it is missing, loss.py uses torch's operations (the tests compare the two).
 */
#include <math.h>

#include "kernel_common.h"

/* One row's loss, and its gradient into `g` when `g` is not NULL: plain C, the reference and
 * the path of CPUs without AVX-512. */
static float row_portable(const uint16_t *z, int64_t vocab, int64_t y, float smoothing, uint16_t *g) {
    float m = -INFINITY;
    double total = 0.0, sum_exp = 0.0;  // one running sum, where torch's run in many lanes
    for (int64_t v = 0; v < vocab; v++) {
        const float x = bf16_to_float(z[v]);
        m = x > m ? x : m;
        total += x;
    }
    for (int64_t v = 0; v < vocab; v++) sum_exp += expf(bf16_to_float(z[v]) - m);
    if (g != NULL) {
        const float inv = (float)(1.0 / sum_exp), floor = smoothing / (float)vocab;
        for (int64_t v = 0; v < vocab; v++) g[v] = float_to_bf16(expf(bf16_to_float(z[v]) - m) * inv - floor);
        g[y] = float_to_bf16(expf(bf16_to_float(z[y]) - m) * inv - floor - (1.0f - smoothing));
    }
    const float z_y = bf16_to_float(z[y]) - m, z_sum = (float)(total - (double)vocab * m);
    return (float)log(sum_exp) - (1.0f - smoothing) * z_y - (smoothing / (float)vocab) * z_sum;
}

#ifdef HAVE_AVX512_PATH
/* The same row in AVX-512, 16 logits at a time; a vocabulary that is not a multiple of 16
 * leaves its last few logits to plain C. */
AVX512_TARGET static float row_avx512(const uint16_t *z, int64_t vocab, int64_t y, float smoothing, uint16_t *g) {
    const int64_t body = vocab - vocab % 16;
    __m512 vmax = _mm512_set1_ps(-INFINITY), vsum = _mm512_setzero_ps();
    for (int64_t v = 0; v < body; v += 16) {
        const __m512 x = load_bf16(z + v);
        vmax = _mm512_max_ps(vmax, x);
        vsum = _mm512_add_ps(vsum, x);
    }
    float m = _mm512_reduce_max_ps(vmax), total = _mm512_reduce_add_ps(vsum);
    for (int64_t v = body; v < vocab; v++) {
        const float x = bf16_to_float(z[v]);
        m = x > m ? x : m;
        total += x;
    }
    const __m512 vm = _mm512_set1_ps(m);
    __m512 vexp = _mm512_setzero_ps();
    for (int64_t v = 0; v < body; v += 16) vexp = _mm512_add_ps(vexp, exp_nonpositive(_mm512_sub_ps(load_bf16(z + v), vm)));
    float sum_exp = _mm512_reduce_add_ps(vexp);
    for (int64_t v = body; v < vocab; v++) sum_exp += expf(bf16_to_float(z[v]) - m);
    if (g != NULL) {
        const float inv = 1.0f / sum_exp, floor = smoothing / (float)vocab;
        const __m512 vinv = _mm512_set1_ps(inv), vfloor = _mm512_set1_ps(floor);
        for (int64_t v = 0; v < body; v += 16) {
            const __m512 e = exp_nonpositive(_mm512_sub_ps(load_bf16(z + v), vm));
            store_bf16(g + v, _mm512_fmsub_ps(e, vinv, vfloor));
        }
        for (int64_t v = body; v < vocab; v++) g[v] = float_to_bf16(expf(bf16_to_float(z[v]) - m) * inv - floor);
        const __m512 ey = exp_nonpositive(_mm512_set1_ps(bf16_to_float(z[y]) - m));
        g[y] = float_to_bf16(_mm512_cvtss_f32(ey) * inv - floor - (1.0f - smoothing));
    }
    const float z_y = bf16_to_float(z[y]) - m, z_sum = total - (float)vocab * m;
    return logf(sum_exp) - (1.0f - smoothing) * z_y - (smoothing / (float)vocab) * z_sum;
}

#endif

/* 1 where this CPU takes the AVX-512 path. */
int nmt_loss_simd(void) {
#ifdef HAVE_AVX512_PATH
    return has_avx512();
#else
    return 0;
#endif
}

/* Rows of bf16 logits (rows x vocab, contiguous) with their targets -> each row's loss, and
 * each row's bf16 gradient into `grad` (rows x vocab, contiguous) unless it is NULL. */
void nmt_smoothed_ce_rows(const uint16_t *logits, int64_t rows, int64_t vocab, const int64_t *target, int64_t ignore,
                          float smoothing, float *loss, uint16_t *grad, int simd) {
#ifdef HAVE_AVX512_PATH
    const int wide = simd && has_avx512();
#else
    const int wide = 0;
    (void)simd;
#endif
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const uint16_t *z = logits + r * vocab;
        uint16_t *g = grad != NULL ? grad + r * vocab : NULL;
        if (target[r] == ignore) {
            loss[r] = 0.0f;
            if (g != NULL) memset(g, 0, (size_t)vocab * sizeof *g);
            continue;
        }
#ifdef HAVE_AVX512_PATH
        if (wide) {
            loss[r] = row_avx512(z, vocab, target[r], smoothing, g);
            continue;
        }
#endif
        loss[r] = row_portable(z, vocab, target[r], smoothing, g);
    }
}
