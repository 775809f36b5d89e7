// The kernels every ISA defines, declared inside its namespace (fastgru::kernels::<isa>):
//   namespace fastgru::kernels::avx2 {
//   #include "kernels/isa_kernels.h"
//   }
// One overload per dtype. <isa>/table.cpp gathers them into that ISA's KernelTable.
// (No include guard: it is meant to be included once per ISA namespace.)

extern const int kPanelWidthF32;
extern const int kPanelWidthF64;
void pack_weights(const float* w, int64_t n, int64_t k, float* out);
void pack_weights(const double* w, int64_t n, int64_t k, double* out);
void pack_rows(const float* b, int64_t ldb, int64_t k, int64_t n, float* out);
void pack_rows(const double* b, int64_t ldb, int64_t k, int64_t n, double* out);
void gemm_packed(const GemmArgs<float>& args);
void gemm_packed(const GemmArgs<double>& args);
void gemm_rowmajor(const GemmArgs<float>& args);
void gemm_rowmajor(const GemmArgs<double>& args);
void gemm_gates(const GateGemmArgs<float>& args);
void gemm_gates(const GateGemmArgs<double>& args);
void gates_forward_after(const GateArgs<float>& args);
void gates_forward_after(const GateArgs<double>& args);
void gates_forward_before_rz(const GateArgs<float>& args);
void gates_forward_before_rz(const GateArgs<double>& args);
void gates_forward_before_n(const GateArgs<float>& args);
void gates_forward_before_n(const GateArgs<double>& args);
void gates_backward_after(const GateGradArgs<float>& args);
void gates_backward_after(const GateGradArgs<double>& args);
void gates_backward_before_n(const GateGradArgs<float>& args);
void gates_backward_before_n(const GateGradArgs<double>& args);
void gates_backward_before_r(const GateGradArgs<float>& args);
void gates_backward_before_r(const GateGradArgs<double>& args);
void gates_forward_libru(const GateArgs<float>& args);
void gates_forward_libru(const GateArgs<double>& args);
void gates_backward_libru(const GateGradArgs<float>& args);
void gates_backward_libru(const GateGradArgs<double>& args);
void small_step(const SmallStepArgs<float>& args);
void small_step(const SmallStepArgs<double>& args);
void activate(const ActivationSpec& act, int64_t n, const float* x, float* out);
void pack_weights_bf16(const float* w, int64_t n, int64_t k, uint16_t* out);  // <isa>/gemm_bf16.cpp
void gemm_gates_bf16(const Bf16GateGemmArgs& args);
void pack_weights_int8(const float* w, int64_t n, int64_t k, int8_t* out, float* scale,
                       int32_t* sum);  // <isa>/gemm_int8.cpp
void gemm_gates_int8(const Int8GateGemmArgs& args);
void activate(const ActivationSpec& act, int64_t n, const double* x, double* out);
void activate_grad(const ActivationSpec& act, int64_t n, const float* x, float* out);
void activate_grad(const ActivationSpec& act, int64_t n, const double* x, double* out);
