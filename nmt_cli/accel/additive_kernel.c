/* Additive attention's energies in BiLSTM training, and their gradients (additive_energies.py).
 *
 * For keys k (N, S, A, bf16), a decoder step's projected query q (N, A, bf16) and v (A, fp32):
 *
 *     e[n,s] = Σ_a v[a] tanh(k[n,s,a] + q[n,a])
 *
 * in fp32 from the bf16 inputs. Left to torch, every decoder step made and kept the (N, S, A)
 * tanh, and its backward made an (N, S, A) gradient and added it into the keys' running sum:
 * some eight passes over an (N, S, A) tensor per target position. Here nothing (N, S, A) is
 * kept or made per step:
 *
 *     nmt_energies        forward, one read of the keys;
 *     nmt_energies_query  a step's backward, the query's gradient only, one read of the keys:
 *                         dq[n,a] = v[a] Σ_s g[n,s] (1 - t²), with t made again from k and q;
 *     nmt_energies_keys   once after every step's backward, the keys' and v's gradients over all
 *                         T steps from their (q_t, g_t): dk[n,s,a] = v[a] Σ_t g_t[n,s] (1 - t_t²),
 *                         dv[a] = Σ_t,n,s g_t[n,s] t_t, one read of the keys and one write.
 *
 * tanh is made from exp in fp32 (absolute error about 1e-7). Sentences are shared among torch's
 * OpenMP threads: the library links the libgomp that torch has loaded (see dropout_kernel.c).
 * AVX-512 only, with A a multiple of 16: the functions exist where the compiler can target it,
 * and callers take them where `nmt_energies_simd()` says this CPU has it.
 */
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernel_common.h"

#ifdef HAVE_AVX512_PATH
/* tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|). */
AVX512_TARGET static inline __m512 tanh16(__m512 x) {
    const __m512 magnitude = _mm512_abs_ps(x);
    const __m512 e = exp_nonpositive(_mm512_mul_ps(magnitude, _mm512_set1_ps(-2.0f)));
    const __m512 t = _mm512_div_ps(_mm512_sub_ps(_mm512_set1_ps(1.0f), e), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign));
}
#endif

int nmt_energies_simd(void) {
#ifdef HAVE_AVX512_PATH
    return has_avx512();
#else
    return 0;
#endif
}

#ifdef HAVE_AVX512_PATH
AVX512_TARGET static void energies_row_avx512(const uint16_t *k, const uint16_t *q, const float *v, int64_t S,
                                              int64_t A, float *e) {
    for (int64_t s = 0; s < S; s++) {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t a = 0; a < A; a += 16) {
            const __m512 t = tanh16(_mm512_add_ps(load_bf16(k + s * A + a), load_bf16(q + a)));
            acc = _mm512_fmadd_ps(t, _mm512_loadu_ps(v + a), acc);
        }
        e[s] = _mm512_reduce_add_ps(acc);
    }
}

AVX512_TARGET static void query_row_avx512(const uint16_t *k, const uint16_t *q, const float *v, const float *g,
                                           int64_t S, int64_t A, float *dq) {
    for (int64_t a = 0; a < A; a += 16) _mm512_storeu_ps(dq + a, _mm512_setzero_ps());
    for (int64_t s = 0; s < S; s++) {
        if (g[s] == 0.0f) continue;  // padding, or a position outside a local window
        const __m512 gs = _mm512_set1_ps(g[s]);
        for (int64_t a = 0; a < A; a += 16) {
            const __m512 t = tanh16(_mm512_add_ps(load_bf16(k + s * A + a), load_bf16(q + a)));
            const __m512 slope = _mm512_fnmadd_ps(t, t, _mm512_set1_ps(1.0f));
            _mm512_storeu_ps(dq + a, _mm512_fmadd_ps(gs, slope, _mm512_loadu_ps(dq + a)));
        }
    }
    for (int64_t a = 0; a < A; a += 16) _mm512_storeu_ps(dq + a, _mm512_mul_ps(_mm512_loadu_ps(dq + a), _mm512_loadu_ps(v + a)));
}

/* Sentence n's keys gradient over all T steps, and its share of v's gradient into dv. */
AVX512_TARGET static void keys_row_avx512(const uint16_t *k, const uint16_t *Q, const float *G, const float *v,
                                          int64_t T, int64_t N, int64_t S, int64_t A, int64_t n, float *dk,
                                          float *dv) {
    for (int64_t s = 0; s < S; s++) {
        for (int64_t a = 0; a < A; a += 16) {
            const __m512 key = load_bf16(k + s * A + a);
            __m512 slope_sum = _mm512_setzero_ps(), t_sum = _mm512_setzero_ps();
            for (int64_t t = 0; t < T; t++) {
                const float g = G[(t * N + n) * S + s];
                if (g == 0.0f) continue;
                const __m512 gs = _mm512_set1_ps(g);
                const __m512 th = tanh16(_mm512_add_ps(key, load_bf16(Q + (t * N + n) * A + a)));
                slope_sum = _mm512_fmadd_ps(gs, _mm512_fnmadd_ps(th, th, _mm512_set1_ps(1.0f)), slope_sum);
                t_sum = _mm512_fmadd_ps(gs, th, t_sum);
            }
            _mm512_storeu_ps(dk + s * A + a, _mm512_mul_ps(slope_sum, _mm512_loadu_ps(v + a)));
            _mm512_storeu_ps(dv + a, _mm512_add_ps(_mm512_loadu_ps(dv + a), t_sum));
        }
    }
}

/* e (N, S) fp32 from keys (N, S, A) and q (N, A), both bf16, and v (A) fp32. */
void nmt_energies(const uint16_t *keys, const uint16_t *q, const float *v, int64_t N, int64_t S, int64_t A, float *e) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        energies_row_avx512(keys + n * S * A, q + n * A, v, S, A, e + n * S);
    }
}

/* dq (N, A) fp32 of one step, from its energies' gradient g (N, S) fp32. */
void nmt_energies_query(const uint16_t *keys, const uint16_t *q, const float *v, const float *g, int64_t N, int64_t S,
                        int64_t A, float *dq) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        query_row_avx512(keys + n * S * A, q + n * A, v, g + n * S, S, A, dq + n * A);
    }
}

/* dk (N, S, A) and dv (A), fp32, overwritten, from every step's query Q (T, N, A) bf16 and energies'
 * gradient G (T, N, S) fp32. Returns 0, or -1 where scratch memory could not be had. */
int nmt_energies_keys(const uint16_t *keys, const uint16_t *Q, const float *G, const float *v, int64_t T, int64_t N,
                      int64_t S, int64_t A, float *dk, float *dv) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    float *partial = calloc((size_t)threads * (size_t)A, sizeof *partial);  // each thread's share of dv
    if (partial == NULL) return -1;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        int me = 0;
#ifdef _OPENMP
        me = omp_get_thread_num();
#endif
        float *mine = partial + (size_t)me * (size_t)A;
        keys_row_avx512(keys + n * S * A, Q, G, v, T, N, S, A, n, dk + n * S * A, mine);
    }
    for (int64_t a = 0; a < A; a++) {
        float total = 0.0f;
        for (int i = 0; i < threads; i++) total += partial[(size_t)i * (size_t)A + a];
        dv[a] = total;
    }
    free(partial);
    return 0;
}
#endif
