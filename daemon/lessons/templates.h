// Message templates (templates/messages/*.mustache) rendered with kainjow mustache. A template that
// names a variable the data does not have is an error, not an empty string (mustache's own rule).
#pragma once

#include "daemon/base/result.h"

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::lessons {

class Library;
struct Lesson;

class Templates {
 public:
  // Reads and parses every `dir`/*.mustache; the name of a template is its file name without the
  // extension. Fails with "templates.invalid" listing each template that does not parse.
  static Result<Templates> load(const std::filesystem::path& dir);

  Templates(Templates&&) noexcept;
  Templates& operator=(Templates&&) noexcept;
  ~Templates();

  std::vector<std::string> names() const;

  // Renders template `name` with `data` (a JSON object: strings, numbers, booleans, arrays of
  // objects for sections). Values are inserted as they are (no HTML escaping: the output is WeCom
  // markdown or text). Fails with "templates.unknown" for an unknown name and "templates.missing"
  // naming every variable or section the data lacks (null counts as missing); the text is trimmed.
  Result<std::string> render(std::string_view name, const nlohmann::json& data) const;

  // The lesson as parents receive it: template "lesson" with title, body and source line.
  Result<std::string> render_lesson(const Library& library, const Lesson& lesson) const;

 private:
  struct Parsed;
  Templates();
  std::map<std::string, std::unique_ptr<Parsed>, std::less<>> templates_;
};

}  // namespace yuer::lessons
