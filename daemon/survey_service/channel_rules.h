// The chat channels the survey runs on, as ChannelRules for the shared Consumer (consumer.h).
//   kf  — 微信客服 (parents who are ordinary WeChat users): rows of KfSync (receiver "kf", JSON
//         from kf/sync_msg); enter_session binds the parent to the round its link names; replies
//         are text through route "kf" and expire with the parent's 48 h window.
//   app — the self-built app (members, e.g. village doctors): rows of the app callback (receiver
//         "app", XML); only members invited to a round (Service::invite) are answered; single-choice
//         questions go out as template cards (app_cards.h), clicks are answers, typed text too.
#pragma once

#include "daemon/survey_service/consumer.h"

#include <memory>

namespace yuer::survey_service {

inline constexpr const char* kKfChannel = "kf";    // inbox receiver, conversation channel, outbox route
inline constexpr const char* kAppChannel = "app";  // inbox receiver, conversation channel, outbox route
inline constexpr const char* kAppCardRoute = "app_card";  // outbox route of message/update_template_card
inline constexpr std::int64_t kKfWindowMs = 48LL * 3600 * 1000;

std::unique_ptr<ChannelRules> make_kf_rules();
std::unique_ptr<ChannelRules> make_app_rules();

}  // namespace yuer::survey_service
