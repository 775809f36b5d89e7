// One GRU layer on oneDNN's RNN primitives, for bench/onednn/bench_onednn.py: runs the workload
// once on the inputs in DIR (writing its outputs there for the numerics check), then times it.
//
//   gru_onednn MODE CELL T B D H REPEATS MIN_TIME DIR
//     MODE  step (S1: a T=1 primitive per step, state carried) | forward (inference) |
//           train (forward_training + backward, diff weights zeroed each call: oneDNN accumulates)
//     CELL  lbr (lbr_gru: reset after, as PyTorch) | vanilla (gru: reset before)
//
// DIR holds float32 arrays already in oneDNN's user layouts and gate order (u, r, o): x (T,B,D)
// tnc, h0 (B,H), wl (D,3,H) ldigo, wi (H,3,H) ldigo, b (G,H) ldgo with G = 4 for lbr (the 4th is
// the recurrent candidate bias), 3 for vanilla; dy (T,B,H) for train; xs (P,D) for step. Writes
// y, hn (forward), ys (8 steps, step), y, dx, dh0, dwl, dwi, db (train) in the same layouts, then
// prints one JSON line: {"seconds": [per-call seconds of each repeat], "calls": calls per repeat}.
// Weights are reordered to the primitive's preferred layout once, before timing (as fastgru packs
// once per model).
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

std::vector<float> read_file(const std::string& path, size_t n) {
  std::vector<float> v(n);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f || std::fread(v.data(), sizeof(float), n, f) != n) throw std::runtime_error("cannot read " + path);
  std::fclose(f);
  return v;
}

void write_file(const std::string& path, const float* p, size_t n) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(p, sizeof(float), n, f) != n) throw std::runtime_error("cannot write " + path);
  std::fclose(f);
}

memory user_mem(const engine& eng, const memory::dims& dims, tag t, const std::vector<float>& data) {
  memory m({dims, dt::f32, t}, eng);
  std::memcpy(m.get_data_handle(), data.data(), data.size() * sizeof(float));
  return m;
}

// The primitive's layout of `user` (a reorder when it differs).
memory as_desc(const engine& eng, stream& s, memory user, const memory::desc& want) {
  if (user.get_desc() == want) return user;
  memory out(want, eng);
  reorder(user, out).execute(s, user, out);
  s.wait();
  return out;
}

void write_mem(const engine& eng, stream& s, memory m, const memory::dims& dims, tag t,
               const std::string& path) {
  memory user({dims, dt::f32, t}, eng);
  reorder(m, user).execute(s, m, user);
  s.wait();
  write_file(path, static_cast<const float*>(user.get_data_handle()), user.get_desc().get_size() / sizeof(float));
}

// Median-free raw timings: `repeats` repeats, each `calls` calls (enough to last min_time).
void time_it(const std::function<void()>& call, int repeats, double min_time) {
  using clock = std::chrono::steady_clock;
  call();  // warm-up
  auto t0 = clock::now();
  call();
  const double one = std::chrono::duration<double>(clock::now() - t0).count();
  const long calls = std::max(1L, static_cast<long>(min_time / std::max(one, 1e-9)));
  std::printf("{\"calls\": %ld, \"seconds\": [", calls);
  for (int r = 0; r < repeats; ++r) {
    auto start = clock::now();
    for (long i = 0; i < calls; ++i) call();
    const double per = std::chrono::duration<double>(clock::now() - start).count() / static_cast<double>(calls);
    std::printf("%s%.9g", r ? ", " : "", per);
  }
  std::printf("]}\n");
}

struct Descs {
  memory::desc src_layer, src_iter, wl_any, wi_any, bias, dst_layer, dst_iter;
};

Descs descs(memory::dim T, memory::dim B, memory::dim D, memory::dim H, memory::dim G) {
  return {{{T, B, D}, dt::f32, tag::tnc},       {{1, 1, B, H}, dt::f32, tag::ldnc},
          {{1, 1, D, 3, H}, dt::f32, tag::any}, {{1, 1, H, 3, H}, dt::f32, tag::any},
          {{1, 1, G, H}, dt::f32, tag::ldgo},   {{T, B, H}, dt::f32, tag::tnc},
          {{1, 1, B, H}, dt::f32, tag::ldnc}};
}

