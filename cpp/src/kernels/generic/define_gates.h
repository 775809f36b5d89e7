// Defines this ISA's gate kernels from the generic bodies (expects OpsF32/OpsF64).

void gates_forward_after(const GateArgs<float>& g) { gates_forward_after_body<OpsF32>(g); }
void gates_forward_after(const GateArgs<double>& g) { gates_forward_after_body<OpsF64>(g); }
void gates_forward_before_rz(const GateArgs<float>& g) { gates_forward_before_rz_body<OpsF32>(g); }
void gates_forward_before_rz(const GateArgs<double>& g) { gates_forward_before_rz_body<OpsF64>(g); }
void gates_forward_before_n(const GateArgs<float>& g) { gates_forward_before_n_body<OpsF32>(g); }
void gates_forward_before_n(const GateArgs<double>& g) { gates_forward_before_n_body<OpsF64>(g); }
void gates_backward_after(const GateGradArgs<float>& g) { gates_backward_after_body<OpsF32>(g); }
void gates_backward_after(const GateGradArgs<double>& g) { gates_backward_after_body<OpsF64>(g); }
void gates_backward_before_n(const GateGradArgs<float>& g) { gates_backward_before_n_body<OpsF32>(g); }
void gates_backward_before_n(const GateGradArgs<double>& g) { gates_backward_before_n_body<OpsF64>(g); }
void gates_backward_before_r(const GateGradArgs<float>& g) { gates_backward_before_r_body<OpsF32>(g); }
void gates_backward_before_r(const GateGradArgs<double>& g) { gates_backward_before_r_body<OpsF64>(g); }
