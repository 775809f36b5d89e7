// Forward pass: per layer and direction, GEMMs project the inputs of a chunk of steps at a time;
// the time loop does only the recurrent GEMM and the fused gate kernel per step, on the live
// prefix of the packed batch.
#include <algorithm>
#include <cstring>

#include "batch_norm.h"
#include "cache_layout.h"
#include "dropout.h"
#include "gru_impl.h"
#include "interrupt.h"
#include "layer_norm.h"
#include "parallel_kernels.h"
#include "recurrent_noise.h"
#include "recurrent_step.h"
#include "sequence_layout.h"
#include "step_chunks.h"

namespace fastgru {
namespace {

// Input projections of a chunk of steps are computed together, ahead of their recurrence (all
// steps at once would make gx a [steps*batch, 3H] array in DRAM: 50 MB for S3). Batch norm
// (Light GRU) normalises with statistics over all steps, so it projects them all first.
template <class T>
int64_t projection_chunk_steps(const GruConfig& c, int64_t steps, int64_t batch) {
  return chunk_steps(steps, batch, 3 * c.hidden_size * static_cast<int64_t>(sizeof(T)), c.batch_norm);
}

// What one direction's time loop works in (one set per direction: both may run at once).
template <class T>
struct DirectionBuffers {
  T* gx;        // [chunk rows, 3H] input projections of one chunk of steps
  T* gh;        // [batch, 3H] recurrent projections of one step
  T* state[2];  // [batch, H] hidden state in slot order, ping-pong (threads read one, write the other)
  T* rec;       // [batch, 5H] one step's records when no cache is kept
  T* masks;     // [batch, 3H] recurrent dropout masks (RecurrentNoise)
  T* h_masked;  // [batch, 3H] the state-form masked states of one step
};

template <class T>
struct ForwardBuffers {
  T* io[2];  // packed layer inputs/outputs, ping-pong (inference)
  DirectionBuffers<T> dir[2];
  T* y;      // [rows, dirs*H] last layer's packed output (variable-length batches)

