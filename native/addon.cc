// Thin Node-API binding over libtorch. It knows tensors, the operator dispatcher, autograd,
// TorchScript modules and a few global switches; no model or S2SNets logic lives here.
// Every ATen operator is reached through one generic, schema-driven call (see callOp), so
// adding an op to the TypeScript engine never needs C++.

#include <napi.h>
#include <torch/torch.h>
#include <torch/script.h>
#include <torch/cuda.h>
#include <ATen/autocast_mode.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/autograd/autograd.h>

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

std::atomic<int64_t> liveTensors{0};
std::atomic<int64_t> liveBytes{0};

// libtorch messages carry a C++ backtrace after the first line block; users need the reason only.
std::string cleanMessage(const c10::Error& e) { return e.what_without_backtrace(); }

#define GUARD_BEGIN try {
#define GUARD_END(env)                                                        \
  }                                                                           \
  catch (const Napi::Error&) { throw; }                                       \
  catch (const c10::Error& e) { throw Napi::Error::New(env, cleanMessage(e)); } \
  catch (const std::exception& e) { throw Napi::Error::New(env, e.what()); }

struct AddonData {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference moduleCtor;
  std::vector<c10::OperatorHandle> ops;
};

// V8 answers each rise of external memory by 64 MiB above its lowest point since the last full
// collection with another full collection on the main thread. A training step that allocates
// and frees hundreds of MiB of activations inside tidy() would pay one per 64 MiB, every step,
// for garbage tidy() already freed. So host bytes reach V8 in chunks of this size: memory that
// lives (or leaks to the GC) is still counted, transient memory of a step mostly is not.
constexpr int64_t kExternalMemoryChunk = int64_t{256} << 20;

// Host tensor bytes created (+) or freed (-) since V8 was last told. Per thread, as each
// environment (main thread or worker) has its own thread and its own V8 heap.
thread_local int64_t unreportedHostBytes = 0;

void reportHostBytes(Napi::Env env, int64_t change) {
  unreportedHostBytes += change;
  if (std::abs(unreportedHostBytes) < kExternalMemoryChunk) return;
  Napi::MemoryManagement::AdjustExternalMemory(env, unreportedHostBytes);
  unreportedHostBytes = 0;
}

int64_t storageBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.numel() * t.element_size());
}

