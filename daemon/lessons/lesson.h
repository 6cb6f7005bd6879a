// The lesson library: parenting-knowledge lessons loaded from templates/lessons/ (one Markdown file
// with TOML front matter per lesson, sources defined once in sources.toml). A Library is immutable
// after load; every lesson in it passed validation and names only known sources.
#pragma once

#include "daemon/base/result.h"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::lessons {

// One reference document (核心信息, 膳食指南, WHO guideline …) as defined in sources.toml.
struct Source {
  std::string id;
  std::string title;
  std::string publisher;
  int year = 0;  // 0 for an undated web page
  std::string url;
  std::string citation;  // the short Chinese line shown to parents under a lesson
};

// One lesson (课程). Ages are in completed days of life, both ends inclusive.
struct Lesson {
  std::string id;  // stable, equals the file name without ".md": "L-06m-01"
  std::string title;
  int from_day = 0;
  int to_day = 0;
  std::vector<std::string> topics;
  std::vector<std::string> sources;  // ids into Library::sources()
  std::string note;                  // where sources conflict: which one the lesson follows
  std::string body;                  // WeCom markdown, trimmed, never empty
  std::string file;                  // file name inside the lessons directory, for messages
};

// Month m of life (age in completed months) is days [first_day_of_month(m), first_day_of_month(m+1)).
// A month is 365.25 / 12 days, so 6 months = day 182 and 36 months = day 1095.
int first_day_of_month(int month);

// The completed month a day of life falls in (inverse of first_day_of_month).
int month_of_day(int day);

// Ages the library accepts: 0 to the end of month 36.
inline constexpr int kMaxMonth = 36;

class Library {
 public:
  // Reads `dir`/sources.toml and every `dir`/*.md (README.md excepted). Fails with code
  // "lessons.invalid" and a message listing every problem, one per line as
  // "file: key: 中文原因 (English reason)"; fails with "lessons.unreadable" when the directory or a
  // file cannot be read. Nothing partial is returned.
  static Result<Library> load(const std::filesystem::path& dir);

  // Sorted by from_day, then id.
  const std::vector<Lesson>& lessons() const { return lessons_; }
  const std::map<std::string, Source, std::less<>>& sources() const { return sources_; }

  // The lesson with this id, or nullptr.
  const Lesson* find(std::string_view id) const;

  // Lessons whose age range contains `day` (days of life), in lessons() order.
  std::vector<const Lesson*> lessons_for_age(int day) const;

  // Lessons whose age range overlaps month `month` of life, in lessons() order.
  std::vector<const Lesson*> lessons_for_month(int month) const;

  // The line naming a lesson's sources for parents: "来源：A；B". Requires: lesson is from this library.
  std::string source_line(const Lesson& lesson) const;

 private:
  std::vector<Lesson> lessons_;
  std::map<std::string, Source, std::less<>> sources_;
};

}  // namespace yuer::lessons