  ForwardBuffers(const GruConfig& c, int64_t steps, int64_t batch, T* base, size_t* size) {
    Carver<T> w{base};
    const size_t rows = static_cast<size_t>(steps * batch), H = static_cast<size_t>(c.hidden_size);
    const size_t io_width = static_cast<size_t>(max_io_width(c));
    io[0] = w.take(rows * io_width);
    io[1] = w.take(rows * io_width);
    for (int64_t d = 0; d < c.directions(); ++d) {
      DirectionBuffers<T>& b = dir[d];
      b.gx = w.take(static_cast<size_t>(projection_chunk_steps<T>(c, steps, batch) * batch) * 3 * H);
      b.gh = w.take(static_cast<size_t>(batch) * 3 * H);
      b.state[0] = w.take(static_cast<size_t>(batch) * H);
      b.state[1] = w.take(static_cast<size_t>(batch) * H);
      b.rec = w.take(static_cast<size_t>(batch * c.record_width()));
      const size_t noise = c.recurrent_dropout > 0 ? static_cast<size_t>(batch) * 3 * H : 0;
      b.masks = w.take(noise);
      b.h_masked = w.take(noise);
    }
    y = w.take(rows * static_cast<size_t>(c.directions()) * H);
    if (size) *size = w.used;
  }
};

// Two threads, two directions, a batch too small to split by sequence and a W_hh that fits in a
// core's L2: each thread runs one direction's whole time loop by itself (the directions of a
// layer are independent), so no step hands off or waits. Measured on 2 Zen 5 cores (1 MB L2),
// B=1 T=512: H=64 0.79 -> 0.51 ms, H=128 2.95 -> 1.8 ms, H=256 6.9 -> 6.2 ms; at H=1024 (12 MB
// of W_hh per direction from L3) one core per direction was 1.5x slower than both on each.
template <class T>
bool directions_in_parallel(const GruConfig& c, int64_t batch) {
  constexpr int64_t kCoreCacheBytes = int64_t{1} << 20;
  const int64_t w_hh_bytes = 3 * c.hidden_size * c.hidden_size * static_cast<int64_t>(sizeof(T));
  return c.directions() == 2 && num_threads() == 2 && sequence_parts(batch) == 1 && !c.batch_norm &&
         w_hh_bytes <= kCoreCacheBytes;
}

// A W_hh too large for the caches to hold a copy per thread (12 MB at H=1024 in float32) is
// split by columns instead, so that each step streams it once rather than once per thread.
// Measured on 2 Zen 3 cores, S5 (B=128, H=1024), fastest of 7 calls: 652-676 -> 640-660 ms on
// a quiet machine; at H=512 (3 MB) the sequence split stayed faster (B=32: 75 vs 79 ms).
template <class T>
int64_t forward_sequence_parts(const GruConfig& c, int64_t batch) {
  constexpr int64_t kSharedWeightsBytes = int64_t{8} << 20;
  const int64_t weight_bytes = c.weight_format == WeightFormat::bf16   ? 2
                               : c.weight_format == WeightFormat::int8 ? 1
                                                                       : static_cast<int64_t>(sizeof(T));
  const int64_t w_hh_bytes = 3 * c.hidden_size * c.hidden_size * weight_bytes;
  return w_hh_bytes > kSharedWeightsBytes ? 1 : sequence_parts(batch);
}

// The input projections of `rows` packed rows, split across threads by rows (unless the caller
// is already one of several threads).
template <class T>
void project_rows(const kernels::TypedKernels<T>& K, const PackedLayer<T>& P, const T* bias_ih, int64_t H,
                  int64_t rows, const T* x, int64_t din, T* gx, bool single_thread) {
  const int64_t parts = single_thread || rows * 3 * H * din < kMinParallelFlops
                            ? 1
                            : std::min<int64_t>(num_threads(), (rows + 7) / 8);
  threading::parallel_for(parts, [&](int64_t part) {
    const threading::Range r = threading::chunk(rows, parts, part, 8);
    if (r.begin < r.end)
      project_inputs(K, P, bias_ih, H, r.end - r.begin, x + r.begin * din, din, gx + r.begin * 3 * H, 0, H);
  });
}

}  // namespace

template <class T>
size_t Gru<T>::forward_workspace_size(const SequenceBatch& b) const {
  size_t n = 0;
  ForwardBuffers<T>(impl_->cfg, b.steps, b.batch, nullptr, &n);
  return n;
}

template <class T>
void Gru<T>::forward(const SequenceBatch& batch, const T* x, const T* h0, T* y, T* h_n, T* cache,
                     const TrainingMode& mode, T* workspace, T* bn_stats) const {
  const GruConfig& c = impl_->cfg;
  const kernels::KernelTable& table = dispatch::active_table();
  const kernels::TypedKernels<T>& K = table.get<T>();
  const PackedWeights<T>& packed = impl_->packed_for(table);
  const SequenceLayout lay = SequenceLayout::make(batch);
  const CacheLayout cl{c, batch.steps * batch.batch};
  ForwardBuffers<T> bufs(c, batch.steps, batch.batch, workspace, nullptr);
  const int64_t H = c.hidden_size, dirs = c.directions(), out_width = dirs * H;
  CallInterrupt interrupt;

  // Layer 0 input, packed (the caller's array itself when the batch is full).
  const T* in = x;
  if (cache) {
    T* dst = cache + cl.input_offset(0);
    if (lay.identity)
      std::memcpy(dst, x, sizeof(T) * lay.rows * c.input_size);
    else
      lay.pack(x, c.input_size, dst);
    in = dst;
  } else if (!lay.identity) {
    lay.pack(x, c.input_size, bufs.io[0]);
    in = bufs.io[0];
  }

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const int64_t din = c.layer_input_size(l);
    const bool last = l == c.num_layers - 1;
    T* out = last ? (lay.identity ? y : bufs.y) : (cache ? cache + cl.input_offset(l + 1) : bufs.io[(l + 1) % 2]);
    // Direction d's time loop; single_thread: it runs on one of the pool's threads.
    auto run_direction = [&](int64_t d, bool single_thread) {
      DirectionBuffers<T>& buf = bufs.dir[d];
      const size_t i = static_cast<size_t>(l * dirs + d);
      const PackedLayer<T>& P = packed.layers[i];
      const T* b_hh = impl_->bias_hh[i].data();
      const int64_t chunk = projection_chunk_steps<T>(c, batch.steps, batch.batch);
      const RecurrentNoise<T> noise(c, lay, mode, static_cast<int64_t>(i), buf.masks);
      if (c.batch_norm) {
        // Every row's projection before the batch statistics: in blocks, so that a long sequence
        // can be interrupted here too.
        constexpr int64_t kBlockRows = 4096;
        for (int64_t r0 = 0; r0 < lay.rows; r0 += kBlockRows) {
          interrupt.poll_now();
          project_rows(K, P, impl_->bias_ih[i].data(), H, std::min(kBlockRows, lay.rows - r0), in + r0 * din, din,
                       buf.gx + r0 * 3 * H, single_thread);
        }
        T* x_hat = cache ? cache + cl.batch_norm_offset(l, d) : nullptr;
        batch_norm_forward(lay.rows, H, buf.gx, impl_->bn_weight[i].data(), impl_->bn_bias[i].data(),
                           impl_->bn_mean[i].data(), impl_->bn_var[i].data(), c.batch_norm_eps, mode.batch_statistics,
                           x_hat, x_hat ? x_hat + cl.max_rows * 2 * H : nullptr,
                           bn_stats && mode.batch_statistics ? bn_stats + i * 4 * H : nullptr);
      }
      lay.to_slots(h0 ? h0 + i * batch.batch * H : nullptr, H, buf.state[0]);
      T* records = cache ? cache + cl.records_offset(l, d) : nullptr;
      int cur = 0;  // buf.state[cur] holds the state before the next step
      unsigned ticks = 0;  // this direction's interrupt polls
      const int64_t row_parts = forward_sequence_parts<T>(c, batch.batch);
      for (int64_t s0 = 0; s0 < batch.steps; s0 += chunk) {
        const int64_t s_end = std::min(batch.steps, s0 + chunk);
        const StepChunk ch(lay, s0, s_end, d == 1);
        const int64_t chunk_base = c.batch_norm ? 0 : ch.row_lo;  // first packed row whose projection is in buf.gx
        if (!c.batch_norm)
          project_rows(K, P, impl_->bias_ih[i].data(), H, ch.rows(), in + chunk_base * din, din, buf.gx,
                      single_thread);
        if (c.layer_norm) {  // each row on its own: chunk by chunk
          T* x_hat = cache ? cache + cl.batch_norm_offset(l, d) : nullptr;
          layer_norm_forward(ch.rows(), H, buf.gx, impl_->bn_weight[i].data(), impl_->bn_bias[i].data(),
                             c.layer_norm_eps, x_hat ? x_hat + ch.row_lo * 2 * H : nullptr,
                             x_hat ? x_hat + cl.max_rows * 2 * H + ch.row_lo : nullptr);
        }
        // Step s for the sequences in slots [r0, r1); the state before it is buf.state[from].
        auto step_slots = [&](int64_t s, int64_t r0, int64_t r1, int from, bool one_thread) {
          const int64_t t = d == 0 ? s : batch.steps - 1 - s;
          const int64_t live_end = std::min(r1, lay.batch_sizes[t]), base = lay.offsets[t] + r0;
          const T* h_prev = buf.state[from];
          T* h_next = buf.state[1 - from];
          if (live_end > r0) {
            const int64_t rw = c.record_width();
            const bool no_records = c.reset_after && !noise.candidate_form();  // the kernel need not write them
            T* rec = records ? records + base * rw : (no_records ? nullptr : buf.rec + r0 * rw);
            T* y_row = out + base * out_width + d * H;
            StepArgs<T> a{live_end - r0,   nullptr,         din, nullptr, buf.gx + (base - chunk_base) * 3 * H,
                          buf.gh + r0 * 3 * H, h_prev + r0 * H, h_next + r0 * H, rec, y_row, out_width};
            a.single_thread = one_thread;
            if (noise.state_form()) {
              noise.mask_state(r0, live_end, h_prev + r0 * H, buf.h_masked + r0 * 3 * H);
              a.h_masked = buf.h_masked + r0 * 3 * H;
            }
            recurrent_step(K, P, b_hh, c, a);
            if (noise.rewrites_state())
              noise.finish_step(t, r0, live_end, h_prev + r0 * H, h_next + r0 * H, y_row, out_width, rec);
          }
          // Sequences not live at this step keep their state.
          const int64_t idle = std::max(r0, live_end);
          if (idle < r1) std::memcpy(h_next + idle * H, h_prev + idle * H, sizeof(T) * (r1 - idle) * H);
        };
        auto state_before = [&](int64_t s) { return (s - s0) % 2 ? 1 - cur : cur; };  // buf.state index
        if (row_parts == 1) {
          for (int64_t s = s0; s < s_end; ++s) {
            interrupt.poll(ticks);
            step_slots(s, 0, batch.batch, state_before(s), single_thread);
          }
        } else {
          threading::parallel_for(row_parts, [&](int64_t part) {
            const threading::Range r = threading::chunk(batch.batch, row_parts, part, kSequenceGrain);
            unsigned part_ticks = 0;
            for (int64_t s = s0; s < s_end; ++s) {
              interrupt.poll(part_ticks);
              step_slots(s, r.begin, r.end, state_before(s), true);
            }
          });
        }
        if ((s_end - s0) % 2) cur = 1 - cur;
      }
      lay.from_slots(buf.state[cur], H, h_n + i * batch.batch * H);
    };
    if (directions_in_parallel<T>(c, batch.batch)) {
      threading::parallel_for(2, [&](int64_t d) { run_direction(d, true); });
    } else {
      for (int64_t d = 0; d < dirs; ++d) run_direction(d, false);
    }
    if (!last && mode.dropout > 0) {
      for (int64_t t = 0; t < batch.steps; ++t)
        for (int64_t j = 0; j < lay.batch_sizes[t]; ++j) {
          T* row = out + (lay.offsets[t] + j) * out_width;
          for (int64_t f = 0; f < out_width; ++f)
            row[f] *= dropout_scale<T>(mode.seed, l + 1, t, lay.order[j], f, mode.dropout);
        }
    }
    in = out;
  }
  if (!lay.identity) lay.unpack(bufs.y, out_width, y);
}

template size_t Gru<float>::forward_workspace_size(const SequenceBatch&) const;
template size_t Gru<double>::forward_workspace_size(const SequenceBatch&) const;
template void Gru<float>::forward(const SequenceBatch&, const float*, const float*, float*, float*, float*,
                                  const TrainingMode&, float*, float*) const;
template void Gru<double>::forward(const SequenceBatch&, const double*, const double*, double*, double*,
                                   double*, const TrainingMode&, double*, double*) const;

}  // namespace fastgru
