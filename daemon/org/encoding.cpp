#include "daemon/org/encoding.h"

#include <iconv.h>

#include <cerrno>
#include <stdexcept>

namespace yuer::org {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Owns one iconv descriptor.
class Iconv {
 public:
  Iconv(const char* to, const char* from) : cd_(::iconv_open(to, from)) {
    if (cd_ == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error(std::string("iconv cannot convert from ") + from);
  }
  ~Iconv() { ::iconv_close(cd_); }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;

  // The whole of `in` converted, or nothing when any byte sequence is invalid or incomplete.
  bool convert(std::string_view in, std::string& out) {
    out.assign(in.size() * 2 + 16, '\0');
    char* src = const_cast<char*>(in.data());
    std::size_t src_left = in.size();
    std::size_t used = 0;
    while (src_left > 0) {
      char* dst = out.data() + used;
      std::size_t dst_left = out.size() - used;
      std::size_t r = ::iconv(cd_, &src, &src_left, &dst, &dst_left);
      used = out.size() - dst_left;
      if (r == static_cast<std::size_t>(-1)) {
        if (errno == E2BIG) {
          out.resize(out.size() * 2);
          continue;
        }
        return false;  // EILSEQ or EINVAL: not this encoding
      }
    }
    out.resize(used);
    return true;
  }

 private:
  iconv_t cd_;
};

}  // namespace

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      if ((t & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (t & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

Result<Decoded> decode_to_utf8(std::string_view bytes) {
  Decoded d;
  if (bytes.substr(0, kUtf8Bom.size()) == kUtf8Bom) {
    bytes.remove_prefix(kUtf8Bom.size());
    if (!is_valid_utf8(bytes))
      return Error{"import.bad_encoding", "文件以 UTF-8 BOM 开头，但内容不是有效的 UTF-8 编码"};
    d.text = std::string(bytes);
    d.encoding = "UTF-8-BOM";
  } else if (is_valid_utf8(bytes)) {
    d.text = std::string(bytes);
    d.encoding = "UTF-8";
  } else {
    Iconv gb("UTF-8", "GB18030");
    if (!gb.convert(bytes, d.text))
      return Error{"import.bad_encoding",
                   "文件编码无法识别：既不是 UTF-8 也不是 GB18030（请在 Excel 中另存为“CSV UTF-8”或“CSV（逗号分隔）”）"};
    d.encoding = "GB18030";
  }
  if (d.text.find('\0') != std::string::npos)
    return Error{"import.bad_encoding", "文件含有 NUL 字节，不是文本文件（是否为 UTF-16 或 Excel 的 .xlsx 文件？）"};
  return d;
}

}  // namespace yuer::org
