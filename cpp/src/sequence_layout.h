// Variable-length batches in packed form (PyTorch's PackedSequence idea): sequences sorted
// longest first (stable), so at step t the live sequences are a prefix of batch_sizes[t] rows
// and the packed rows of all steps lie one after the other. No work is spent on padding, and a
// full batch is the identity layout (the caller's time-major array is already packed).
#pragma once

#include <cstdint>
#include <vector>

#include "fastgru/gru.h"

namespace fastgru {

struct SequenceLayout {
  int64_t steps = 0, batch = 0;
  int64_t rows = 0;                  // packed rows: sum of lengths
  bool identity = true;              // every sequence full: packed == time-major
  std::vector<int64_t> order;        // slot j holds original sequence order[j]
  std::vector<int64_t> batch_sizes;  // live slots at step t
  std::vector<int64_t> offsets;      // first packed row of step t

  // Validates lengths (1 <= len <= steps), throwing std::invalid_argument.
  static SequenceLayout make(const SequenceBatch& b);

  // Packs time-major rows [steps, batch, width] into packed rows [rows, width].
  template <class T>
  void pack(const T* src, int64_t width, T* dst) const;
  // Unpacks, writing zeros past each length.
  template <class T>
  void unpack(const T* src, int64_t width, T* dst) const;
  // [batch, width] in original order <-> slot order (null src gives zeros).
  template <class T>
  void to_slots(const T* src, int64_t width, T* dst) const;
  template <class T>
  void from_slots(const T* src, int64_t width, T* dst) const;
};

}  // namespace fastgru
