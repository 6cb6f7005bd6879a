// A file compiled into a binary by cmake/Yuer.cmake yuer_embed_files() (web pages served without a
// build step at install time).
#pragma once

#include <span>
#include <string_view>

namespace yuer {

struct EmbeddedFile {
  std::string_view path;          // "/index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};

// The file at `path` in `files`, or nullptr.
inline const EmbeddedFile* find_embedded(std::span<const EmbeddedFile> files, std::string_view path) {
  for (const auto& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

}  // namespace yuer
