// The LiBRU update of one element in double precision (Bittar & Garner 2021, "logprobs" form),
// written once for the CPU kernels (included inside each ISA namespace, after <math.h>) and any
// later CUDA kernel (FASTGRU_HD = __host__ __device__). No include guard: one copy per namespace.
//
//   z = σ(a_z), c = softplus(a_n), h' = log(z e^h + (1 - z) e^c) = logaddexp(u, v) with
//   u = h + log z = h - softplus(-a_z), v = c + log(1 - z) = c - softplus(a_z).
// Every log and exp sees a non-positive argument (no overflow); each softplus pair shares its
// log1p(e^-|a|). p = e^(u - h') = σ(u - v) is the weight of the old state: dh'/dh = p,
// dh'/dc = 1 - p, dh'/da_z = p - z (what backward needs, with σ(a_n) = softplus'(a_n)).
#ifndef FASTGRU_HD
#define FASTGRU_HD
#endif

struct LibruLane {
  double h_new, p, z, c, s_n;  // h', weight of the old state, σ(a_z), softplus(a_n), σ(a_n)
};

// σ(a) from e = e^-|a| (the same e the softplus used).
static inline FASTGRU_HD double libru_sigmoid_from(double a, double e) {
  return a >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static inline FASTGRU_HD LibruLane libru_lane(double a_z, double a_n, double h) {
  LibruLane o;
  const double ez = exp(-fabs(a_z)), lz = log1p(ez);  // softplus(±a_z) = max(±a_z, 0) + lz
  const double log_z = -((a_z < 0 ? -a_z : 0.0) + lz), log_1mz = -((a_z > 0 ? a_z : 0.0) + lz);
  o.z = libru_sigmoid_from(a_z, ez);
  const double en = exp(-fabs(a_n));
  o.c = (a_n > 0 ? a_n : 0.0) + log1p(en);
  o.s_n = libru_sigmoid_from(a_n, en);
  const double u = h + log_z, v = o.c + log_1mz, d = u - v;
  const double ed = exp(-fabs(d));
  o.h_new = (d > 0 ? u : v) + log1p(ed);  // NaN anywhere: d is NaN, so log1p(ed) is too
  o.p = libru_sigmoid_from(d, ed);
  return o;
}
