// Winograd convolutions on the CPU: the operator s2snets::conv2d.
//
// PyTorch's CPU convolutions ask oneDNN for its direct algorithm only. For 3x3, stride-1
// convolutions whose channel counts oneDNN's Winograd F(4x4, 3x3) kernels accept (multiples of
// 16 on AVX-512 machines), those kernels run forward, backward-data and backward-weights 2-2.9x
// faster, and their results differ from the direct ones by rounding only (about 1e-6 relative).
// Every other convolution (other shapes, dtypes, devices, or a CPU without the kernels) goes to
// aten::conv2d unchanged. The operator is registered with the dispatcher, so TypeScript calls it
// like any aten operator; s2snets::conv2d_algorithm says which road a convolution takes and
// s2snets::winograd_kernels whether this CPU has the kernels at all.
//
// Built only where libtorch itself uses the system's oneDNN (Debian's libtorch-dev), so that the
// process holds one oneDNN with one thread pool.

#include <torch/torch.h>
#include <torch/library.h>
#include <ATen/autocast_mode.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <tuple>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using torch::autograd::AutogradContext;

dnnl::engine& cpuEngine() {
  thread_local dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpuStream() {
  thread_local dnnl::stream stream(cpuEngine());
  return stream;
}

memory::dims dimsOf(c10::IntArrayRef values) { return memory::dims(values.begin(), values.end()); }

// A float32 tensor as oneDNN sees it: its sizes and strides, whatever its memory format.
memory::desc describe(const at::Tensor& t) { return memory::desc(dimsOf(t.sizes()), memory::data_type::f32, dimsOf(t.strides())); }

// One convolution shape; its primitives are made once per thread and reused.
struct ShapeKey {
  int64_t batch, inChannels, outChannels, height, width, padding;
  bool bias;
  bool operator<(const ShapeKey& o) const {
    return std::tie(batch, inChannels, outChannels, height, width, padding, bias) <
           std::tie(o.batch, o.inChannels, o.outChannels, o.height, o.width, o.padding, o.bias);
  }
};

struct Primitives {
  dnnl::convolution_forward::primitive_desc forwardDesc;
  dnnl::convolution_forward forward;
  // The backward primitives are made on the first backward pass: inference never needs them.
  std::unique_ptr<dnnl::convolution_backward_data::primitive_desc> dataDesc;
  dnnl::convolution_backward_data data;
  std::unique_ptr<dnnl::convolution_backward_weights::primitive_desc> weightsDesc;
  dnnl::convolution_backward_weights weights;
};

struct ConvDescs {
  memory::desc src, weights, bias, dst;
  memory::dims strides{1, 1}, padding;
};

ConvDescs descsFor(const ShapeKey& k) {
  const auto any = Tag::any;
  const auto f32 = memory::data_type::f32;
  const int64_t outH = k.height + 2 * k.padding - 2, outW = k.width + 2 * k.padding - 2;
  return {memory::desc({k.batch, k.inChannels, k.height, k.width}, f32, any),
          memory::desc({k.outChannels, k.inChannels, 3, 3}, f32, any),
          k.bias ? memory::desc({k.outChannels}, f32, Tag::x) : memory::desc(),
          memory::desc({k.batch, k.outChannels, outH, outW}, f32, any),
          {1, 1},
          {k.padding, k.padding}};
}

// The shape's Winograd primitives, or null where oneDNN has no Winograd kernel for it (the
// answer is remembered, so that a refused shape costs one query per thread).
Primitives* primitivesFor(const ShapeKey& key) {
  thread_local std::map<ShapeKey, std::unique_ptr<Primitives>> cache;
  auto found = cache.find(key);
  if (found != cache.end()) return found->second.get();
  std::unique_ptr<Primitives> made;
  try {
    const auto d = descsFor(key);
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_winograd, d.src, d.weights, d.bias, d.dst,
                                         d.strides, d.padding, d.padding);
    dnnl::convolution_forward::primitive_desc pd(desc, cpuEngine());
    made.reset(new Primitives{pd, dnnl::convolution_forward(pd), nullptr, {}, nullptr, {}});
  } catch (const dnnl::error&) {
    made.reset();
  }
  return (cache[key] = std::move(made)).get();
}

void ensureBackward(Primitives& p, const ShapeKey& key) {
  if (p.dataDesc) return;
  const auto d = descsFor(key);
  const auto alg = dnnl::algorithm::convolution_winograd;
  dnnl::convolution_backward_data::desc data(alg, d.src, d.weights, d.dst, d.strides, d.padding, d.padding);
  p.dataDesc.reset(new dnnl::convolution_backward_data::primitive_desc(data, cpuEngine(), p.forwardDesc));
  p.data = dnnl::convolution_backward_data(*p.dataDesc);
  dnnl::convolution_backward_weights::desc weights(alg, d.src, d.weights, d.bias, d.dst, d.strides, d.padding, d.padding);
  p.weightsDesc.reset(new dnnl::convolution_backward_weights::primitive_desc(weights, cpuEngine(), p.forwardDesc));
  p.weights = dnnl::convolution_backward_weights(*p.weightsDesc);
}

