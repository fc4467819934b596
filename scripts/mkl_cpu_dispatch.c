/* Preloaded by scripts/env.sh on CPUs that are not Intel's (AMD EPYC here).
 *
 * torch's CPU wheel links Intel oneMKL, which picks its SGEMM kernels by asking whether the CPU is
 * an Intel one; on any other vendor it answers no and runs the generic kernels, whatever the CPU's
 * instruction set ("MKL_VERBOSE ... Intel(R) Architecture processors" instead of "... (Intel(R)
 * AVX2) enabled processors"). These two exported functions answer yes, so MKL dispatches on the
 * instruction set it reads from CPUID as it does on Intel: AVX2 kernels on an AVX2 CPU, and still
 * nothing the CPU lacks. Numerics stay float32 SGEMM; only the kernel changes.
 * Measured in docs/models.md (teacher update 1.80 -> 1.52 s on AMD EPYC). TWIST_MKL_DISPATCH=vendor opts out.
 */
int mkl_serv_intel_cpu_true(void) { return 1; }
int mkl_serv_intel_cpu(void) { return 1; }