// ---------------------------------------------------------------------------------------------
// Tensor handle. Owns one reference to an at::Tensor. dispose() frees it and the handle's own
// native memory at once; the GC finalizer frees both otherwise. Host tensors' byte counts are
// reported to V8 so native memory creates GC pressure even when nobody calls dispose(). GPU
// tensors' are not: V8 answers external memory with garbage collections on the main thread, and
// at 224 px a forward pass allocates gigabytes of activations in milliseconds, so counting them
// stalled the kernel launches and halved the SegNet forward on an H200.
//
// Why dispose() unwraps the JS object and deletes the C++ object instead of only dropping the
// tensor: Node runs finalizers from the event loop, never inside a synchronous loop, so a
// training loop that does not yield would keep one wrapper per tensor it ever created.
constexpr const char* kDisposedMessage = "Tensor was disposed; it cannot be used any more (keep() it or create it outside tidy())";

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TensorHandle",
                       {
                           method("dispose", Dispose),
                           accessor("disposed", IsDisposed),
                           accessor("shape", Invoke<&TensorHandle::Shape>),
                           accessor("dtype", Invoke<&TensorHandle::Dtype>),
                           accessor("device", Invoke<&TensorHandle::Device>),
                           accessor("requiresGrad", Invoke<&TensorHandle::RequiresGrad>, Invoke<&TensorHandle::SetRequiresGrad>),
                           accessor("isLeaf", Invoke<&TensorHandle::IsLeaf>),
                           method("grad", Invoke<&TensorHandle::Grad>),
                           method("setGrad", Invoke<&TensorHandle::SetGrad>),
                           method("toBuffer", Invoke<&TensorHandle::ToBuffer>),
                           method("sameStorage", Invoke<&TensorHandle::SameStorage>),
                       });
  }

  explicit TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {}

  ~TensorHandle() override {
    if (env_ == nullptr) return;  // constructed from JS, never given a tensor
    liveTensors--;
    liveBytes -= bytes_;
    if (hostBytes_ > 0) reportHostBytes(env_, -hostBytes_);
  }

  static Napi::Object Wrap(Napi::Env env, at::Tensor t) {
    auto* data = env.GetInstanceData<AddonData>();
    Napi::Object obj = data->tensorCtor.New({});
    TensorHandle* h = Unwrap(obj);
    h->env_ = env;
    h->bytes_ = storageBytes(t);
    h->hostBytes_ = t.is_cpu() ? h->bytes_ : 0;
    h->tensor_ = std::move(t);
    liveTensors++;
    liveBytes += h->bytes_;
    if (h->hostBytes_ > 0) reportHostBytes(env, h->hostBytes_);
    return obj;
  }

  /** The tensor behind a JS value, or a TypeError (not a tensor) or an Error (disposed). */
  static const at::Tensor& tensorOf(Napi::Env env, const Napi::Value& v, const char* what) {
    auto* data = env.GetInstanceData<AddonData>();
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(data->tensorCtor.Value())) {
      throw Napi::TypeError::New(env, std::string(what) + ": expected a Tensor");
    }
    const TensorHandle* h = live(env, v);
    if (h == nullptr || !h->tensor_.defined()) throw Napi::Error::New(env, kDisposedMessage);
    return h->tensor_;
  }

 private:
  // The C++ object of a handle, or null once disposed.
  static TensorHandle* live(napi_env env, napi_value v) {
    void* self = nullptr;
    return napi_unwrap(env, v, &self) == napi_ok ? static_cast<TensorHandle*>(self) : nullptr;
  }

  // Members are reached through these rather than ObjectWrap's own wrappers, which cannot tell
  // a disposed handle (no C++ object left) from a foreign object.
  using Member = Napi::Value (TensorHandle::*)(const Napi::CallbackInfo&);
  template <Member member>
  static napi_value Invoke(napi_env env, napi_callback_info cbInfo) {
    Napi::CallbackInfo info(env, cbInfo);
    try {
      TensorHandle* self = live(env, info.This());
      if (self == nullptr || !self->tensor_.defined()) throw Napi::Error::New(info.Env(), kDisposedMessage);
      return (self->*member)(info);
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
      return nullptr;
    }
  }
  static napi_value IsDisposed(napi_env env, napi_callback_info cbInfo) {
    Napi::CallbackInfo info(env, cbInfo);
    return Napi::Boolean::New(env, live(env, info.This()) == nullptr);
  }
  static PropertyDescriptor method(const char* name, napi_callback fn) {
    return napi_property_descriptor{name, nullptr, fn, nullptr, nullptr, nullptr, napi_default_method, nullptr};
  }
  static PropertyDescriptor accessor(const char* name, napi_callback get, napi_callback set = nullptr) {
    return napi_property_descriptor{name, nullptr, nullptr, get, set, nullptr, napi_default_jsproperty, nullptr};
  }

  const at::Tensor& tensor() const { return tensor_; }

  // Disposing twice is allowed: tidy() scopes and user code may both dispose a tensor.
  static napi_value Dispose(napi_env env, napi_callback_info cbInfo) {
    Napi::CallbackInfo info(env, cbInfo);
    if (TensorHandle* self = live(env, info.This())) {
      napi_remove_wrap(env, info.This(), nullptr);
      delete self;
    }
    return nullptr;
  }

  Napi::Value Shape(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    const auto& t = tensor();
    auto arr = Napi::Array::New(env, t.dim());
    for (int64_t i = 0; i < t.dim(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
    return arr;
  }
  Napi::Value Dtype(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), c10::toString(tensor().scalar_type()));
  }
  Napi::Value Device(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), tensor().device().str());
  }
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), tensor().requires_grad());
  }
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    GUARD_BEGIN
    at::Tensor t = tensor();
    t.set_requires_grad(info[0].ToBoolean().Value());
    GUARD_END(env)
    return env.Undefined();
  }
  Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), tensor().is_leaf());
  }
  Napi::Value Grad(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    const auto& g = tensor().grad();
    if (!g.defined()) return env.Null();
    return Wrap(env, g);
  }
  Napi::Value SetGrad(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    GUARD_BEGIN
    at::Tensor t = tensor();
    if (info[0].IsNull() || info[0].IsUndefined()) {
      t.mutable_grad().reset();
    } else {
      t.mutable_grad() = tensorOf(env, info[0], "setGrad");
    }
    GUARD_END(env)
    return env.Undefined();
  }
  // Copies the values into a fresh ArrayBuffer (contiguous, on the CPU, same dtype).
  Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    GUARD_BEGIN
    at::Tensor t = tensor().detach().to(at::kCPU).contiguous();
    size_t n = t.numel() * t.element_size();
    auto buf = Napi::ArrayBuffer::New(env, n);
    if (n > 0) std::memcpy(buf.Data(), t.data_ptr(), n);
    return buf;
    GUARD_END(env)
  }
  Napi::Value SameStorage(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    const auto& a = tensor();
    const auto& b = tensorOf(env, info[0], "sameStorage");
    return Napi::Boolean::New(env, a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
  }

  Napi::Env env_ = nullptr;
  at::Tensor tensor_;
  int64_t bytes_ = 0;
  int64_t hostBytes_ = 0;
};

