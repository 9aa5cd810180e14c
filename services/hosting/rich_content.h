#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bizrelay/v1/rich_types.pb.h"
#include "google/protobuf/repeated_field.h"
#include "services/hosting/rows.h"

// Message content beyond plain text (locations, contact cards, interactive buttons and lists,
// the user's choice, quoted replies, reactions): the rules it must follow, the plain rendering
// text-only clients see, and the form it is sealed in. Content is checked on its proto form
// because that is the form stored (serialized, inside the sealed body). No database here.
namespace bizrelay::hosting {

// Limits on what a client controls. Chosen after the hosted business APIs clients already
// build for (WhatsApp Cloud API: 3 buttons of 20 characters, 10 list rows of 24, body 1024),
// so content made for one fits the other.
struct RichLimits {
  static constexpr size_t kMaxButtons = 3;
  static constexpr size_t kMaxButtonIdChars = 256;
  static constexpr size_t kMaxButtonTitleChars = 20;
  static constexpr size_t kMaxListSections = 10;
  static constexpr size_t kMaxListRows = 10;
  static constexpr size_t kMaxRowIdChars = 200;
  static constexpr size_t kMaxRowTitleChars = 24;
  static constexpr size_t kMaxRowDescriptionChars = 72;
  static constexpr size_t kMaxSectionTitleChars = 24;
  static constexpr size_t kMaxListButtonChars = 20;
  static constexpr size_t kMaxHeaderChars = 60;
  static constexpr size_t kMaxFooterChars = 60;
  static constexpr size_t kMaxInteractiveBodyChars = 1024;
  static constexpr size_t kMaxLocationNameChars = 256;
  static constexpr size_t kMaxLocationAddressChars = 1024;
  static constexpr size_t kMaxContactCards = 10;
  static constexpr size_t kMaxContactNameChars = 256;
  static constexpr size_t kMaxPhonesPerCard = 10;
  static constexpr size_t kMaxEmailsPerCard = 10;
  static constexpr size_t kMaxPhoneChars = 32;
  static constexpr size_t kMaxEmailChars = 254;
  static constexpr size_t kMaxContactLabelChars = 32;
  // A reaction: one emoji, however many code points its sequence has (family and flag
  // sequences reach about 35 bytes); sealed padded to this size.
  static constexpr size_t kMaxEmojiBytes = 64;
};

// Checks content sent by `from`: INVALID_ARGUMENT, reason INVALID_FIELD, metadata `field` (path
// under `field_prefix`) and `rule` (required, too_long, too_many, duplicate, out_of_range,
// not_allowed, malformed). Interactive content is the business's, a choice the user's
// (not_allowed otherwise). The id of the message a choice answers is only checked for form
// (NOT_FOUND when malformed, as ids are opaque); whether it is offered needs the database.
void CheckContent(const v1::MessageContent& content, Party from);
// Up to 3 reply buttons with unique ids (template quick replies).
void CheckReplyButtons(const google::protobuf::RepeatedPtrField<v1::ReplyButton>& buttons,
                       const std::string& field, bool allow_empty);

// Whether `s` is exactly one emoji: one grapheme made of emoji code points (with variation
// selectors, skin tones, tags, keycaps, a flag's two regional indicators, ZWJ sequences).
bool IsOneEmoji(std::string_view s);
// A reaction's emoji: empty (removal) or one emoji (INVALID_FIELD, rule not_one_emoji).
void CheckReactionEmoji(const std::string& emoji);

// What HostedMessage.text shows for content, so that a client that knows only text still shows
// something sensible: a location's name, address and coordinates, the contacts' names, the
// interactive body, the chosen button's title.
std::string PlainRendering(const v1::MessageContent& content);

// The title of the button or list row `reply_id` that `content` offers; nullopt if it offers
// none by that id (or is not interactive).
std::optional<std::string> OfferedTitle(const v1::MessageContent& content,
                                        const std::string& reply_id);

// The plaintext that is sealed as a message body. A plain text message without a quote is its
// text as is (the form of every row written before rich content existed, and still the form
// of plain text sends, so their cost does not change). Anything else is kRichBodyMarker
// followed by three length-prefixed parts: the text, the serialized v1.MessageContent and the
// quoted message id. The marker's first byte (0xFF) never occurs in UTF-8, and every text body
// is checked to be UTF-8, so the two forms cannot be confused.
inline constexpr std::string_view kRichBodyMarker{"\xFF\x01", 2};

struct BodyParts {
  std::string text;
  std::string content;  // serialized v1.MessageContent; empty for plain text
  std::string reply_to_message_id;
};
std::string EncodeBody(const BodyParts& parts);
// nullopt if a rich body is malformed (never written by this code).
std::optional<BodyParts> DecodeBody(std::string plaintext);

// A reaction's emoji as sealed: padded with NUL bytes to kMaxEmojiBytes, so that every sealed
// reaction has the same length; and back.
std::string PadEmoji(const std::string& emoji);
std::string UnpadEmoji(std::string padded);

}  // namespace bizrelay::hosting
