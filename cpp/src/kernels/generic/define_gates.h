// Defines this ISA's gate kernels from the generic bodies (expects OpsF32/OpsF64): the standard
// cell's fast instantiation unless the arguments carry other activations or a clip.

#define FASTGRU_GATE_KERNEL(name, Args, Ops, T) \
  void name(const Args<T>& g) {                 \
    if (g.math)                                 \
      name##_body<Ops, true>(g);                \
    else                                        \
      name##_body<Ops, false>(g);               \
  }
#define FASTGRU_GATE_KERNELS(Ops, T)                                  \
  FASTGRU_GATE_KERNEL(gates_forward_after, GateArgs, Ops, T)          \
  FASTGRU_GATE_KERNEL(gates_forward_before_rz, GateArgs, Ops, T)      \
  FASTGRU_GATE_KERNEL(gates_forward_before_n, GateArgs, Ops, T)       \
  FASTGRU_GATE_KERNEL(gates_backward_after, GateGradArgs, Ops, T)     \
  FASTGRU_GATE_KERNEL(gates_backward_before_n, GateGradArgs, Ops, T)  \
  FASTGRU_GATE_KERNEL(gates_backward_before_r, GateGradArgs, Ops, T)
FASTGRU_GATE_KERNELS(OpsF32, float)
FASTGRU_GATE_KERNELS(OpsF64, double)

void small_step(const SmallStepArgs<float>& s) { small_step_body<OpsF32>(s); }
void small_step(const SmallStepArgs<double>& s) { small_step_body<OpsF64>(s); }
void activate(const ActivationSpec& act, int64_t n, const float* x, float* out) { activate_body<OpsF32>(act, n, x, out); }
void activate(const ActivationSpec& act, int64_t n, const double* x, double* out) {
  activate_body<OpsF64>(act, n, x, out);
}
void activate_grad(const ActivationSpec& act, int64_t n, const float* x, float* out) {
  activate_grad_body<OpsF32>(act, n, x, out);
}
void activate_grad(const ActivationSpec& act, int64_t n, const double* x, double* out) {
  activate_grad_body<OpsF64>(act, n, x, out);
}
#undef FASTGRU_GATE_KERNELS
#undef FASTGRU_GATE_KERNEL