template <class Fwd>
typename Fwd::primitive_desc forward_pd(const engine& eng, prop_kind kind, const Descs& d) {
  return typename Fwd::primitive_desc(eng, kind, rnn_direction::unidirectional_left2right, d.src_layer, d.src_iter,
                                      d.wl_any, d.wi_any, d.bias, d.dst_layer, d.dst_iter);
}

template <class Fwd, class Bwd>
int run(const std::string& mode, memory::dim T, memory::dim B, memory::dim D, memory::dim H, memory::dim G,
        int repeats, double min_time, const std::string& dir) {
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const auto file = [&](const char* name) { return dir + "/" + name; };
  memory wl_user = user_mem(eng, {1, 1, D, 3, H}, tag::ldigo, read_file(file("wl"), D * 3 * H));
  memory wi_user = user_mem(eng, {1, 1, H, 3, H}, tag::ldigo, read_file(file("wi"), H * 3 * H));
  memory bias = user_mem(eng, {1, 1, G, H}, tag::ldgo, read_file(file("b"), G * H));

  if (mode == "step") {
    const Descs d = descs(1, 1, D, H, G);
    auto pd = forward_pd<Fwd>(eng, prop_kind::forward_inference, d);
    Fwd prim(pd);
    memory wl = as_desc(eng, s, wl_user, pd.weights_layer_desc());
    memory wi = as_desc(eng, s, wi_user, pd.weights_iter_desc());
    const memory::dim pool = 64;
    std::vector<float> xs = read_file(file("xs"), pool * D);
    memory x(d.src_layer, eng), y(d.dst_layer, eng), state[2] = {memory(d.src_iter, eng), memory(d.src_iter, eng)};
    int cur = 0;
    long k = 0;
    auto step = [&]() {
      std::memcpy(x.get_data_handle(), xs.data() + (k++ % pool) * D, D * sizeof(float));
      prim.execute(s, {{DNNL_ARG_SRC_LAYER, x}, {DNNL_ARG_SRC_ITER, state[cur]}, {DNNL_ARG_WEIGHTS_LAYER, wl},
                       {DNNL_ARG_WEIGHTS_ITER, wi}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST_LAYER, y},
                       {DNNL_ARG_DST_ITER, state[1 - cur]}});
      s.wait();
      cur = 1 - cur;
    };
    std::memset(state[0].get_data_handle(), 0, B * H * sizeof(float));
    std::vector<float> ys;
    for (int t = 0; t < 8; ++t) {
      step();
      const float* yp = static_cast<const float*>(y.get_data_handle());
      ys.insert(ys.end(), yp, yp + H);
    }
    write_file(file("ys"), ys.data(), ys.size());
    std::memset(state[cur].get_data_handle(), 0, B * H * sizeof(float));
    time_it(step, repeats, min_time);
    return 0;
  }

  const Descs d = descs(T, B, D, H, G);
  memory x = user_mem(eng, {T, B, D}, tag::tnc, read_file(file("x"), T * B * D));
  memory h0 = user_mem(eng, {1, 1, B, H}, tag::ldnc, read_file(file("h0"), B * H));
  memory y(d.dst_layer, eng), hn(d.dst_iter, eng);

  if (mode == "forward") {
    auto pd = forward_pd<Fwd>(eng, prop_kind::forward_inference, d);
    Fwd prim(pd);
    memory wl = as_desc(eng, s, wl_user, pd.weights_layer_desc());
    memory wi = as_desc(eng, s, wi_user, pd.weights_iter_desc());
    auto call = [&]() {
      prim.execute(s, {{DNNL_ARG_SRC_LAYER, x}, {DNNL_ARG_SRC_ITER, h0}, {DNNL_ARG_WEIGHTS_LAYER, wl},
                       {DNNL_ARG_WEIGHTS_ITER, wi}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST_LAYER, y},
                       {DNNL_ARG_DST_ITER, hn}});
      s.wait();
    };
    call();
    write_file(file("y"), static_cast<const float*>(y.get_data_handle()), T * B * H);
    write_file(file("hn"), static_cast<const float*>(hn.get_data_handle()), B * H);
    time_it(call, repeats, min_time);
    return 0;
  }

  // train: forward_training (keeps a workspace) + backward.
  auto fpd = forward_pd<Fwd>(eng, prop_kind::forward_training, d);
  const memory::desc diff_wl_any({1, 1, D, 3, H}, dt::f32, tag::any), diff_wi_any({1, 1, H, 3, H}, dt::f32, tag::any);
  typename Bwd::primitive_desc bpd(eng, prop_kind::backward, rnn_direction::unidirectional_left2right, d.src_layer,
                                   d.src_iter, d.wl_any, d.wi_any, d.bias, d.dst_layer, d.dst_iter, d.src_layer,
                                   d.src_iter, diff_wl_any, diff_wi_any, d.bias, d.dst_layer, d.dst_iter, fpd);
  Fwd fwd(fpd);
  Bwd bwd(bpd);
  memory wl_f = as_desc(eng, s, wl_user, fpd.weights_layer_desc());
  memory wi_f = as_desc(eng, s, wi_user, fpd.weights_iter_desc());
  memory wl_b = as_desc(eng, s, wl_user, bpd.weights_layer_desc());
  memory wi_b = as_desc(eng, s, wi_user, bpd.weights_iter_desc());
  memory ws(fpd.workspace_desc(), eng);
  memory dy = user_mem(eng, {T, B, H}, tag::tnc, read_file(file("dy"), T * B * H));
  memory dhn(d.dst_iter, eng);
  std::memset(dhn.get_data_handle(), 0, B * H * sizeof(float));  // no gradient on h_n (as the S4 runners)
  memory dx(bpd.diff_src_layer_desc(), eng), dh0(bpd.diff_src_iter_desc(), eng);
  memory dwl(bpd.diff_weights_layer_desc(), eng), dwi(bpd.diff_weights_iter_desc(), eng);
  memory db(bpd.diff_bias_desc(), eng);
  auto call = [&]() {
    fwd.execute(s, {{DNNL_ARG_SRC_LAYER, x}, {DNNL_ARG_SRC_ITER, h0}, {DNNL_ARG_WEIGHTS_LAYER, wl_f},
                    {DNNL_ARG_WEIGHTS_ITER, wi_f}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST_LAYER, y},
                    {DNNL_ARG_DST_ITER, hn}, {DNNL_ARG_WORKSPACE, ws}});
    for (memory* m : {&dwl, &dwi, &db}) std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
    bwd.execute(s, {{DNNL_ARG_SRC_LAYER, x}, {DNNL_ARG_SRC_ITER, h0}, {DNNL_ARG_WEIGHTS_LAYER, wl_b},
                    {DNNL_ARG_WEIGHTS_ITER, wi_b}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST_LAYER, y},
                    {DNNL_ARG_DST_ITER, hn}, {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_DIFF_DST_LAYER, dy},
                    {DNNL_ARG_DIFF_DST_ITER, dhn}, {DNNL_ARG_DIFF_SRC_LAYER, dx}, {DNNL_ARG_DIFF_SRC_ITER, dh0},
                    {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl}, {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi},
                    {DNNL_ARG_DIFF_BIAS, db}});
    s.wait();
  };
  call();
  write_file(file("y"), static_cast<const float*>(y.get_data_handle()), T * B * H);
  write_mem(eng, s, dx, {T, B, D}, tag::tnc, file("dx"));
  write_mem(eng, s, dh0, {1, 1, B, H}, tag::ldnc, file("dh0"));
  write_mem(eng, s, dwl, {1, 1, D, 3, H}, tag::ldigo, file("dwl"));
  write_mem(eng, s, dwi, {1, 1, H, 3, H}, tag::ldigo, file("dwi"));
  write_mem(eng, s, db, {1, 1, G, H}, tag::ldgo, file("db"));
  time_it(call, repeats, min_time);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 10) {
    std::fprintf(stderr, "usage: %s step|forward|train lbr|vanilla T B D H REPEATS MIN_TIME DIR\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1], cell = argv[2];
  const memory::dim T = std::atol(argv[3]), B = std::atol(argv[4]), D = std::atol(argv[5]), H = std::atol(argv[6]);
  const int repeats = std::atoi(argv[7]);
  const double min_time = std::atof(argv[8]);
  try {
    if (cell == "lbr") return run<lbr_gru_forward, lbr_gru_backward>(mode, T, B, D, H, 4, repeats, min_time, argv[9]);
    if (cell == "vanilla") return run<gru_forward, gru_backward>(mode, T, B, D, H, 3, repeats, min_time, argv[9]);
    std::fprintf(stderr, "unknown cell %s\n", cell.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gru_onednn: %s\n", e.what());
    return 1;
  }
}
