#pragma once

#include "bizrelay/v1/business_service.pb.h"
#include "bizrelay/v1/hosting_types.pb.h"
#include "bizrelay/v1/media.pb.h"
#include "bizrelay/v1/user_chat_service.pb.h"
#include "services/hosting/chats.h"

namespace bizrelay::hosting {

// Domain rows to proto messages (one direction only: requests are read field by field in the
// service classes).
void ToProto(const MessageRow& m, v1::HostedMessage* out);
void ToProto(const MediaRow& m, v1::MediaInfo* out);
void ToProto(const ReactionRow& r, v1::MessageReaction* out);
void ToProto(const DisclosureView& d, v1::Disclosure* out);
v1::ChatState ToProto(ChatState s);
void ToProto(const RetentionRule& r, v1::RetentionPolicy* out);
RetentionRule FromProto(const v1::RetentionPolicy& p);
void ToProto(const EventRow& e, v1::StreamEventsResponse* out);
void ToProto(const EventRow& e, v1::StreamInboxResponse* out);

}  // namespace bizrelay::hosting
