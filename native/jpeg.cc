// JPEG decoding for the data loader: libjpeg-turbo decodes only the columns and rows a crop
// needs (the rest of the file is still entropy-decoded, so a damaged file is refused wherever
// the crop falls), and a separable, antialiased bilinear resampler (the triangle filter widened
// by the downscale factor, as torchvision's PIL path resizes) maps a box of the image to the
// output window. Each decode runs on libuv's thread pool and resolves a promise with the
// interleaved (H, W, C) bytes.
// The resampling loops are the hot path of a loader epoch; O3 vectorizes them.
#pragma GCC optimize("O3")
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cerrno>
#include <csetjmp>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>
extern "C" {
#include <jpeglib.h>
}

namespace {

// libjpeg reports errors by calling error_exit, which must not return: jump back to the decode.
// Warnings (corrupt data, a premature end) are errors too, as sharp's failOn 'warning' makes them.
struct ErrorJump {
  jpeg_error_mgr mgr;
  jmp_buf back;
  char message[JMSG_LENGTH_MAX];
};

void onError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorJump*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->back, 1);
}

void onMessage(j_common_ptr cinfo, int level) {
  if (level < 0) onError(cinfo);
}

// A decompressor whose errors and warnings jump to err.back (the caller's setjmp).
void createDecompress(jpeg_decompress_struct& cinfo, ErrorJump& err) {
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = onError;
  err.mgr.emit_message = onMessage;
  jpeg_create_decompress(&cinfo);
}

// What to make of one image: sample `box` (in source pixels) onto a virtual grid of
// virtualHeight x virtualWidth, keep the window [top, top + height) x [left, left + width).
struct Sampling {
  int channels;
  double boxTop, boxLeft, boxHeight, boxWidth;
  int virtualHeight, virtualWidth;
  int top, left, height, width;
  bool flip;
};

// The taps of one output coordinate along one axis: source positions [first, first + weights.size()).
struct Taps {
  int first;
  std::vector<float> weights;
};

// For output positions [start, start + count) of a virtual axis of `outLength` covering
// [boxStart, boxStart + boxLength) of a source axis of `inLength`.
std::vector<Taps> axisTaps(double boxStart, double boxLength, int outLength, int inLength, int start, int count) {
  // Taps stay inside the box, as when the box is cropped out first (torchvision's resized_crop).
  const int first = std::max(0, static_cast<int>(std::floor(boxStart)));
  const int end = std::min(inLength, static_cast<int>(std::ceil(boxStart + boxLength)));
  const double scale = boxLength / outLength;
  const double widen = std::max(scale, 1.0);
  std::vector<Taps> out(count);
  for (int i = 0; i < count; i++) {
    const double center = boxStart + (start + i + 0.5) * scale;
    const int lo = std::max(first, static_cast<int>(center - widen + 0.5));
    const int hi = std::min(end, static_cast<int>(center + widen + 0.5));
    Taps& t = out[i];
    t.first = lo;
    double sum = 0;
    for (int x = lo; x < hi; x++) {
      const double w = std::max(0.0, 1.0 - std::fabs((x + 0.5 - center) / widen));
      t.weights.push_back(static_cast<float>(w));
      sum += w;
    }
    if (sum <= 0) {  // a box narrower than a pixel: take the nearest one
      t.first = std::min(end - 1, std::max(first, static_cast<int>(center)));
      t.weights.assign(1, 1.0f);
      sum = 1;
    }
    for (auto& w : t.weights) w = static_cast<float>(w / sum);
  }
  return out;
}

// Where the encoded bytes come from: a buffer of the caller's, or a span of a file read on the
// worker thread (one trip to the thread pool per image, and no JS work for the read).
struct FileSpan {
  std::string path;
  int64_t offset;
  int64_t length;  // -1: the whole file
  int expectedHeight, expectedWidth;
};