const at::Tensor& toTensor(Napi::Env env, const Napi::Value& v, const char* what) { return TensorHandle::tensorOf(env, v, what); }

// ---------------------------------------------------------------------------------------------
// dtype and device names shared with TypeScript.
at::ScalarType parseDtype(Napi::Env env, const std::string& s) {
  if (s == "float32" || s == "float") return at::kFloat;
  if (s == "float64" || s == "double") return at::kDouble;
  if (s == "float16" || s == "half") return at::kHalf;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "int64" || s == "long") return at::kLong;
  if (s == "int32" || s == "int") return at::kInt;
  if (s == "int16") return at::kShort;
  if (s == "int8") return at::kChar;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  throw Napi::TypeError::New(env, "unknown dtype '" + s + "'; supported: float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool");
}

c10::MemoryFormat parseMemoryFormat(Napi::Env env, const std::string& s) {
  if (s == "contiguous") return c10::MemoryFormat::Contiguous;
  if (s == "channels_last") return c10::MemoryFormat::ChannelsLast;
  if (s == "preserve") return c10::MemoryFormat::Preserve;
  throw Napi::TypeError::New(env, "unknown memory format '" + s + "'; supported: contiguous, channels_last, preserve");
}

// ---------------------------------------------------------------------------------------------
// Generic operator call: JS values are converted to IValues following the operator's schema.
c10::IValue toIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg);

std::string argName(const c10::Argument& arg) { return "argument '" + arg.name() + "'"; }

int64_t toInt(Napi::Env env, const Napi::Value& v, const c10::Argument& arg) {
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, argName(arg) + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)))
    throw Napi::TypeError::New(env, argName(arg) + ": expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

c10::IValue listToIValue(Napi::Env env, const Napi::Value& v, const c10::ListTypePtr& lt, const c10::Argument& arg) {
  const auto& elem = lt->getElementType();
  // A single number for a fixed-size int list ("int[2] stride") means the same value everywhere.
  if (!v.IsArray()) {
    if ((elem->kind() == c10::TypeKind::IntType || elem->kind() == c10::TypeKind::SymIntType) && v.IsNumber()) {
      int64_t n = arg.N().has_value() ? *arg.N() : 1;
      return c10::IValue(std::vector<int64_t>(static_cast<size_t>(n), toInt(env, v, arg)));
    }
    throw Napi::TypeError::New(env, argName(arg) + ": expected an array");
  }
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      std::vector<int64_t> out(n);
      for (uint32_t i = 0; i < n; i++) out[i] = toInt(env, arr.Get(i), arg);
      return c10::IValue(out);
    }
    case c10::TypeKind::FloatType: {
      std::vector<double> out(n);
      for (uint32_t i = 0; i < n; i++) out[i] = arr.Get(i).ToNumber().DoubleValue();
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (uint32_t i = 0; i < n; i++) out.push_back(arr.Get(i).ToBoolean().Value());
      return c10::IValue(out);
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; i++) out.push_back(toTensor(env, arr.Get(i), "tensor list element"));
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < n; i++) {
        auto e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(toTensor(env, e, "tensor list element"));
      }
      return c10::IValue(out);
    }
    default:
      throw Napi::TypeError::New(env, argName(arg) + ": unsupported list type " + lt->str());
  }
}

