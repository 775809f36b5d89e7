// DLPack (the array exchange protocol behind __dlpack__ / from_dlpack, dmlc/dlpack): its ABI as
// this module uses it — unversioned "dltensor" capsules, which every producer returns when the
// consumer asks without max_version and every consumer accepts — declared here from the
// specification, plus the two directions: wrapping memory fastgru owns in a capsule, and viewing
// a capsule someone else made.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace fastgru::bindings::dlpack {

enum DeviceType : int32_t { kCPU = 1, kCUDA = 2, kCUDAHost = 3, kCUDAManaged = 13 };
enum TypeCode : uint8_t { kInt = 0, kUInt = 1, kFloat = 2 };

struct Device {
  int32_t device_type;
  int32_t device_id;
};
struct DataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct Tensor {
  void* data;
  Device device;
  int32_t ndim;
  DataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; null: C-contiguous
  uint64_t byte_offset;
};
struct ManagedTensor {
  Tensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(ManagedTensor* self);
};

constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";

// A "dltensor" capsule of C-contiguous float memory (itemsize 4 or 8) that `owner` keeps alive
// until the consumer's deleter runs (or the capsule dies unconsumed).
pybind11::capsule make_capsule(std::shared_ptr<const void> owner, void* data, const std::vector<int64_t>& shape,
                               size_t itemsize, Device device);

// __dlpack__'s arguments fastgru accepts: a request for a versioned capsule (max_version >= 1) is
// answered with an unversioned one, as the protocol allows; a copy or another device is refused.
void check_export_request(const pybind11::object& dl_device, const pybind11::object& copy, Device device);

// fastgru._core.DLPackView: takes a capsule (marking it used) and shows its memory through
// __cuda_array_interface__ (CUDA memory) or __array_interface__ (host memory), and exports it
// again through __dlpack__; the producer's deleter runs when the last reference goes.
void register_dlpack(pybind11::module_& m);

}  // namespace fastgru::bindings::dlpack