class DecodeJpeg : public Napi::AsyncWorker {
 public:
  // Decodes `input` into `out`.
  DecodeJpeg(Napi::Env env, Napi::Buffer<uint8_t> input, const Sampling& s, Napi::Uint8Array out)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), input_(Napi::Persistent(input)),
        out_(Napi::Persistent(out)), data_(input.Data()), size_(input.Length()), outData_(out.Data()), s_(s) {}

  // Reads `file`, then decodes it into `out` when it is a JPEG libjpeg converts, of the size the plan was made for.
  DecodeJpeg(Napi::Env env, FileSpan file, const Sampling& s, Napi::Uint8Array out)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), out_(Napi::Persistent(out)),
        outData_(out.Data()), s_(s), file_(std::move(file)), fromFile_(true) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    if (fromFile_ && !readFile()) return;
    jpeg_decompress_struct cinfo;
    ErrorJump err;
    createDecompress(cinfo, err);
    if (setjmp(err.back)) {
      jpeg_destroy_decompress(&cinfo);
      SetError(err.message);
      return;
    }
    jpeg_mem_src(&cinfo, data_, size_);
    if (fromFile_ && !decodable(cinfo)) fallback_ = true;
    else decode(cinfo);
    jpeg_destroy_decompress(&cinfo);
  }

  // Resolves undefined once `out` holds the image; with the file's bytes when it is left to the caller's general path.
  void OnOK() override {
    auto env = Env();
    deferred_.Resolve(fallback_ ? Napi::Buffer<uint8_t>::Copy(env, bytes_.data(), bytes_.size()).As<Napi::Value>() : env.Undefined());
  }
  void OnError(const Napi::Error& e) override {
    // A failed read carries its errno name as `code`, as Node's own fs errors do.
    if (!errnoCode_.empty()) e.Set("code", Napi::String::New(Env(), errnoCode_));
    deferred_.Reject(e.Value());
  }

 private:
  // The file's span into bytes_; false (and the error set) when it cannot be read whole.
  bool readFile() {
    const int fd = open(file_.path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return failRead(fd, "open");
    const int64_t length = file_.length >= 0 ? file_.length : static_cast<int64_t>(st.st_size);
    bytes_.resize(static_cast<size_t>(length));
    int64_t done = 0;
    while (done < length) {
      const ssize_t n = pread(fd, bytes_.data() + done, static_cast<size_t>(length - done), file_.offset + done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return failRead(fd, "read");
      if (n == 0) break;
      done += n;
    }
    close(fd);
    if (done < length) {
      SetError("the file is shorter than its index says (" + std::to_string(done) + " of " + std::to_string(length) + " bytes)");
      return false;
    }
    data_ = bytes_.data();
    size_ = bytes_.size();
    return true;
  }

  bool failRead(int fd, const char* what) {
    const int code = errno;
    if (fd >= 0) close(fd);
    errnoCode_ = errnoName(code);
    SetError(std::string(errnoCode_) + ": " + std::strerror(code) + ", " + what);
    return false;
  }

  static std::string errnoName(int code) {
    switch (code) {
      case ENOENT: return "ENOENT";
      case EACCES: return "EACCES";
      case EISDIR: return "EISDIR";
      case ELOOP: return "ELOOP";
      case EIO: return "EIO";
      case EMFILE: return "EMFILE";
      case ENFILE: return "ENFILE";
      default: return "E" + std::to_string(code);
    }
  }

  // A JPEG libjpeg converts to RGB or gray, of the size the sampling was planned for.
  bool decodable(jpeg_decompress_struct& cinfo) {
    if (size_ < 3 || data_[0] != 0xff || data_[1] != 0xd8 || data_[2] != 0xff) return false;
    jpeg_read_header(&cinfo, TRUE);
    const J_COLOR_SPACE cs = cinfo.jpeg_color_space;
    return (cs == JCS_GRAYSCALE || cs == JCS_YCbCr || cs == JCS_RGB) && static_cast<int>(cinfo.image_height) == file_.expectedHeight &&
           static_cast<int>(cinfo.image_width) == file_.expectedWidth;
  }

  // Decodes the source rows and columns the taps reach, then resamples them into output_. Its
  // buffers are members: libjpeg's errors longjmp out of this frame, past any local destructor.
  void decode(jpeg_decompress_struct& cinfo) {
    if (!fromFile_) jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = s_.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const int inHeight = cinfo.output_height, inWidth = cinfo.output_width, c = s_.channels;
    rows_ = axisTaps(s_.boxTop, s_.boxHeight, s_.virtualHeight, inHeight, s_.top, s_.height);
    cols_ = axisTaps(s_.boxLeft, s_.boxWidth, s_.virtualWidth, inWidth, s_.left, s_.width);
    const auto [rowLo, rowHi] = reach(rows_);
    const auto [colLo, colHi] = reach(cols_);
    // A margin beyond the columns used: chroma upsampling treats the crop's edges as the image's.
    // libjpeg then widens the crop to whole iMCUs (cropLeft moves left).
    const int margin = 16;
    JDIMENSION cropLeft = std::max(0, colLo - margin), cropWidth = std::min(inWidth, colHi + margin) - cropLeft;
    if (cropWidth < static_cast<JDIMENSION>(inWidth)) jpeg_crop_scanline(&cinfo, &cropLeft, &cropWidth);
    else cropLeft = 0, cropWidth = inWidth;
    // Horizontal pass, row by row as they are decoded: rows [rowLo, rowHi) x the output columns.
    line_.resize(static_cast<size_t>(cropWidth) * c);
    lineValues_.resize(line_.size());
    across_.resize(static_cast<size_t>(rowHi - rowLo) * s_.width * c);
    // Rows are read from a margin above the first one used, for the same reason as the columns.
    const int firstRead = std::max(0, rowLo - margin);
    if (firstRead > 0) jpeg_skip_scanlines(&cinfo, firstRead);
    for (int y = firstRead; y < rowHi; y++) {
      JSAMPROW row = line_.data();
      jpeg_read_scanlines(&cinfo, &row, 1);
      if (y < rowLo) continue;
      horizontalPass(&across_[static_cast<size_t>(y - rowLo) * s_.width * c], static_cast<int>(cropLeft));
    }
    // The rest is entropy-decoded but not reconstructed, so damage anywhere in the file is seen.
    // libjpeg-turbo skips a run that reaches the last row without decoding it: stop one short
    // and read the last row.
    const int rest = static_cast<int>(cinfo.output_height - cinfo.output_scanline);
    if (rest > 1) jpeg_skip_scanlines(&cinfo, rest - 1);
    if (rest > 0) {
      JSAMPROW row = line_.data();
      jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    verticalPass(rowLo);
  }

  // The source positions [lo, hi) any tap reaches.
  static std::pair<int, int> reach(const std::vector<Taps>& taps) {
    int lo = taps.front().first, hi = lo;
    for (const auto& t : taps) lo = std::min(lo, t.first), hi = std::max(hi, t.first + static_cast<int>(t.weights.size()));
    return {lo, hi};
  }

  // One decoded row (line_, starting at source column cropLeft) resampled to the window's columns.
  // The row becomes float once (a vectorized loop) rather than at each of the taps reaching a value.
  void horizontalPass(float* out, int cropLeft) {
    const int c = s_.channels;
    std::copy(line_.begin(), line_.end(), lineValues_.begin());
    for (int j = 0; j < s_.width; j++) {
      const Taps& t = cols_[j];
      const float* in = &lineValues_[static_cast<size_t>(t.first - cropLeft) * c];
      const float* w = t.weights.data();
      const int n = static_cast<int>(t.weights.size());
      if (c == 3) {
        float r = 0, g = 0, b = 0;
        for (int q = 0; q < n; q++) r += w[q] * in[3 * q], g += w[q] * in[3 * q + 1], b += w[q] * in[3 * q + 2];
        out[3 * j] = r, out[3 * j + 1] = g, out[3 * j + 2] = b;
      } else {
        float v = 0;
        for (int q = 0; q < n; q++) v += w[q] * in[q];
        out[j] = v;
      }
    }
  }

  // The window's rows from the horizontally resampled rows (across_ starts at source row rowLo),
  // rounded to bytes, mirrored when asked.
  void verticalPass(int rowLo) {
    const int c = s_.channels, rowValues = s_.width * c;
    std::vector<float> sum(rowValues);
    std::vector<uint8_t> rounded(rowValues);
    for (int i = 0; i < s_.height; i++) {
      const Taps& t = rows_[i];
      std::fill(sum.begin(), sum.end(), 0.0f);
      for (size_t q = 0; q < t.weights.size(); q++) {
        const float w = t.weights[q];
        const float* in = &across_[static_cast<size_t>(t.first - rowLo + q) * rowValues];
        for (int v = 0; v < rowValues; v++) sum[v] += w * in[v];
      }
      uint8_t* out = outData_ + static_cast<size_t>(i) * rowValues;
      toBytes(sum.data(), s_.flip ? rounded.data() : out, rowValues);
      if (s_.flip) {
        for (int j = 0; j < s_.width; j++) std::memcpy(out + (s_.width - 1 - j) * c, rounded.data() + j * c, c);
      }
    }
  }

  // Values rounded half to even, as nearbyint does, and clamped to [0, 255]. Adding 1.5 * 2^23
  // leaves the rounded integer in the low bits of the float's mantissa (for |value| < 2^22; the
  // weights are non-negative and sum to 1, so a value lies within [0, 255] up to rounding). Integer
  // clamps vectorize where float ones (NaN-aware branches) and nearbyintf calls (a quarter of an
  // epoch's CPU when they were used) do not.
  static void toBytes(const float* __restrict values, uint8_t* __restrict out, int count) {
    constexpr float kRound = 12582912.0f;
    for (int v = 0; v < count; v++) {
      const float shifted = values[v] + kRound;
      int32_t bits;
      std::memcpy(&bits, &shifted, sizeof bits);
      const int32_t rounded = (bits & 0x7fffff) - 0x400000;
      out[v] = static_cast<uint8_t>(std::min(255, std::max(0, rounded)));
    }
  }

  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Buffer<uint8_t>> input_;
  Napi::Reference<Napi::Uint8Array> out_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint8_t* outData_;
  Sampling s_;
  FileSpan file_;
  bool fromFile_ = false;
  bool fallback_ = false;
  std::string errnoCode_;
  std::vector<uint8_t> bytes_;
  std::vector<Taps> rows_, cols_;
  std::vector<uint8_t> line_;
  std::vector<float> lineValues_, across_;
};

// jpegInfo(bytes) -> { height, width, components, colorSpace } from the header alone; throws on a bad header.
Napi::Value JpegInfo(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto input = info[0].As<Napi::Buffer<uint8_t>>();
  jpeg_decompress_struct cinfo;
  ErrorJump err;
  createDecompress(cinfo, err);
  if (setjmp(err.back)) {
    jpeg_destroy_decompress(&cinfo);
    throw Napi::Error::New(env, err.message);
  }
  jpeg_mem_src(&cinfo, input.Data(), input.Length());
  jpeg_read_header(&cinfo, TRUE);
  auto out = Napi::Object::New(env);
  out.Set("height", static_cast<double>(cinfo.image_height));
  out.Set("width", static_cast<double>(cinfo.image_width));
  out.Set("components", cinfo.num_components);
  // Grayscale, YCbCr and RGB convert to RGB or gray; CMYK and YCCK do not.
  const J_COLOR_SPACE cs = cinfo.jpeg_color_space;
  out.Set("convertible", cs == JCS_GRAYSCALE || cs == JCS_YCbCr || cs == JCS_RGB);
  jpeg_destroy_decompress(&cinfo);
  return out;
}

// The sampling array [channels, boxTop, boxLeft, boxHeight, boxWidth, virtualHeight, virtualWidth,
// top, left, height, width, flip], checked against the output buffer.
Sampling samplingArg(const Napi::CallbackInfo& info, const Napi::Value& value, const Napi::Uint8Array& out) {
  auto p = value.As<Napi::Array>();
  auto at = [&](uint32_t i) { return p.Get(i).As<Napi::Number>().DoubleValue(); };
  Sampling s{static_cast<int>(at(0)), at(1), at(2), at(3), at(4), static_cast<int>(at(5)), static_cast<int>(at(6)),
             static_cast<int>(at(7)), static_cast<int>(at(8)), static_cast<int>(at(9)), static_cast<int>(at(10)), at(11) != 0};
  if ((s.channels != 1 && s.channels != 3) || s.height <= 0 || s.width <= 0 || s.boxHeight <= 0 || s.boxWidth <= 0 ||
      s.top < 0 || s.left < 0 || s.top + s.height > s.virtualHeight || s.left + s.width > s.virtualWidth) {
    throw Napi::RangeError::New(info.Env(), "decodeJpeg: the window does not lie inside the virtual grid");
  }
  if (out.ByteLength() != static_cast<size_t>(s.height) * s.width * s.channels) {
    throw Napi::RangeError::New(info.Env(), "decodeJpeg: the output buffer does not hold height x width x channels bytes");
  }
  return s;
}

Napi::Value queued(DecodeJpeg* worker) {
  auto promise = worker->Promise();
  worker->Queue();
  return promise;
}

// decodeJpeg(bytes, sampling, out) -> Promise<undefined>: the window's interleaved bytes in out.
Napi::Value DecodeJpegAsync(const Napi::CallbackInfo& info) {
  auto out = info[2].As<Napi::Uint8Array>();
  const Sampling s = samplingArg(info, info[1], out);
  return queued(new DecodeJpeg(info.Env(), info[0].As<Napi::Buffer<uint8_t>>(), s, out));
}

// decodeJpegFile(path, offset, length (-1: to the end), [height, width], sampling, out) ->
// Promise<undefined | Buffer>: undefined once out holds the window; the file's bytes when it is not
// a JPEG libjpeg converts of that height and width (the caller decodes them otherwise).
Napi::Value DecodeJpegFileAsync(const Napi::CallbackInfo& info) {
  auto out = info[5].As<Napi::Uint8Array>();
  const Sampling s = samplingArg(info, info[4], out);
  auto size = info[3].As<Napi::Array>();
  auto path = info[0].As<Napi::Buffer<char>>();  // bytes: a file name need not be UTF-8
  FileSpan file{std::string(path.Data(), path.Length()), static_cast<int64_t>(info[1].As<Napi::Number>().DoubleValue()),
                static_cast<int64_t>(info[2].As<Napi::Number>().DoubleValue()), size.Get(0u).As<Napi::Number>().Int32Value(),
                size.Get(1u).As<Napi::Number>().Int32Value()};
  return queued(new DecodeJpeg(info.Env(), std::move(file), s, out));
}

}  // namespace

void registerJpeg(Napi::Env env, Napi::Object exports) {
  exports.Set("jpegInfo", Napi::Function::New(env, JpegInfo));
  exports.Set("decodeJpeg", Napi::Function::New(env, DecodeJpegAsync));
  exports.Set("decodeJpegFile", Napi::Function::New(env, DecodeJpegFileAsync));
}
