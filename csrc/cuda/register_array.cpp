// pykern._cuda.Array (device storage) and the module functions that create,
// move and inspect it: to_device, to_host, empty, full, synchronize, memory
// statistics. DLPack export (__dlpack__ / __dlpack_device__) lets CuPy and
// PyTorch read an Array without a copy.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "cuda/bind_util.h"
#include "cuda/core.h"
#include "cuda/device.h"
#include "cuda/dlpack.h"

namespace pykern::cuda {
namespace {

// ---- DLPack ---------------------------------------------------------------------------------

// What a capsule's DLManagedTensor owns: a reference to the buffer (so it
// outlives the Array object) and the shape/strides the DLTensor points at.
struct DlpackContext {
  Array array;
  std::vector<int64_t> shape, strides;
  dlpack::DLManagedTensor managed{};
};

void dlpack_deleter(dlpack::DLManagedTensor* self) {
  delete static_cast<DlpackContext*>(self->manager_ctx);
}

// Called when the capsule dies: a consumer renames a capsule it took to
// "used_dltensor" and calls the deleter itself later.
void capsule_destructor(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, "dltensor")) return;
  auto* m = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
  if (m && m->deleter) m->deleter(m);
}

dlpack::DLDataType dl_dtype(DType d) {
  switch (d) {
    case DType::f32: return {dlpack::kDLFloat, 32, 1};
    case DType::f64: return {dlpack::kDLFloat, 64, 1};
    case DType::i32: return {dlpack::kDLInt, 32, 1};
    case DType::i64: return {dlpack::kDLInt, 64, 1};
    case DType::u8: return {dlpack::kDLUInt, 8, 1};
    case DType::b8: return {dlpack::kDLBool, 8, 1};
  }
  return {dlpack::kDLFloat, 32, 1};
}

py::capsule to_dlpack(const Array& a, py::object stream) {
  // The consumer reads on `stream` (1 or None: the legacy default stream, which
  // is ours; -1: no synchronisation wanted). Any other stream is made to see
  // our pending writes by waiting for them here.
  if (!stream.is_none()) {
    const int64_t s = stream.cast<int64_t>();
    if (s != 1 && s != -1) {
      py::gil_scoped_release nogil;
      synchronize(a.device());
    }
  }
  auto ctx = std::make_unique<DlpackContext>();
  ctx->array = a;
  ctx->shape = a.shape();
  ctx->strides = contiguous_strides(a.shape());
  dlpack::DLTensor& t = ctx->managed.dl_tensor;
  t.data = a.raw();
  t.device = {dlpack::kDLCUDA, a.device()};
  t.ndim = a.ndim();
  t.dtype = dl_dtype(a.dtype());
  t.shape = ctx->shape.data();
  t.strides = ctx->strides.data();
  t.byte_offset = 0;
  ctx->managed.manager_ctx = ctx.get();
  ctx->managed.deleter = &dlpack_deleter;
  dlpack::DLManagedTensor* m = &ctx->managed;
  PyObject* cap = PyCapsule_New(m, "dltensor", &capsule_destructor);
  if (!cap) throw py::error_already_set();
  ctx.release();
  return py::reinterpret_steal<py::capsule>(cap);
}

// ---- transfers --------------------------------------------------------------------------------

int arg_device(int device, const char* op) {
  const int n = device_count();
  if (n == 0) require_device();
  if (device < 0 || device >= n)
    value_error(op, "device " + std::to_string(device) + " is out of range for " +
                        std::to_string(n) + " CUDA device(s)");
  return device;
}

Array to_device(py::handle h, int device) {
  constexpr const char* op = "to_device";
  if (!py::isinstance<py::array>(h))
    type_error(op, "expected a numpy.ndarray, got " +
                       std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  py::array arr = py::reinterpret_borrow<py::array>(h);
  const DType dtype = dtype_from_name(std::string(py::str(arr.dtype().attr("name"))), op);
  // Taken before ascontiguousarray, which makes a 0-d array 1-d.
  std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
  if (!(arr.flags() & py::array::c_style))
    arr = py::module_::import("numpy").attr("ascontiguousarray")(arr);
  arg_device(device, op);
  py::gil_scoped_release nogil;
  Array out(shape, dtype, device);
  upload(out, arr.data());
  return out;
}

py::array to_host(py::handle h) {
  const Array& a = arg_array(h, "to_host", "x");
  py::array out(py::dtype(numpy_dtype(a.dtype())), a.shape());
  void* dst = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    download(dst, a);
  }
  return out;
}

