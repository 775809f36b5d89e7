// The float environment of vdpbf16ps for the bf16 GEMMs on x86: denormal inputs read as zero,
// denormal results flushed (MXCSR DAZ | FTZ), restored when the kernel returns. Every bf16 GEMM
// (native or emulated, any x86 ISA) runs in it, its bias and slice additions too, so all agree
// bit for bit. Included inside an ISA namespace after <immintrin.h> (or <xmmintrin.h>).
struct Bf16FloatMode {
  unsigned saved;
  Bf16FloatMode() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
  ~Bf16FloatMode() { _mm_setcsr(saved); }
  Bf16FloatMode(const Bf16FloatMode&) = delete;
  Bf16FloatMode& operator=(const Bf16FloatMode&) = delete;
};