c10::IValue toIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return toTensor(env, v, argName(arg).c_str());
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(env, v, type->castRaw<c10::OptionalType>()->getElementType(), arg);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::MemoryFormatType:
    case c10::TypeKind::LayoutType:
      // dtype, memory_format and layout are ints in schemas; accept their names too.
      if (v.IsString()) {
        auto s = v.As<Napi::String>().Utf8Value();
        if (arg.name() == "memory_format") return static_cast<int64_t>(parseMemoryFormat(env, s));
        if (s == "strided") return static_cast<int64_t>(at::kStrided);
        return static_cast<int64_t>(parseDtype(env, s));
      }
      return toInt(env, v, arg);
    case c10::TypeKind::FloatType:
      if (!v.IsNumber()) throw Napi::TypeError::New(env, argName(arg) + ": expected a number");
      return v.As<Napi::Number>().DoubleValue();
    case c10::TypeKind::BoolType:
      return v.ToBoolean().Value();
    case c10::TypeKind::NumberType: {  // at::Scalar
      if (v.IsBoolean()) return c10::IValue(at::Scalar(v.As<Napi::Boolean>().Value()));
      if (!v.IsNumber()) throw Napi::TypeError::New(env, argName(arg) + ": expected a number");
      double d = v.As<Napi::Number>().DoubleValue();
      // Integral values stay integral so that integer tensors keep their dtype.
      if (std::isfinite(d) && d == static_cast<double>(static_cast<int64_t>(d)) && std::abs(d) < 9007199254740992.0)
        return c10::IValue(at::Scalar(static_cast<int64_t>(d)));
      return c10::IValue(at::Scalar(d));
    }
    case c10::TypeKind::StringType:
      return v.ToString().Utf8Value();
    case c10::TypeKind::DeviceObjType:
      return c10::Device(v.ToString().Utf8Value());
    case c10::TypeKind::ListType:
      return listToIValue(env, v, type->cast<c10::ListType>(), arg);
    case c10::TypeKind::GeneratorType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      throw Napi::TypeError::New(env, argName(arg) + ": generators are not supported; use manualSeed()");
    default:
      throw Napi::TypeError::New(env, argName(arg) + ": unsupported schema type " + type->str());
  }
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const auto& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return TensorHandle::Wrap(env, t);
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto arr = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) arr.Set(static_cast<uint32_t>(i), fromIValue(env, elems[i]));
    return arr;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(static_cast<uint32_t>(i), fromIValue(env, list[i]));
    return arr;
  }
  if (v.isGenericDict()) {
    auto obj = Napi::Object::New(env);
    for (const auto& kv : v.toGenericDict()) obj.Set(kv.key().toStringRef(), fromIValue(env, kv.value()));
    return obj;
  }
  throw Napi::TypeError::New(env, "cannot convert a value of type " + v.tagKind() + " to JavaScript");
}

// opHandle(name, overload) -> integer id used by callOp.
Napi::Value OpHandle(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  auto name = info[0].ToString().Utf8Value();
  auto overload = info[1].ToString().Utf8Value();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle.has_value())
    throw Napi::Error::New(env, "libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
  auto* data = env.GetInstanceData<AddonData>();
  data->ops.push_back(*handle);
  return Napi::Number::New(env, static_cast<double>(data->ops.size() - 1));
  GUARD_END(env)
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  size_t id = info[0].As<Napi::Number>().Uint32Value();
  std::ostringstream ss;
  ss << data->ops.at(id).schema();
  return Napi::String::New(env, ss.str());
}

// Runs one operator. args are positional; undefined (or a short array) takes the schema's default.
c10::Stack runOp(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  size_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= data->ops.size()) throw Napi::Error::New(env, "invalid operator id");
  const auto& op = data->ops[id];
  const auto& schema = op.schema();
  auto args = info[1].As<Napi::Array>();
  const auto& params = schema.arguments();
  if (args.Length() > params.size())
    throw Napi::TypeError::New(env, schema.name() + ": too many arguments (" + std::to_string(args.Length()) + " for " + std::to_string(params.size()) + ")");
  c10::Stack stack;
  stack.reserve(params.size());
  for (size_t i = 0; i < params.size(); i++) {
    const auto& p = params[i];
    Napi::Value v = i < args.Length() ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
    if (v.IsUndefined() && p.default_value().has_value()) {
      stack.push_back(*p.default_value());
    } else if (v.IsUndefined() && p.type()->kind() != c10::TypeKind::OptionalType) {
      throw Napi::TypeError::New(env, schema.name() + ": missing " + argName(p));
    } else {
      stack.push_back(toIValue(env, v, p.type(), p));
    }
  }
  op.callBoxed(&stack);
  return stack;
}

