// Builds this ISA's typed kernel tables (expects the declarations of isa_kernels.h in the
// enclosing namespace). Compiled at baseline flags: only function addresses, no ISA code.

template <class T>
constexpr TypedKernels<T> typed_kernels(int nr) {
  return TypedKernels<T>{nr,
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
                         &activate};
}
