#include "sequence_layout.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

namespace fastgru {

SequenceLayout SequenceLayout::make(const SequenceBatch& b) {
  if (b.steps < 1) throw std::invalid_argument("sequence length must be >= 1, got " + std::to_string(b.steps));
  if (b.batch < 1) throw std::invalid_argument("batch size must be >= 1, got " + std::to_string(b.batch));
  SequenceLayout s;
  s.steps = b.steps;
  s.batch = b.batch;
  s.order.resize(b.batch);
  std::iota(s.order.begin(), s.order.end(), int64_t{0});
  s.batch_sizes.assign(b.steps, b.batch);
  s.offsets.resize(b.steps);
  if (b.lengths) {
    for (int64_t i = 0; i < b.batch; ++i) {
      const int64_t len = b.lengths[i];
      if (len < 1 || len > b.steps)
        throw std::invalid_argument("lengths[" + std::to_string(i) + "] = " + std::to_string(len) +
                                    " is outside [1, " + std::to_string(b.steps) + "]");
      if (len != b.steps) s.identity = false;
    }
    std::stable_sort(s.order.begin(), s.order.end(),
                     [&](int64_t x, int64_t y) { return b.lengths[x] > b.lengths[y]; });
    if (s.identity) std::iota(s.order.begin(), s.order.end(), int64_t{0});
    for (int64_t t = 0; t < b.steps; ++t) {
      int64_t live = 0;
      while (live < b.batch && b.lengths[s.order[live]] > t) ++live;
      s.batch_sizes[t] = live;
    }
  }
  for (int64_t t = 0; t < b.steps; ++t) {
    s.offsets[t] = s.rows;
    s.rows += s.batch_sizes[t];
  }
  return s;
}

template <class T>
void SequenceLayout::pack(const T* src, int64_t width, T* dst) const {
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t j = 0; j < batch_sizes[t]; ++j)
      std::memcpy(dst + (offsets[t] + j) * width, src + (t * batch + order[j]) * width, sizeof(T) * width);
}

template <class T>
void SequenceLayout::unpack(const T* src, int64_t width, T* dst) const {
  std::memset(dst, 0, sizeof(T) * steps * batch * width);
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t j = 0; j < batch_sizes[t]; ++j)
      std::memcpy(dst + (t * batch + order[j]) * width, src + (offsets[t] + j) * width, sizeof(T) * width);
}

template <class T>
void SequenceLayout::to_slots(const T* src, int64_t width, T* dst) const {
  for (int64_t j = 0; j < batch; ++j) {
    if (src)
      std::memcpy(dst + j * width, src + order[j] * width, sizeof(T) * width);
    else
      std::memset(dst + j * width, 0, sizeof(T) * width);
  }
}

template <class T>
void SequenceLayout::from_slots(const T* src, int64_t width, T* dst) const {
  for (int64_t j = 0; j < batch; ++j) std::memcpy(dst + order[j] * width, src + j * width, sizeof(T) * width);
}

#define FASTGRU_INSTANTIATE(T)                                              \
  template void SequenceLayout::pack<T>(const T*, int64_t, T*) const;      \
  template void SequenceLayout::unpack<T>(const T*, int64_t, T*) const;    \
  template void SequenceLayout::to_slots<T>(const T*, int64_t, T*) const;  \
  template void SequenceLayout::from_slots<T>(const T*, int64_t, T*) const;
FASTGRU_INSTANTIATE(float)
FASTGRU_INSTANTIATE(double)
#undef FASTGRU_INSTANTIATE

}  // namespace fastgru
