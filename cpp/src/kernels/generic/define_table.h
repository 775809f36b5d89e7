// Builds this ISA's typed kernel tables (expects the declarations of isa_kernels.h in the
// enclosing namespace). Compiled at baseline flags: only function addresses, no ISA code.

template <class T>
constexpr TypedKernels<T> typed_kernels(int nr) {
  TypedKernels<T> k{nr,
                         &pack_weights,
                         &pack_rows,
                         &gemm_packed,
                         &gemm_rowmajor,
                         &gemm_gates,
                         &gates_forward_after,
                         &gates_forward_before_rz,
                         &gates_forward_before_n,
                         &gates_backward_after,
                         &gates_backward_before_n,
                         &gates_backward_before_r,
                         &gates_forward_libru,
                         &gates_backward_libru,
                         &small_step,
                         &activate,
                         &activate_grad,
                         nullptr,
                         nullptr,
                         nullptr,
                         nullptr};
  if constexpr (sizeof(T) == 4) {  // bf16 and int8 weights: float models only
    k.pack_weights_bf16 = &pack_weights_bf16;
    k.gemm_gates_bf16 = &gemm_gates_bf16;
    k.pack_weights_int8 = &pack_weights_int8;
    k.gemm_gates_int8 = &gemm_gates_int8;
  }
  return k;
}