// callOp(id, args) -> Tensor | value | array for multiple returns.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  c10::Stack out = runOp(info);
  if (out.empty()) return env.Undefined();
  if (out.size() == 1) return fromIValue(env, out[0]);
  auto arr = Napi::Array::New(env, out.size());
  for (size_t i = 0; i < out.size(); i++) arr.Set(static_cast<uint32_t>(i), fromIValue(env, out[i]));
  return arr;
  GUARD_END(env)
}

// callOpVoid(id, args): for in-place ops, whose result is an input; avoids a new handle per call.
Napi::Value CallOpVoid(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  runOp(info);
  return env.Undefined();
  GUARD_END(env)
}

// ---------------------------------------------------------------------------------------------
// Creation and data exchange.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  auto dtype = parseDtype(env, info[2].ToString().Utf8Value());
  auto shapeArr = info[1].As<Napi::Array>();
  std::vector<int64_t> shape(shapeArr.Length());
  int64_t numel = 1;
  for (uint32_t i = 0; i < shapeArr.Length(); i++) {
    double d = shapeArr.Get(i).ToNumber().DoubleValue();
    if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d))) throw Napi::RangeError::New(env, "shape entries must be non-negative integers");
    shape[i] = static_cast<int64_t>(d);
    numel *= shape[i];
  }
  const uint8_t* src = nullptr;
  size_t len = 0;
  if (info[0].IsTypedArray()) {
    auto ta = info[0].As<Napi::TypedArray>();
    src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    len = ta.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    auto ab = info[0].As<Napi::ArrayBuffer>();
    src = static_cast<const uint8_t*>(ab.Data());
    len = ab.ByteLength();
  } else {
    throw Napi::TypeError::New(env, "fromBuffer: expected a TypedArray or ArrayBuffer");
  }
  size_t need = static_cast<size_t>(numel) * c10::elementSize(dtype);
  if (len != need)
    throw Napi::RangeError::New(env, "data has " + std::to_string(len) + " bytes but shape and dtype need " + std::to_string(need));
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (need > 0) std::memcpy(t.data_ptr(), src, need);
  if (info.Length() > 3 && info[3].IsString()) {
    c10::Device dev(info[3].As<Napi::String>().Utf8Value());
    if (dev != t.device()) t = t.to(dev);
  }
  return TensorHandle::Wrap(env, t);
  GUARD_END(env)
}

// ---------------------------------------------------------------------------------------------
// Autograd.
std::vector<at::Tensor> tensorList(Napi::Env env, const Napi::Value& v, const char* what) {
  std::vector<at::Tensor> out;
  if (v.IsNull() || v.IsUndefined()) return out;
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    auto e = arr.Get(i);
    out.push_back(e.IsNull() || e.IsUndefined() ? at::Tensor() : toTensor(env, e, what));
  }
  return out;
}

// backward(outputs, gradOutputs|null, retainGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  auto outputs = tensorList(env, info[0], "backward output");
  auto grads = tensorList(env, info[1], "backward gradient");
  bool retain = info[2].ToBoolean().Value();
  torch::autograd::backward(outputs, grads, retain, false);
  return env.Undefined();
  GUARD_END(env)
}

