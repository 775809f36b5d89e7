// Where things live in the training cache and the workspaces. Sizes use steps*batch rows (the
// most a packed batch can have), so they depend only on the shapes, never on the lengths.
#pragma once

#include <cstdint>

#include "fastgru/gru.h"

namespace fastgru {

struct CacheLayout {
  const GruConfig& cfg;
  int64_t max_rows;  // steps * batch

  // Layer l's input (after dropout), packed rows [rows, layer_input_size(l)].
  int64_t input_offset(int64_t layer) const {
    int64_t off = 0;
    for (int64_t l = 0; l < layer; ++l) off += layer_size(l);
    return off;
  }
  // Layer l, direction d: per packed row the record (cfg.record_width() elements), then with
  // batch norm the normalised projections x_hat [rows, 2H] and 1/std [2H]; with layer norm
  // x_hat [rows, 2H] and 1/std per row [rows].
  int64_t records_offset(int64_t layer, int64_t direction) const {
    return input_offset(layer) + max_rows * cfg.layer_input_size(layer) + direction * direction_size();
  }
  int64_t batch_norm_offset(int64_t layer, int64_t direction) const {
    return records_offset(layer, direction) + max_rows * cfg.record_width();
  }
  int64_t direction_size() const {
    const int64_t bn = cfg.batch_norm   ? (max_rows + 1) * 2 * cfg.hidden_size
                       : cfg.layer_norm ? max_rows * (2 * cfg.hidden_size + 1)
                                        : 0;
    return max_rows * cfg.record_width() + bn;
  }
  int64_t layer_size(int64_t l) const {
    return max_rows * cfg.layer_input_size(l) + cfg.directions() * direction_size();
  }
  int64_t total() const { return input_offset(cfg.num_layers); }
};

// The widest layer input or output, in columns.
inline int64_t max_io_width(const GruConfig& c) {
  const int64_t out = c.directions() * c.hidden_size;
  return c.input_size > out ? c.input_size : out;
}

}  // namespace fastgru
