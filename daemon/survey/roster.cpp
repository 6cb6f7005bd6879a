#include "daemon/survey/roster.h"

#include "daemon/survey/text.h"

#include <algorithm>
#include <map>

namespace yuer::survey {

VectorRoster::VectorRoster(std::vector<store::Family> families) : families_(std::move(families)) {
  for (std::size_t i = 0; i < families_.size(); ++i) {
    const auto& f = families_[i];
    if (!f.external_userid.empty()) by_userid_[f.external_userid].push_back(i);
    by_birth_[f.birth_date].push_back(i);
    if (!f.phone_hash.empty()) by_phone_[f.phone_hash].push_back(i);
  }
}

std::vector<store::Family> VectorRoster::pick(const Index& index, const std::string& key) const {
  std::vector<store::Family> out;
  auto it = index.find(key);
  if (it == index.end()) return out;
  out.reserve(it->second.size());
  for (std::size_t i : it->second) out.push_back(families_[i]);
  return out;
}

std::vector<store::Family> VectorRoster::by_external_userid(const std::string& userid) const {
  if (userid.empty()) return {};
  return pick(by_userid_, userid);
}

std::vector<store::Family> VectorRoster::by_birth_date(const std::string& date) const { return pick(by_birth_, date); }

std::vector<store::Family> VectorRoster::by_phone_hash(const std::string& hash) const {
  if (hash.empty()) return {};
  return pick(by_phone_, hash);
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