// Buffers that must outlive the primitives executed on them within one call.
using Keep = std::vector<at::Tensor>;

// The tensor's data in the layout a primitive wants: the tensor itself when it already has that
// layout, else a reordered copy.
memory asLayout(const at::Tensor& t, const memory::desc& want, Keep& keep) {
  const auto have = describe(t);
  if (have == want) return memory(want, cpuEngine(), t.data_ptr());
  at::Tensor buffer = at::empty({static_cast<int64_t>(want.get_size())}, t.options().dtype(at::kByte));
  keep.push_back(buffer);
  memory in(have, cpuEngine(), t.data_ptr()), out(want, cpuEngine(), buffer.data_ptr());
  dnnl::reorder(in, out).execute(cpuStream(), in, out);
  return out;
}

// A place for a primitive to write `target` in the layout it produces; `land` copies it into
// `target` afterwards when that layout differs.
memory outputFor(const at::Tensor& target, const memory::desc& produced, Keep& keep) {
  if (describe(target) == produced) return memory(produced, cpuEngine(), target.data_ptr());
  at::Tensor buffer = at::empty({static_cast<int64_t>(produced.get_size())}, target.options().dtype(at::kByte));
  keep.push_back(buffer);
  return memory(produced, cpuEngine(), buffer.data_ptr());
}

void land(memory& written, const at::Tensor& target) {
  if (written.get_data_handle() == target.data_ptr()) return;
  memory out(describe(target), cpuEngine(), target.data_ptr());
  dnnl::reorder(written, out).execute(cpuStream(), written, out);
}

ShapeKey keyOf(const at::Tensor& input, const at::Tensor& weight, int64_t padding, bool bias) {
  return {input.size(0), input.size(1), weight.size(0), input.size(2), input.size(3), padding, bias};
}

// An output or gradient tensor of the given sizes, in the input's memory format.
at::Tensor emptyLike(c10::IntArrayRef sizes, const at::Tensor& input) {
  return at::empty(sizes, input.options().memory_format(input.suggest_memory_format()));
}

struct WinogradConv2d : public torch::autograd::Function<WinogradConv2d> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias, int64_t padding) {
    const bool hasBias = bias.has_value() && bias->defined();
    const auto key = keyOf(input, weight, padding, hasBias);
    Primitives& p = *primitivesFor(key);
    Keep keep;
    const at::Tensor w = weight.contiguous();
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, asLayout(input, p.forwardDesc.src_desc(), keep)},
        {DNNL_ARG_WEIGHTS, asLayout(w, p.forwardDesc.weights_desc(), keep)},
    };
    const at::Tensor b = hasBias ? bias->contiguous() : at::Tensor();
    if (hasBias) args.emplace(DNNL_ARG_BIAS, memory(p.forwardDesc.bias_desc(), cpuEngine(), b.data_ptr()));
    at::Tensor output = emptyLike(p.forwardDesc.dst_desc().dims(), input);
    memory dst = outputFor(output, p.forwardDesc.dst_desc(), keep);
    args.emplace(DNNL_ARG_DST, dst);
    p.forward.execute(cpuStream(), args);
    land(dst, output);
    cpuStream().wait();
    ctx->save_for_backward({input, weight});
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["bias"] = hasBias;
    return output;
  }

  static torch::autograd::variable_list backward(AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& input = saved[0];
    const at::Tensor weight = saved[1].contiguous();
    const int64_t padding = ctx->saved_data["padding"].toInt();
    const bool hasBias = ctx->saved_data["bias"].toBool();
    const at::Tensor gradOutput = grads[0];
    const bool wantInput = ctx->needs_input_grad(0), wantWeight = ctx->needs_input_grad(1), wantBias = hasBias && ctx->needs_input_grad(2);
    if (at::GradMode::is_enabled()) {
      // create_graph: the gradients must be differentiable in turn, which only aten's are.
      const int64_t biasSize[] = {weight.size(0)};
      auto [gradInput, gradWeight, gradBias] =
          at::convolution_backward(gradOutput, input, saved[1], hasBias ? at::OptionalIntArrayRef(biasSize) : c10::nullopt, {1, 1}, {padding, padding}, {1, 1},
                                   false, {0, 0}, 1, {wantInput, wantWeight, wantBias});
      return {gradInput, gradWeight, gradBias, at::Tensor()};
    }
    const auto key = keyOf(input, weight, padding, hasBias);
    Primitives& p = *primitivesFor(key);
    ensureBackward(p, key);
    at::Tensor gradInput, gradWeight, gradBias;
    Keep keep;
    if (wantInput) {
      gradInput = emptyLike(input.sizes(), input);
      memory diffSrc = outputFor(gradInput, p.dataDesc->diff_src_desc(), keep);
      p.data.execute(cpuStream(), {{DNNL_ARG_DIFF_DST, asLayout(gradOutput, p.dataDesc->diff_dst_desc(), keep)},
                                   {DNNL_ARG_WEIGHTS, asLayout(weight, p.dataDesc->weights_desc(), keep)},
                                   {DNNL_ARG_DIFF_SRC, diffSrc}});
      land(diffSrc, gradInput);
    }
    if (wantWeight || wantBias) {
      gradWeight = at::empty_like(saved[1]);
      memory diffWeights = outputFor(gradWeight, p.weightsDesc->diff_weights_desc(), keep);
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, asLayout(input, p.weightsDesc->src_desc(), keep)},
                                           {DNNL_ARG_DIFF_DST, asLayout(gradOutput, p.weightsDesc->diff_dst_desc(), keep)},
                                           {DNNL_ARG_DIFF_WEIGHTS, diffWeights}};
      if (hasBias) {
        gradBias = at::empty({key.outChannels}, input.options());
        args.emplace(DNNL_ARG_DIFF_BIAS, memory(p.weightsDesc->diff_bias_desc(), cpuEngine(), gradBias.data_ptr()));
      }
      p.weights.execute(cpuStream(), args);
      land(diffWeights, gradWeight);
      if (!wantWeight) gradWeight = at::Tensor();
      if (!wantBias) gradBias = at::Tensor();
    }
    cpuStream().wait();
    return {gradInput, gradWeight, gradBias, at::Tensor()};
  }
};

