// Respondent → family matching. A RosterView answers the three questions the conversation needs
// about the round's eligible roster; VectorRoster is the in-memory one (a round's snapshot, and
// tests). The helpers never see a phone number: only the roster's mask (138****1234) and hash.
#pragma once

#include "daemon/store/org_store.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace yuer::survey {

class RosterView {
 public:
  virtual ~RosterView() = default;
  // Families whose external_userid is `userid` (several children of one caregiver).
  virtual std::vector<store::Family> by_external_userid(const std::string& userid) const = 0;
  // Families whose child was born on `date` (YYYY-MM-DD).
  virtual std::vector<store::Family> by_birth_date(const std::string& date) const = 0;
  // Families registered with the same phone hash (siblings); none for an empty hash.
  virtual std::vector<store::Family> by_phone_hash(const std::string& hash) const = 0;
};

// Indexed by external_userid, birth date and phone hash at construction (a province's snapshot
// answers each lookup by a hash probe, not a scan); results keep the order of `families`.
class VectorRoster final : public RosterView {
 public:
  explicit VectorRoster(std::vector<store::Family> families);
  std::vector<store::Family> by_external_userid(const std::string& userid) const override;
  std::vector<store::Family> by_birth_date(const std::string& date) const override;
  std::vector<store::Family> by_phone_hash(const std::string& hash) const override;
  std::size_t size() const { return families_.size(); }

 private:
  using Index = std::unordered_map<std::string, std::vector<std::size_t>>;
  std::vector<store::Family> pick(const Index& index, const std::string& key) const;

  std::vector<store::Family> families_;
  Index by_userid_, by_birth_, by_phone_;
};

// The last 4 digits of a phone number in a reply ("1234", "尾号１２３４", or a full 11-digit number,
// of which only the last 4 are kept), or "" when the reply holds no such digits.
std::string last4_digits(std::string_view reply);

// Families among `born_that_day` whose masked phone ends with `last4`.
std::vector<store::Family> match_last4(const std::vector<store::Family>& born_that_day, std::string_view last4);

// All children of the caregiver of `f`: `f` and the families sharing its phone hash or its
// external_userid, each child once, ordered by birth date then child id.
std::vector<store::Family> household(const RosterView& roster, const store::Family& f);

}  // namespace yuer::survey
