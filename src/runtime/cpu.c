/* What the machine offers: instruction sets (checked once per model) and the
 * number of CPUs this process may actually use. */
#include "runtime/runtime.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

kn_isa_level kn_cpu_isa(kiln_isa requested)
{
    __builtin_cpu_init();
    kn_isa_level best = KN_ISA_GENERIC;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = KN_ISA_AVX2;
    if (best == KN_ISA_AVX2 && __builtin_cpu_supports("avx512f"))
        best = KN_ISA_AVX512;
    kn_isa_level cap = best;
    switch (requested) {
    case KILN_ISA_GENERIC: cap = KN_ISA_GENERIC; break;
    case KILN_ISA_AVX2: cap = KN_ISA_AVX2; break;
    case KILN_ISA_AVX512: cap = KN_ISA_AVX512; break;
    case KILN_ISA_AUTO: break;
    }
    return cap < best ? cap : best;
}

/* cgroup v2 cpu.max ("max 100000" or "200000 100000"), then v1. */
static int cgroup_cpus(void)
{
    long long quota = -1, period = 0;
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char q[32] = {0};
        if (fscanf(f, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0)
            sscanf(q, "%lld", &quota);
        fclose(f);
    } else {
        f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r");
        if (f) {
            if (fscanf(f, "%lld", &quota) != 1)
                quota = -1;
            fclose(f);
        }
        f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r");
        if (f) {
            if (fscanf(f, "%lld", &period) != 1)
                period = 0;
            fclose(f);
        }
    }
    if (quota <= 0 || period <= 0)
        return 0;
    long long n = (quota + period - 1) / period;
    return n > 0 ? (int)n : 1;
}

int kn_cpu_available(void)
{
    int n = 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    int q = cgroup_cpus();
    if (q > 0 && q < n)
        n = q;
    return n > 0 ? n : 1;
}
