// Access control for /api/v1, in one place (README "Access control"): who a token is (role + unit),
// which endpoints a role may call, which units a request may name (`unit=` filters, "unit"/"units"
// in bodies, resources named in the path), which lists it may see, `identifying=1`, and the
// lockout of peers that present wrong tokens. Pure logic: no I/O, no clock (times are passed in);
// AdminApi::api applies it to every request before any handler runs.
#pragma once

#include "daemon/net/http_types.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yuer::admin {

enum class Role { kSuperuser, kProvinceAdmin, kCityAdmin, kCountyAdmin, kTownshipCoordinator, kViewer };

std::optional<Role> parse_role(std::string_view name);
std::string_view role_name(Role role);

// Who is calling: the bootstrap token (admin.token_file) is the superuser with unit "".
struct Principal {
  std::string name = "admin";
  Role role = Role::kSuperuser;
  std::string unit;  // 12-digit division code; '' for the superuser
  std::int64_t token_id = 0;
};

// A 12-digit division code.
bool valid_unit_code(std::string_view code);
// The code's significant prefix: its level's digits (province 2, city 4, county 6, township 9,
// village 12), e.g. 440305100000 -> 440305100. Shorter input (already a prefix) is returned as is.
std::string scope_prefix(std::string_view code);
// 1 province .. 5 village, from the trailing zeros of a 12-digit code.
int unit_level(std::string_view code);
// The role may be bound to this unit (admins to their level, coordinators to a township, viewers anywhere).
bool role_fits_unit(Role role, std::string_view code);
// Whether `unit` (a code or a prefix) lies within the principal's unit (always true for the superuser).
bool within(const Principal& p, std::string_view unit);
// Whether a resource covering `unit` concerns the principal at all (within it, or above it).
bool overlaps(const Principal& p, std::string_view unit);
// Names, phones and ids of families (identifying=1).
bool may_identify(Role role);
// Token management and the audit log.
bool may_manage_tokens(Role role);
// A principal may create a token with `role` for `unit`.
bool may_grant(const Principal& p, Role role, std::string_view unit);

// How one endpoint is guarded.
enum class Access {
  kAnyRole,     // any valid token (lesson library, clock)
  kSuperuser,   // only the bootstrap token: not scoped by unit (inbox, outbox, imports, ...)
  kScopedRead,  // GET within the caller's unit
  kScopedWrite, // change within the caller's unit; not for viewers
  kAdmins,      // token management and audit: superuser or province/city/county admins
};
// Where the unit of a request is.
enum class UnitParam { kNone, kPrefix, kCode };
// A resource named by the id in the path whose units are looked up before the handler runs.
enum class Resolver { kNone, kGroup, kSchedule, kSurvey, kToken };

struct Rule {
  const char* method;   // "GET", "POST", "PATCH"
  const char* pattern;  // "/api/v1/groups/*": '*' is one path segment
  Access access;
  UnitParam unit_param = UnitParam::kNone;
  const char* param = "unit";  // the query parameter naming the unit
  bool list = false;           // filter the answer's arrays to the caller's unit
  bool body_units = false;     // "unit", "units", "unit_code", "audience.units" in the body
  Resolver resolver = Resolver::kNone;
  bool audit_get = false;      // a GET that is audited (exports)
};

// Every /api/v1 endpoint and its rule (tested one by one in access_test.cpp).
const std::vector<Rule>& rules();
// The rule for a request, or nullptr (then only the superuser may call it).
const Rule* find_rule(std::string_view method, std::string_view path);
// The id segment of a path matched by a rule with a resolver ("/api/v1/groups/12" -> "12").
std::string resolver_id(std::string_view path);

struct Denied {
  http::Status status;
  std::string code;
  std::string message;
};

// The outcome of checking one request.
struct Decision {
  std::optional<Denied> denied;
  const Rule* rule = nullptr;
  // The query parameters to hand the handler (a scoped caller's own unit filled in, 12-digit codes
  // of prefix filters turned into their prefix), in order.
  std::vector<std::pair<std::string, std::string>> params;
  bool params_changed = false;
  std::optional<nlohmann::json> body;  // set when the body was changed (units filled in)
  std::string unit;                    // the unit the request concerns (for the audit log)
  bool audit = false;
};

// Checks a request (method, path, its decoded query parameters, its JSON body if any) for `p`.
Decision decide(const Principal& p, std::string_view method, std::string_view path,
                std::vector<std::pair<std::string, std::string>> params, const nlohmann::json* body);

// Every unit a resource or body names: "unit", "unit_code", "units", "audience.units".
std::vector<std::string> units_of(const nlohmann::json& j);
// Checks that every unit of a resource (looked up for the path's id) lies within the caller's unit.
std::optional<Denied> check_resource(const Principal& p, const nlohmann::json& resource);
// Drops, from each top-level array of `body`, the objects outside the caller's unit (by "unit",
// "unit_code", "code" or overlapping "units"/"audience.units"). Returns how many were dropped.
int filter_list(const Principal& p, nlohmann::json& body);
// Removes secrets ("secret", "token_hash", "secret_hash") from an answer before it goes to the audit log.
void redact(nlohmann::json& j);

// Lockout of peers that present wrong tokens: after `max_failures` within `window_ms`, the peer is
// refused for `lock_ms` (even with a right token). A success clears the peer's count.
class Lockout {
 public:
  Lockout(int max_failures = 10, std::int64_t window_ms = 10 * 60 * 1000, std::int64_t lock_ms = 15 * 60 * 1000)
      : max_failures_(max_failures), window_ms_(window_ms), lock_ms_(lock_ms) {}
  // Milliseconds the peer stays locked out at `now_ms` (0: not locked).
  std::int64_t locked_for(const std::string& peer, std::int64_t now_ms) const;
  // Records a failure; returns true when it locked the peer out.
  bool failure(const std::string& peer, std::int64_t now_ms);
  void success(const std::string& peer);
  std::size_t tracked() const { return peers_.size(); }

 private:
  struct State {
    int failures = 0;
    std::int64_t first_ms = 0;
    std::int64_t locked_until_ms = 0;
  };
  int max_failures_;
  std::int64_t window_ms_;
  std::int64_t lock_ms_;
  std::map<std::string, State> peers_;
};

}  // namespace yuer::admin
