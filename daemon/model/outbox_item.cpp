#include "daemon/model/outbox_item.h"

#include <array>
#include <utility>

namespace yuer::model {
namespace {

constexpr std::array<std::pair<OutboxState, std::string_view>, 6> kStates{{
    {OutboxState::kQueued, "queued"},
    {OutboxState::kSending, "sending"},
    {OutboxState::kSent, "sent"},
    {OutboxState::kFailed, "failed"},
    {OutboxState::kExpired, "expired"},
    {OutboxState::kCancelled, "cancelled"},
}};

}  // namespace

std::string_view to_string(OutboxState s) {
  for (const auto& [v, name] : kStates)
    if (v == s) return name;
  return "unknown";
}

bool parse_outbox_state(std::string_view text, OutboxState& out) {
  for (const auto& [v, name] : kStates)
    if (name == text) {
      out = v;
      return true;
    }
  return false;
}

std::string_view to_string(ContentKind k) {
  switch (k) {
    case ContentKind::kText: return "text";
    case ContentKind::kMarkdown: return "markdown";
    case ContentKind::kTemplateCard: return "template_card";
  }
  return "text";
}

bool parse_content_kind(std::string_view text, ContentKind& out) {
  if (text == "text") out = ContentKind::kText;
  else if (text == "markdown") out = ContentKind::kMarkdown;
  else if (text == "template_card") out = ContentKind::kTemplateCard;
  else return false;
  return true;
}

std::string_view to_string(OutcomeKind k) {
  switch (k) {
    case OutcomeKind::kDelivered: return "delivered";
    case OutcomeKind::kRetryAfter: return "retry";
    case OutcomeKind::kRefreshTokenAndRetry: return "refresh_token";
    case OutcomeKind::kPermanent: return "permanent";
    case OutcomeKind::kWaitForEvent: return "wait";
  }
  return "unknown";
}

}  // namespace yuer::model
