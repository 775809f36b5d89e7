// Defines this ISA's GEMM and packing kernels from the generic bodies. Expects OpsF32/OpsF64 and
// the tile shapes kMrF32, kNvF32, kMrF64, kNvF64 in the enclosing ISA namespace.

const int kPanelWidthF32 = kNvF32 * OpsF32::W;
const int kPanelWidthF64 = kNvF64 * OpsF64::W;

void pack_weights(const float* w, int64_t n, int64_t k, float* out) {
  pack_weights_body<OpsF32, kNvF32>(w, n, k, out);
}
void pack_weights(const double* w, int64_t n, int64_t k, double* out) {
  pack_weights_body<OpsF64, kNvF64>(w, n, k, out);
}
void pack_rows(const float* b, int64_t ldb, int64_t k, int64_t n, float* out) {
  pack_b_block<kNvF32 * OpsF32::W>(b, ldb, k, n, out);
}
void pack_rows(const double* b, int64_t ldb, int64_t k, int64_t n, double* out) {
  pack_b_block<kNvF64 * OpsF64::W>(b, ldb, k, n, out);
}
void gemm_packed(const GemmArgs<float>& g) { gemm_body<OpsF32, kMrF32, kNvF32, true>(g); }
void gemm_packed(const GemmArgs<double>& g) { gemm_body<OpsF64, kMrF64, kNvF64, true>(g); }
void gemm_rowmajor(const GemmArgs<float>& g) { gemm_body<OpsF32, kMrF32, kNvF32, false>(g); }
void gemm_rowmajor(const GemmArgs<double>& g) { gemm_body<OpsF64, kMrF64, kNvF64, false>(g); }
void gemm_gates(const GateGemmArgs<float>& g) { gemm_gates_body<OpsF32, kMrF32, kNvF32>(g); }
void gemm_gates(const GateGemmArgs<double>& g) { gemm_gates_body<OpsF64, kMrF64, kNvF64>(g); }
