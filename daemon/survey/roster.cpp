#include "daemon/survey/roster.h"

#include "daemon/survey/text.h"

#include <algorithm>
#include <map>

namespace yuer::survey {

std::vector<store::Family> VectorRoster::by_external_userid(const std::string& userid) const {
  std::vector<store::Family> out;
  if (userid.empty()) return out;
  for (const auto& f : families_)
    if (f.external_userid == userid) out.push_back(f);
  return out;
}

std::vector<store::Family> VectorRoster::by_birth_date(const std::string& date) const {
  std::vector<store::Family> out;
  for (const auto& f : families_)
    if (f.birth_date == date) out.push_back(f);
  return out;
}

std::vector<store::Family> VectorRoster::by_phone_hash(const std::string& hash) const {
  std::vector<store::Family> out;
  if (hash.empty()) return out;
  for (const auto& f : families_)
    if (f.phone_hash == hash) out.push_back(f);
  return out;
}

std::string last4_digits(std::string_view reply) {
  std::u32string t = fold(to_u32(reply));
  std::vector<std::string> runs;
  std::string run;
  t.push_back(U' ');
  for (char32_t c : t) {
    if (c >= U'0' && c <= U'9') {
      run.push_back(static_cast<char>(c));
    } else if (!run.empty()) {
      runs.push_back(run);
      run.clear();
    }
  }
  if (runs.size() != 1) return {};
  if (runs[0].size() == 4) return runs[0];
  if (runs[0].size() == 11) return runs[0].substr(7);
  return {};
}

std::vector<store::Family> match_last4(const std::vector<store::Family>& born_that_day, std::string_view last4) {
  std::vector<store::Family> out;
  if (last4.size() != 4) return out;
  for (const auto& f : born_that_day)
    if (f.phone_masked.size() >= 4 && f.phone_masked.compare(f.phone_masked.size() - 4, 4, last4) == 0) out.push_back(f);
  return out;
}

std::vector<store::Family> household(const RosterView& roster, const store::Family& f) {
  std::map<std::string, store::Family> by_child;
  by_child[f.child_id] = f;
  for (auto& s : roster.by_phone_hash(f.phone_hash)) by_child.emplace(s.child_id, s);
  for (auto& s : roster.by_external_userid(f.external_userid)) by_child.emplace(s.child_id, s);
  std::vector<store::Family> out;
  for (auto& [id, fam] : by_child) out.push_back(fam);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.birth_date < b.birth_date; });
  return out;
}

}  // namespace yuer::survey