// grad(outputs, inputs, gradOutputs|null, retainGraph, createGraph) -> gradients of inputs
Napi::Value Grad(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  auto outputs = tensorList(env, info[0], "grad output");
  auto inputs = tensorList(env, info[1], "grad input");
  auto grads = tensorList(env, info[2], "grad gradient");
  bool retain = info[3].ToBoolean().Value();
  bool create = info[4].ToBoolean().Value();
  auto res = torch::autograd::grad(outputs, inputs, grads, retain, create, /*allow_unused=*/true);
  auto arr = Napi::Array::New(env, res.size());
  for (size_t i = 0; i < res.size(); i++) arr.Set(static_cast<uint32_t>(i), res[i].defined() ? TensorHandle::Wrap(env, res[i]) : env.Null());
  return arr;
  GUARD_END(env)
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// ---------------------------------------------------------------------------------------------
// Autocast (mixed precision). The C++ API changed in PyTorch 2.4; both spellings are kept here.
Napi::Value SetAutocast(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  auto deviceType = info[0].ToString().Utf8Value();
  bool enabled = info[1].ToBoolean().Value();
  auto dtype = parseDtype(env, info[2].ToString().Utf8Value());
  bool cuda = deviceType == "cuda";
  if (!cuda && deviceType != "cpu") throw Napi::Error::New(env, "autocast device must be cpu or cuda");
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  auto dt = cuda ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(dt, enabled);
  at::autocast::set_autocast_dtype(dt, dtype);
#else
  if (cuda) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
  if (!enabled) at::autocast::clear_cache();
  return env.Undefined();
  GUARD_END(env)
}

// ---------------------------------------------------------------------------------------------
// TorchScript modules: loaded by libtorch, run and differentiated like any op.
class ScriptModuleHandle : public Napi::ObjectWrap<ScriptModuleHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ScriptModuleHandle",
                       {
                           InstanceMethod("forward", &ScriptModuleHandle::Forward),
                           InstanceMethod("namedParameters", &ScriptModuleHandle::NamedParameters),
                           InstanceMethod("namedBuffers", &ScriptModuleHandle::NamedBuffers),
                           InstanceMethod("train", &ScriptModuleHandle::Train),
                           InstanceMethod("to", &ScriptModuleHandle::To),
                       });
  }
  explicit ScriptModuleHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ScriptModuleHandle>(info) {}
  torch::jit::Module module;

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    GUARD_BEGIN
    std::vector<c10::IValue> inputs;
    for (auto& t : tensorList(env, info[0], "forward input")) inputs.emplace_back(t);
    return fromIValue(env, module.forward(inputs));
    GUARD_END(env)
  }
  Napi::Value NamedParameters(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto obj = Napi::Object::New(env);
    for (const auto& p : module.named_parameters(true)) obj.Set(p.name, TensorHandle::Wrap(env, p.value));
    return obj;
  }
  Napi::Value NamedBuffers(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto obj = Napi::Object::New(env);
    for (const auto& p : module.named_buffers(true)) obj.Set(p.name, TensorHandle::Wrap(env, p.value));
    return obj;
  }
  Napi::Value Train(const Napi::CallbackInfo& info) {
    module.train(info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }
  Napi::Value To(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    GUARD_BEGIN
    module.to(c10::Device(info[0].ToString().Utf8Value()));
    return env.Undefined();
    GUARD_END(env)
  }
};

Napi::Value LoadScriptModule(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  auto path = info[0].ToString().Utf8Value();
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object obj = data->moduleCtor.New({});
  ScriptModuleHandle::Unwrap(obj)->module = torch::jit::load(path);
  return obj;
  GUARD_END(env)
}

// ---------------------------------------------------------------------------------------------
// Process-wide switches and facts.
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  torch::manual_seed(static_cast<uint64_t>(info[0].ToNumber().Int64Value()));
  return env.Undefined();
  GUARD_END(env)
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  at::set_num_threads(info[0].ToNumber().Int32Value());
  return env.Undefined();
  GUARD_END(env)
}

