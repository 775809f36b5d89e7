// Gru<T>'s state: the weights as given (backward reads them row-major) and, per kernel table,
// the packed copies the forward GEMMs read.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "aligned_vector.h"
#include "dispatch/tables.h"
#include "fastgru/gru.h"

namespace fastgru {

// Each gate block (r, z, n) is packed on its own, padded to whole panels, and the three blocks
// lie `stride` elements apart in one buffer: a thread can take the same column slice of every
// gate and finish its gates without waiting for the others, and a streaming step can read all
// three gates' panels in one tile.
template <class T>
struct PackedGates {
  AlignedVector<T> data;
  AlignedVector<uint16_t> bf16;  // instead of data for bf16 weights (kernels::Bf16GateGemmArgs)
  AlignedVector<int8_t> int8;    // instead of data for int8 weights (kernels::Int8GateGemmArgs),
  std::vector<float> int8_scale;    // with each output row's scale
  std::vector<int32_t> int8_sum;    // and sum of its int8 values (rows of gate g at g * H)
  int64_t stride = 0;  // elements (of data, bf16 or int8) from one gate block to the next
  const T* gate(int g) const { return data.data() + g * stride; }
};

template <class T>
struct PackedLayer {
  PackedGates<T> ih, hh;  // weight_ih / weight_hh, as B = W^T panels per gate
};

template <class T>
struct PackedWeights {
  const kernels::KernelTable* table;
  std::vector<PackedLayer<T>> layers;  // index layer*dirs + direction
};

template <class T>
struct Gru<T>::Impl {
  GruConfig cfg;
  // Per layer*dirs + direction; biases are zero-filled when cfg.bias is false.
  std::vector<std::vector<T>> weight_ih, weight_hh, bias_ih, bias_hh;
  // Batch norm (cfg.batch_norm): per layer*dirs + direction, (2H) each for blocks z, n; with
  // cfg.layer_norm, bn_weight and bn_bias hold the layer norm's γ and β.
  std::vector<std::vector<T>> bn_weight, bn_bias, bn_mean, bn_var;

  std::mutex pack_mutex;
  std::vector<std::unique_ptr<PackedWeights<T>>> packed;  // one per table used so far
  std::atomic<const PackedWeights<T>*> last_packed{nullptr};  // lock-free hit for the usual case

  // The packed weights for `table`, packing them on first use. Entries are never changed once
  // made (set_params drops them all), so concurrent calls can read them without the lock.
  const PackedWeights<T>& packed_for(const kernels::KernelTable& table);
};

// Hands out consecutive pieces of a workspace; sizes are computed by the same code that carves.
template <class T>
struct Carver {
  T* base;
  size_t used = 0;
  T* take(size_t n) {
    T* p = base ? base + used : nullptr;
    used += n;
    return p;
  }
};

}  // namespace fastgru
