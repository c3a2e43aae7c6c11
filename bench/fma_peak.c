/* Measures the single-core fp32 FMA peak (GFLOP/s) with independent FMA
 * chains, for AVX2 and AVX-512 when the CPU has them. The "% of peak" in
 * kiln's profiles is relative to this. Build with -O3 (bench/run.sh does):
 * at -O2 GCC keeps the accumulator array in memory and the loop measures
 * store forwarding instead (about half the peak on this machine). */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define CHAINS 12

__attribute__((target("avx2,fma"))) static double peak_avx2(long iters)
{
    __m256 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    double t0 = now();
    for (long n = 0; n < iters; n++)
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    double t = now() - t0;
    float sink = 0;
    for (int i = 0; i < CHAINS; i++)
        sink += _mm256_cvtss_f32(acc[i]);
    if (sink == 12345.0f)
        printf(" ");
    return 2.0 * 8 * CHAINS * (double)iters / t / 1e9;
}

__attribute__((target("avx512f"))) static double peak_avx512(long iters)
{
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    double t0 = now();
    for (long n = 0; n < iters; n++)
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    double t = now() - t0;
    float sink = 0;
    for (int i = 0; i < CHAINS; i++)
        sink += _mm512_reduce_add_ps(acc[i]);
    if (sink == 12345.0f)
        printf(" ");
    return 2.0 * 16 * CHAINS * (double)iters / t / 1e9;
}

int main(void)
{
    __builtin_cpu_init();
    long iters = 100000000;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        double best = 0;
        for (int r = 0; r < 3; r++) {
            double g = peak_avx2(iters / 4);
            best = g > best ? g : best;
        }
        printf("avx2_fma_peak_gflops %.1f\n", best);
    }
    if (__builtin_cpu_supports("avx512f")) {
        double best = 0;
        for (int r = 0; r < 3; r++) {
            double g = peak_avx512(iters / 4);
            best = g > best ? g : best;
        }
        printf("avx512_fma_peak_gflops %.1f\n", best);
    }
    return 0;
}
