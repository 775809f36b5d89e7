#include "recurrent_noise.h"

#include <math.h>

#include "dropout.h"

namespace fastgru {
namespace {

#include "kernels/activation_scalar.h"

// Xor-ed into the seed: these masks are independent of inter-layer dropout's and of each other.
constexpr uint64_t kRecurrentDropoutStream = 0x7265637572726e74ull;
constexpr uint64_t kZoneoutStream = 0x7a6f6e656f757421ull;

// The gate's derivative at the recorded z (the plain cell) or pre-activation (general math).
template <class T>
T gate_derivative(const GruConfig& c, const T* rec, int64_t f) {
  const int64_t H = c.hidden_size;
  if (c.standard_math()) {
    const T z = rec[H + f];
    return z * (T(1) - z);
  }
  const double a = static_cast<double>(rec[6 * H + f]);
  if (c.math.clip > 0 && (a > c.math.clip || a < -c.math.clip)) return T(0);
  return static_cast<T>(act_grad_scalar(c.math.gate, a));
}

}  // namespace

double recurrent_dropout_scale(uint64_t seed, int64_t layer_dir, int gate, int64_t sequence, int64_t feature, double p) {
  return dropout_scale<double>(seed ^ kRecurrentDropoutStream, layer_dir, gate, sequence, feature, p);
}

bool zoneout_keeps(uint64_t seed, int64_t layer_dir, int64_t step, int64_t sequence, int64_t feature, double p) {
  return dropout_scale<double>(seed ^ kZoneoutStream, layer_dir, step, sequence, feature, p) == 0.0;
}

template <class T>
RecurrentNoise<T>::RecurrentNoise(const GruConfig& c, const SequenceLayout& l, const TrainingMode& mode,
                                  int64_t ld, T* mask_buffer)
    : cfg(c), lay(l), seed(mode.seed), layer_dir(ld), training(mode.recurrent_masks),
      masks(mode.recurrent_masks && c.recurrent_dropout > 0 ? mask_buffer : nullptr) {
  if (!masks) return;
  const int64_t H = c.hidden_size;
  const int gates = c.recurrent_dropout_form == RecurrentDropout::state ? 3 : 1;
  for (int64_t j = 0; j < lay.batch; ++j)
    for (int g = 0; g < gates; ++g)
      for (int64_t f = 0; f < H; ++f)
        masks[j * 3 * H + g * H + f] =
            static_cast<T>(recurrent_dropout_scale(seed, layer_dir, g, lay.order[j], f, c.recurrent_dropout));
}

template <class T>
T RecurrentNoise<T>::zoneout_keep(int64_t t, int64_t j, int64_t f) const {
  if (!training) return static_cast<T>(cfg.zoneout);
  return zoneout_keeps(seed, layer_dir, t, lay.order[j], f, cfg.zoneout) ? T(1) : T(0);
}

template <class T>
void RecurrentNoise<T>::mask_state(int64_t j0, int64_t j1, const T* h, T* hm) const {
  const int64_t H = cfg.hidden_size;
  for (int64_t j = j0; j < j1; ++j, h += H, hm += 3 * H)
    for (int g = 0; g < 3; ++g) {
      const T* m = mask(j, g);
      for (int64_t f = 0; f < H; ++f) hm[g * H + f] = m[f] * h[f];
    }
}

template <class T>
void RecurrentNoise<T>::finish_step(int64_t t, int64_t j0, int64_t j1, const T* h_prev, T* h_next, T* y,
                                    int64_t ld_y, const T* rec) const {
  const int64_t H = cfg.hidden_size, rw = cfg.record_width();
  for (int64_t j = j0; j < j1; ++j) {
    const int64_t i = j - j0;
    const T* hp = h_prev + i * H;
    T* hn = h_next + i * H;
    if (candidate_form()) {
      const T* m = mask(j, 0);
      const T* r = rec + i * rw;
      for (int64_t f = 0; f < H; ++f) hn[f] = r[H + f] * hp[f] + (T(1) - r[H + f]) * (m[f] * r[2 * H + f]);
    }
    if (zoneout())
      for (int64_t f = 0; f < H; ++f) hn[f] = zoneout_expectation(zoneout_keep(t, j, f), hp[f], hn[f]);
    if (y)
      for (int64_t f = 0; f < H; ++f) y[i * ld_y + f] = hn[f];
  }
}

template <class T>
void RecurrentNoise<T>::split_gradient(int64_t t, int64_t j0, int64_t j1, T* dh, T* kept, T* dh_hat) const {
  const int64_t H = cfg.hidden_size;
  for (int64_t j = j0; j < j1; ++j) {
    const int64_t i = j - j0;
    T* d = dh + i * H;
    if (zoneout())
      for (int64_t f = 0; f < H; ++f) {
        const T keep = zoneout_keep(t, j, f);
        kept[i * H + f] = keep * d[f];
        d[f] = (T(1) - keep) * d[f];
      }
    if (candidate_form())
      for (int64_t f = 0; f < H; ++f) dh_hat[i * H + f] = d[f];
  }
}

template <class T>
void RecurrentNoise<T>::correct_gate_grads(int64_t j0, int64_t j1, const T* rec, const T* dh_hat, T* dgx,
                                           T* dgh) const {
  const int64_t H = cfg.hidden_size, rw = cfg.record_width();
  for (int64_t j = j0; j < j1; ++j, rec += rw, dh_hat += H, dgx += 3 * H, dgh += 3 * H) {
    const T* m = mask(j, 0);
    for (int64_t f = 0; f < H; ++f) {
      // dĥ/dz = h - m n, where the kernel took h - n; everything through n scales by m (in the
      // reset-after form that includes r, which only enters through n).
      const T dz = dh_hat[f] * (T(1) - m[f]) * rec[2 * H + f] * gate_derivative(cfg, rec, f);
      dgx[H + f] += dz;
      dgh[H + f] += dz;
      dgx[2 * H + f] *= m[f];
      dgh[2 * H + f] *= m[f];
      if (cfg.reset_after) {
        dgx[f] *= m[f];
        dgh[f] *= m[f];
      }
    }
  }
}

template <class T>
void RecurrentNoise<T>::scale(int64_t j0, int64_t j1, int g, T* v) const {
  const int64_t H = cfg.hidden_size;
  for (int64_t j = j0; j < j1; ++j, v += H) {
    const T* m = mask(j, g);
    for (int64_t f = 0; f < H; ++f) v[f] *= m[f];
  }
}

template <class T>
void RecurrentNoise<T>::add_masked(int64_t j0, int64_t j1, int g, const T* src, T* dst) const {
  const int64_t H = cfg.hidden_size;
  for (int64_t j = j0; j < j1; ++j, src += H, dst += H) {
    const T* m = mask(j, g);
    for (int64_t f = 0; f < H; ++f) dst[f] += m[f] * src[f];
  }
}

template struct RecurrentNoise<float>;
template struct RecurrentNoise<double>;

}  // namespace fastgru
