// Hand-written loops that the compiler vectorises are built three times, for AVX-512, AVX2 and
// baseline x86-64, and the loader picks one per CPU (GCC's target_clones): the plugin runs on any
// x86-64 and still uses the widest vectors it finds. LOOM_INLINE forces a helper into each clone
// (a helper left out of line is compiled for the baseline only).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LOOM_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LOOM_CPU_CLONES
#endif

#if defined(__GNUC__)
#define LOOM_INLINE inline __attribute__((always_inline))
#else
#define LOOM_INLINE inline
#endif