std::vector<int64_t> reshape_target(const Array& a, py::args args) {
  py::handle spec = args.size() == 1 ? args[0] : py::handle(args);
  std::vector<int64_t> shape;
  int unknown = -1;
  auto add = [&](py::handle d) {
    const int64_t v = d.cast<int64_t>();
    if (v == -1) {
      if (unknown >= 0) value_error("reshape", "can only specify one unknown dimension");
      unknown = int(shape.size());
    } else if (v < 0) {
      value_error("reshape", "negative dimension " + std::to_string(v));
    }
    shape.push_back(v);
  };
  if (py::isinstance<py::sequence>(spec))
    for (py::handle d : py::reinterpret_borrow<py::sequence>(spec)) add(d);
  else
    add(spec);
  if (unknown >= 0) {
    int64_t known = 1;
    for (size_t i = 0; i < shape.size(); ++i)
      if (int(i) != unknown) known *= shape[i];
    if (known == 0 || a.size() % known != 0)
      value_error("reshape", "cannot reshape an array of shape " + shape_str(a.shape()) +
                                 " into " + shape_str(shape));
    shape[unknown] = a.size() / known;
  }
  return shape;
}

py::dict stats_dict(int device) {
  const MemoryStats s = memory_stats(device);
  py::dict d;
  d["allocated_bytes"] = s.allocated_bytes;
  d["peak_allocated_bytes"] = s.peak_allocated_bytes;
  d["cached_bytes"] = s.cached_bytes;
  d["reserved_bytes"] = s.reserved_bytes;
  d["device_mallocs"] = s.device_mallocs;
  d["oom_retries"] = s.oom_retries;
  return d;
}

}  // namespace