Napi::Value SetCudnnBenchmark(const Napi::CallbackInfo& info) {
  at::globalContext().setBenchmarkCuDNN(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  GUARD_BEGIN
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  return env.Undefined();
  GUARD_END(env)
}

// The BLAS library that serves sgemm in this process. Debian's libtorch links the libblas.so.3
// alternative, which is the reference (netlib) BLAS unless an optimized one is installed: the
// same code then runs 3-17x slower, and float results differ in the last bits.
Napi::Object BlasInfo(Napi::Env env) {
  auto obj = Napi::Object::New(env);
  for (const char* name : {"libblas.so.3", "libopenblas.so.0", "libmkl_rt.so.2", "libmkl_rt.so"}) {
    void* lib = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
    if (lib == nullptr) continue;
    Dl_info where{};
    void* sgemm = dlsym(lib, "sgemm_");
    if (sgemm != nullptr && dladdr(sgemm, &where) != 0 && where.dli_fname != nullptr) obj.Set("library", where.dli_fname);
    using TextFn = char* (*)();
    using IntFn = int (*)();
    if (auto config = reinterpret_cast<TextFn>(dlsym(lib, "openblas_get_config"))) obj.Set("openblasConfig", config());
    if (auto core = reinterpret_cast<TextFn>(dlsym(lib, "openblas_get_corename"))) obj.Set("openblasCore", core());
    // 0: sequential, 1: pthreads, 2: OpenMP.
    if (auto parallel = reinterpret_cast<IntFn>(dlsym(lib, "openblas_get_parallel"))) obj.Set("openblasParallel", parallel());
    dlclose(lib);
    break;
  }
  return obj;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto obj = Napi::Object::New(env);
  obj.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH));
  obj.Set("cuda", torch::cuda::is_available());
  obj.Set("cudaDevices", static_cast<double>(torch::cuda::device_count()));
  obj.Set("cudnn", torch::cuda::cudnn_is_available());
  obj.Set("cudnnVersion", static_cast<double>(at::detail::getCUDAHooks().hasCuDNN() ? at::detail::getCUDAHooks().versionCuDNN() : 0));
  // TensorFloat-32 on tensor cores changes float32 results in the 4th significant digit and runs
  // convolutions several times faster; PyTorch allows it for cuDNN convolutions by default.
  obj.Set("allowTF32CuDNN", at::globalContext().allowTF32CuDNN());
  obj.Set("allowTF32CuBLAS", at::globalContext().allowTF32CuBLAS());
  obj.Set("threads", at::get_num_threads());
  obj.Set("interopThreads", at::get_num_interop_threads());
  obj.Set("parallelInfo", at::get_parallel_info());
  obj.Set("mkldnn", at::hasMKLDNN());
  obj.Set("mkldnnEnabled", at::globalContext().userEnabledMkldnn());
  obj.Set("buildConfig", at::show_config());
  obj.Set("blas", BlasInfo(env));
  return obj;
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto obj = Napi::Object::New(env);
  obj.Set("liveTensors", static_cast<double>(liveTensors.load()));
  obj.Set("liveBytes", static_cast<double>(liveBytes.load()));
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  // What malloc has handed out and not got back: grows with a native leak, unlike RSS, which
  // also holds freed pages the allocator keeps for reuse.
  struct mallinfo2 heap = mallinfo2();
  obj.Set("mallocBytes", static_cast<double>(heap.uordblks + heap.hblkhd));
#endif
  return obj;
}

// Activations and batches are allocated and freed on every step. By default glibc serves any
// block above 32 MB from a fresh mmap, so all its pages fault (and are zeroed) again on first
// touch: on a virtual machine that costs more than the arithmetic (a float batch of 64 images at
// 224 px, 38 MB, took 66 ms to convert from bytes through fresh pages and 1 ms through reused
// ones). Keeping blocks up to 256 MB (a 64-channel activation of 16 images at 224 px is 205 MB)
// in the heap lets freed ones be reused directly; up to 512 MB freed at the heap's top is kept
// rather than returned. A value the user set in the environment wins.
void tuneAllocator() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 256 << 20);
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) mallopt(M_TRIM_THRESHOLD, 512 << 20);
  // One arena: kernels free on other threads than they allocate, and per-thread arenas then
  // fragment, so RSS creeps up over a long training loop although no tensor leaks.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 1);
#endif
}

}  // namespace

void registerJpeg(Napi::Env env, Napi::Object exports);  // native/jpeg.cc

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tuneAllocator();
  auto* data = new AddonData();
  data->tensorCtor = Napi::Persistent(TensorHandle::Define(env));
  data->moduleCtor = Napi::Persistent(ScriptModuleHandle::Define(env));
  env.SetInstanceData<AddonData>(data);
  exports.Set("opHandle", Napi::Function::New(env, OpHandle));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  exports.Set("callOp", Napi::Function::New(env, CallOp));
  exports.Set("callOpVoid", Napi::Function::New(env, CallOpVoid));
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("setAutocast", Napi::Function::New(env, SetAutocast));
  exports.Set("loadScriptModule", Napi::Function::New(env, LoadScriptModule));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("setCudnnBenchmark", Napi::Function::New(env, SetCudnnBenchmark));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStats));
  registerJpeg(env, exports);
  return exports;
}

NODE_API_MODULE(s2snets, Init)