// Whether this convolution runs on the Winograd kernels; everything else is aten::conv2d's.
bool usesWinograd(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                  at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  const bool hasBias = bias.has_value() && bias->defined();
  const auto isFloatCpu = [](const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided; };
  if (!isFloatCpu(input) || !isFloatCpu(weight) || (hasBias && !isFloatCpu(*bias))) return false;
  if (at::autocast::is_cpu_enabled()) return false;  // autocast casts the operands: aten decides
  if (input.dim() != 4 || weight.dim() != 4 || input.numel() == 0) return false;
  if (weight.size(2) != 3 || weight.size(3) != 3 || weight.size(1) != input.size(1) || groups != 1) return false;
  // oneDNN pads other channel counts to 16 and accepts them, but then runs slower than direct
  // (3 -> 64 channels at 224 px: 15.7 against 2.0 ms).
  if (input.size(1) % 16 != 0 || weight.size(0) % 16 != 0) return false;
  const auto all = [](at::IntArrayRef v, int64_t x) { return v.size() == 2 && v[0] == x && v[1] == x; };
  if (!all(stride, 1) || !all(dilation, 1) || padding.size() != 2 || padding[0] != padding[1]) return false;
  if (input.size(2) + 2 * padding[0] < 3 || input.size(3) + 2 * padding[0] < 3) return false;
  return primitivesFor(keyOf(input, weight, padding[0], hasBias)) != nullptr;
}

at::Tensor conv2d(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                  at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  if (!usesWinograd(input, weight, bias, stride, padding, dilation, groups)) return at::conv2d(input, weight, bias, stride, padding, dilation, groups);
  return WinogradConv2d::apply(input.contiguous(input.suggest_memory_format()), weight, bias, padding[0]);
}

std::string conv2dAlgorithm(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                            at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  return usesWinograd(input, weight, bias, stride, padding, dilation, groups) ? "winograd" : "direct";
}

// Whether this CPU has oneDNN Winograd kernels at all (oneDNN 2.x has them for AVX-512 only).
bool winogradKernels() { return primitivesFor({1, 16, 16, 8, 8, 1, false}) != nullptr; }

}  // namespace

TORCH_LIBRARY(s2snets, m) {
  m.def("conv2d(Tensor input, Tensor weight, Tensor? bias=None, int[2] stride=1, int[2] padding=0, int[2] dilation=1, int groups=1) -> Tensor");
  m.def("conv2d_algorithm(Tensor input, Tensor weight, Tensor? bias=None, int[2] stride=1, int[2] padding=0, int[2] dilation=1, int groups=1) -> str");
  m.def("winograd_kernels() -> bool", &winogradKernels);
}

TORCH_LIBRARY_IMPL(s2snets, CompositeImplicitAutograd, m) {
  m.impl("conv2d", &conv2d);
  m.impl("conv2d_algorithm", &conv2dAlgorithm);
}