void register_array(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });

  py::class_<Array>(m, "Array",
                    "Device storage: a contiguous, row-major array of one dtype on one GPU.\n"
                    "Create it with to_device, empty or full; read it with to_host. Reshapes\n"
                    "share the buffer. __dlpack__ hands it to CuPy/PyTorch without a copy.")
      .def_property_readonly("shape", [](const Array& a) {
        py::tuple t(a.ndim());
        for (int i = 0; i < a.ndim(); ++i) t[i] = py::int_(a.shape()[i]);
        return t;
      })
      .def_property_readonly("dtype", [](const Array& a) { return numpy_dtype(a.dtype()); },
                             "The numpy.dtype.")
      .def_property_readonly("ndim", &Array::ndim)
      .def_property_readonly("size", &Array::size)
      .def_property_readonly("nbytes", &Array::nbytes)
      .def_property_readonly("itemsize", [](const Array& a) { return dtype_size(a.dtype()); })
      .def_property_readonly("device", &Array::device, "The CUDA device index.")
      .def_property_readonly("data_ptr", [](const Array& a) {
        return reinterpret_cast<uintptr_t>(a.raw());
      }, "The device address (0 for an empty array): equal for arrays sharing a buffer.")
      .def("reshape", [](const Array& a, py::args args) { return a.reshaped(reshape_target(a, args)); },
           "The same buffer with another shape of the same size (one dim may be -1).")
      .def("__len__", [](const Array& a) {
        if (a.ndim() == 0) throw py::type_error("len() of a 0-d Array");
        return a.shape()[0];
      })
      .def("__repr__", [](const Array& a) {
        return "pykern._cuda.Array(shape=" + shape_str(a.shape()) + ", dtype=" +
               dtype_name(a.dtype()) + ", device=cuda:" + std::to_string(a.device()) + ")";
      })
      .def("__array__", [](const Array& a, py::args, py::kwargs) -> py::object {
        throw py::type_error("a pykern._cuda.Array of shape " + shape_str(a.shape()) +
                             " lives on cuda:" + std::to_string(a.device()) +
                             "; copy it to the host with pykern._cuda.to_host (no implicit "
                             "transfers)");
      })
      .def("__dlpack__", [](const Array& a, py::object stream, py::object max_version,
                            py::object dl_device, py::object copy) {
        if (!copy.is_none() && copy.cast<bool>())
          throw py::buffer_error("__dlpack__: copy=True is not supported; the Array is shared");
        if (!dl_device.is_none()) {
          auto dev = dl_device.cast<std::pair<int, int>>();
          if (dev.first != dlpack::kDLCUDA || dev.second != a.device())
            throw py::buffer_error("__dlpack__: the Array lives on cuda:" +
                                   std::to_string(a.device()) + " and is not copied elsewhere");
        }
        return to_dlpack(a, stream);
      }, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
         py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
         "A DLPack capsule ('dltensor', unversioned ABI) sharing the buffer; it keeps the\n"
         "buffer alive until the consumer releases it. `stream`: the consumer's CUDA stream\n"
         "(None or 1: the legacy default stream we run on; other streams wait for our work).")
      .def("__dlpack_device__", [](const Array& a) {
        return py::make_tuple(int(dlpack::kDLCUDA), a.device());
      }, "(kDLCUDA = 2, device index).");

  m.def("to_device", &to_device, py::arg("array"), py::arg("device") = 0,
        "A new Array holding a copy of the ndarray (float32, float64, int32, int64, uint8 or\n"
        "bool; other dtypes are a ValueError: convert first) on CUDA device `device`.");
  m.def("to_host", &to_host, py::arg("x"), "A new ndarray holding x's values (waits for x).");
  m.def("empty", [](py::handle shape, py::handle dtype, int device) {
        const auto s = arg_shape(shape, "empty", "shape");
        const DType d = arg_dtype(dtype, "empty");
        arg_device(device, "empty");
        py::gil_scoped_release nogil;
        return Array(s, d, device);
      }, py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = 0,
      "An uninitialised Array.");
  m.def("full", [](py::handle shape, py::handle value, py::handle dtype, int device) {
        const auto s = arg_shape(shape, "full", "shape");
        const DType d = arg_dtype(dtype, "full");
        Scalar v;
        if (!as_scalar(value, &v)) type_error("full", "value must be a number, got " +
                                                          std::string(py::repr(value)));
        arg_device(device, "full");
        py::gil_scoped_release nogil;
        Array out(s, d, device);
        fill(out, v.value);
        return out;
      }, py::arg("shape"), py::arg("value"), py::arg("dtype") = "float32", py::arg("device") = 0,
      "An Array of `shape` filled with `value` converted to `dtype`.");
  m.def("synchronize", [](py::object device) {
        std::vector<int> which;
        if (device.is_none())
          for (int d = 0; d < device_count(); ++d) which.push_back(d);
        else
          which.push_back(arg_device(device.cast<int>(), "synchronize"));
        py::gil_scoped_release nogil;
        for (int d : which) synchronize(d);
      }, py::arg("device") = py::none(),
      "Waits for the work queued on `device` (None: every device); raises a pending\n"
      "asynchronous CUDA error as RuntimeError.");
  m.def("memory_stats", [](int device) { return stats_dict(device); }, py::arg("device") = 0,
        "The caching allocator's counters for `device`: allocated_bytes, peak_allocated_bytes,\n"
        "cached_bytes, reserved_bytes (allocated + cached), device_mallocs, oom_retries.");
  m.def("reset_peak_memory_stats", &reset_peak_memory, py::arg("device") = 0,
        "Sets peak_allocated_bytes to the bytes allocated now.");
  m.def("mem_get_info", [](int device) {
        arg_device(device, "mem_get_info");
        const auto [free_b, total_b] = device_memory(device);
        return py::make_tuple(free_b, total_b);
      }, py::arg("device") = 0, "(free, total) bytes of `device` from cudaMemGetInfo.");
}

}  // namespace pykern::cuda
