// pykern._cuda converts and checks arrays exactly as pykern._cpu does. CMake
// builds _cuda from csrc/cuda/ alone, so the shared code is compiled in here;
// if CMake ever adds csrc/bindings/array_view.cpp to _cuda, delete this file.
#include "bindings/array_view.cpp"
