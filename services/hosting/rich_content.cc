#include "services/hosting/rich_content.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <vector>

#include "services/platform/error.h"
#include "services/platform/validate.h"

namespace bizrelay::hosting {
namespace {

Error Bad(const std::string& field, const std::string& rule, const std::string& message) {
  Error base = InvalidField(field, message);
  auto metadata = base.metadata();
  metadata["rule"] = rule;
  return Error(base.code(), base.reason(), base.what(), std::move(metadata));
}

// A text field of content: valid UTF-8 without control characters (newline and tab allowed
// when `multiline`), `min` to `max` code points.
void Text(const std::string& field, const std::string& value, size_t min, size_t max,
          bool multiline = false) {
  size_t chars = 0;
  if (!Utf8Length(value, &chars)) throw Bad(field, "malformed", field + " is not valid UTF-8");
  try {
    CheckText(field, value, 0, SIZE_MAX, multiline);
  } catch (const Error&) {
    throw Bad(field, "malformed", field + " contains a control character");
  }
  if (chars < min) throw Bad(field, "required", field + " is required");
  if (chars > max) {
    throw Bad(field, "too_long",
              field + " must have at most " + std::to_string(max) + " characters");
  }
}

std::string At(const std::string& field, size_t i) { return field + "[" + std::to_string(i) + "]"; }

void CheckLocation(const v1::Location& l, const std::string& f) {
  if (!std::isfinite(l.latitude()) || l.latitude() < -90 || l.latitude() > 90) {
    throw Bad(f + ".latitude", "out_of_range", "latitude must lie within -90 and 90 degrees");
  }
  if (!std::isfinite(l.longitude()) || l.longitude() < -180 || l.longitude() > 180) {
    throw Bad(f + ".longitude", "out_of_range", "longitude must lie within -180 and 180 degrees");
  }
  Text(f + ".name", l.name(), 0, RichLimits::kMaxLocationNameChars);
  Text(f + ".address", l.address(), 0, RichLimits::kMaxLocationAddressChars, true);
}

void CheckPhone(const v1::ContactPhone& p, const std::string& f) {
  Text(f + ".number", p.number(), 1, RichLimits::kMaxPhoneChars);
  int digits = 0;
  for (char c : p.number()) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (std::string_view(" +-().").find(c) == std::string_view::npos) {
      throw Bad(f + ".number", "malformed", "a phone number has digits, spaces and + - ( ) .");
    }
  }
  if (digits < 3) throw Bad(f + ".number", "malformed", "a phone number needs at least 3 digits");
  Text(f + ".label", p.label(), 0, RichLimits::kMaxContactLabelChars);
}

void CheckEmail(const v1::ContactEmail& e, const std::string& f) {
  const std::string& a = e.address();
  Text(f + ".address", a, 1, RichLimits::kMaxEmailChars);
  auto at = a.find('@');
  bool ok = at != std::string::npos && at > 0 && a.find('@', at + 1) == std::string::npos &&
            a.find(' ') == std::string::npos && a.find('.', at + 2) != std::string::npos &&
            a.back() != '.';
  if (!ok) throw Bad(f + ".address", "malformed", "an email address is local@domain");
  Text(f + ".label", e.label(), 0, RichLimits::kMaxContactLabelChars);
}

void CheckContacts(const v1::ContactCards& cards, const std::string& f) {
  const std::string list = f + ".cards";
  if (cards.cards().empty()) throw Bad(list, "required", "at least one contact card is required");
  if (static_cast<size_t>(cards.cards_size()) > RichLimits::kMaxContactCards) {
    throw Bad(list, "too_many", "at most 10 contact cards");
  }
  for (int i = 0; i < cards.cards_size(); ++i) {
    const auto& c = cards.cards(i);
    std::string cf = At(list, i);
    Text(cf + ".name", c.name(), 1, RichLimits::kMaxContactNameChars);
    if (static_cast<size_t>(c.phones_size()) > RichLimits::kMaxPhonesPerCard) {
      throw Bad(cf + ".phones", "too_many", "at most 10 phone numbers per card");
    }
    if (static_cast<size_t>(c.emails_size()) > RichLimits::kMaxEmailsPerCard) {
      throw Bad(cf + ".emails", "too_many", "at most 10 email addresses per card");
    }
    if (c.phones().empty() && c.emails().empty()) {
      throw Bad(cf + ".phones", "required", "a card needs a phone number or an email address");
    }
    for (int k = 0; k < c.phones_size(); ++k) CheckPhone(c.phones(k), At(cf + ".phones", k));
    for (int k = 0; k < c.emails_size(); ++k) CheckEmail(c.emails(k), At(cf + ".emails", k));
  }
}

void CheckList(const v1::ListMenu& list, const std::string& f) {
  Text(f + ".button_text", list.button_text(), 1, RichLimits::kMaxListButtonChars);
  const std::string sections = f + ".sections";
  if (list.sections().empty()) throw Bad(sections, "required", "a list needs a section");
  if (static_cast<size_t>(list.sections_size()) > RichLimits::kMaxListSections) {
    throw Bad(sections, "too_many", "at most 10 sections");
  }
  size_t rows = 0;
  std::set<std::string> ids;
  for (int s = 0; s < list.sections_size(); ++s) {
    const auto& section = list.sections(s);
    std::string sf = At(sections, s);
    Text(sf + ".title", section.title(), list.sections_size() > 1 ? 1 : 0,
         RichLimits::kMaxSectionTitleChars);
    if (section.rows().empty()) throw Bad(sf + ".rows", "required", "a section needs a row");
    for (int r = 0; r < section.rows_size(); ++r) {
      const auto& row = section.rows(r);
      std::string rf = At(sf + ".rows", r);
      if (++rows > RichLimits::kMaxListRows) {
        throw Bad(rf, "too_many", "a list has at most 10 rows in all");
      }
      Text(rf + ".id", row.id(), 1, RichLimits::kMaxRowIdChars);
      if (!ids.insert(row.id()).second) {
        throw Bad(rf + ".id", "duplicate", "row ids must be unique within the message");
      }
      Text(rf + ".title", row.title(), 1, RichLimits::kMaxRowTitleChars);
      Text(rf + ".description", row.description(), 0, RichLimits::kMaxRowDescriptionChars);
    }
  }
}

void CheckInteractive(const v1::Interactive& in, const std::string& f) {
  Text(f + ".header", in.header(), 0, RichLimits::kMaxHeaderChars);
  Text(f + ".body", in.body(), 1, RichLimits::kMaxInteractiveBodyChars, true);
  Text(f + ".footer", in.footer(), 0, RichLimits::kMaxFooterChars);
  switch (in.action_case()) {
    case v1::Interactive::kButtons:
      CheckReplyButtons(in.buttons().buttons(), f + ".buttons.buttons", /*allow_empty=*/false);
      break;
    case v1::Interactive::kList:
      CheckList(in.list(), f + ".list");
      break;
    default:
      throw Bad(f + ".action", "required", "an interactive message needs buttons or a list");
  }
}

// Decodes one code point at `i` (valid UTF-8 already checked); advances `i`.
uint32_t NextCodePoint(std::string_view s, size_t* i) {
  unsigned char c = static_cast<unsigned char>(s[*i]);
  size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3f);
  *i += len;
  return cp;
}

bool IsRegionalIndicator(uint32_t c) { return c >= 0x1F1E6 && c <= 0x1F1FF; }
bool IsKeycapBase(uint32_t c) { return (c >= '0' && c <= '9') || c == '#' || c == '*'; }
bool IsSkinTone(uint32_t c) { return c >= 0x1F3FB && c <= 0x1F3FF; }
bool IsTag(uint32_t c) { return c >= 0xE0020 && c <= 0xE007E; }

// Code points that are emoji by themselves (Unicode's Extended_Pictographic, in ranges).
bool IsPictographic(uint32_t c) {
  struct Range {
    uint32_t lo, hi;
  };
  static constexpr Range kRanges[] = {
      {0x00A9, 0x00A9}, {0x00AE, 0x00AE}, {0x203C, 0x203C}, {0x2049, 0x2049},   {0x2122, 0x2122},
      {0x2139, 0x2139}, {0x2194, 0x2199}, {0x21A9, 0x21AA}, {0x231A, 0x231B},   {0x2328, 0x2328},
      {0x23CF, 0x23CF}, {0x23E9, 0x23F3}, {0x23F8, 0x23FA}, {0x24C2, 0x24C2},   {0x25AA, 0x25AB},
      {0x25B6, 0x25B6}, {0x25C0, 0x25C0}, {0x25FB, 0x25FE}, {0x2600, 0x27BF},   {0x2934, 0x2935},
      {0x2B05, 0x2B07}, {0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55},   {0x3030, 0x3030},
      {0x303D, 0x303D}, {0x3297, 0x3297}, {0x3299, 0x3299}, {0x1F000, 0x1F1E5}, {0x1F200, 0x1FAFF},
  };
  for (const auto& r : kRanges) {
    if (c >= r.lo && c <= r.hi) return true;
  }
  return false;
}

}  // namespace

void CheckReplyButtons(const google::protobuf::RepeatedPtrField<v1::ReplyButton>& buttons,
                       const std::string& field, bool allow_empty) {
  if (buttons.empty() && !allow_empty) throw Bad(field, "required", "at least one button");
  if (static_cast<size_t>(buttons.size()) > RichLimits::kMaxButtons) {
    throw Bad(field, "too_many", "at most 3 buttons");
  }
  std::set<std::string> ids;
  for (int i = 0; i < buttons.size(); ++i) {
    std::string bf = At(field, i);
    Text(bf + ".id", buttons[i].id(), 1, RichLimits::kMaxButtonIdChars);
    if (!ids.insert(buttons[i].id()).second) {
      throw Bad(bf + ".id", "duplicate", "button ids must be unique within the message");
    }
    Text(bf + ".title", buttons[i].title(), 1, RichLimits::kMaxButtonTitleChars);
  }
}

void CheckContent(const v1::MessageContent& content, Party from) {
  const std::string f = "content";
  switch (content.kind_case()) {
    case v1::MessageContent::kLocation:
      CheckLocation(content.location(), f + ".location");
      break;
    case v1::MessageContent::kContacts:
      CheckContacts(content.contacts(), f + ".contacts");
      break;
    case v1::MessageContent::kInteractive:
      if (from != Party::kBusiness) {
        throw Bad(f + ".interactive", "not_allowed", "only a business sends interactive messages");
      }
      CheckInteractive(content.interactive(), f + ".interactive");
      break;
    case v1::MessageContent::kInteractiveReply:
      if (from != Party::kUser) {
        throw Bad(f + ".interactive_reply", "not_allowed", "only a user answers buttons or lists");
      }
      CheckId("message", content.interactive_reply().message_id());
      Text(f + ".interactive_reply.reply_id", content.interactive_reply().reply_id(), 1,
           RichLimits::kMaxButtonIdChars);
      break;
    default:
      throw Bad(f, "required", "content needs one kind");
  }
}

bool IsOneEmoji(std::string_view s) {
  size_t chars = 0;
  if (s.empty() || s.size() > RichLimits::kMaxEmojiBytes || !Utf8Length(s, &chars)) return false;
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < s.size();) cps.push_back(NextCodePoint(s, &i));
  size_t i = 0;
  // element (ZWJ element)*
  while (true) {
    if (i >= cps.size()) return false;
    uint32_t c = cps[i++];
    if (IsRegionalIndicator(c)) {
      // A flag: exactly two regional indicators.
      if (i >= cps.size() || !IsRegionalIndicator(cps[i])) return false;
      ++i;
    } else if (IsKeycapBase(c)) {
      if (i < cps.size() && cps[i] == 0xFE0F) ++i;
      if (i >= cps.size() || cps[i] != 0x20E3) return false;
      ++i;
    } else if (IsPictographic(c)) {
      if (i < cps.size() && cps[i] == 0xFE0F) ++i;
      if (i < cps.size() && IsSkinTone(cps[i])) ++i;
      if (i < cps.size() && IsTag(cps[i])) {
        while (i < cps.size() && IsTag(cps[i])) ++i;
        if (i >= cps.size() || cps[i] != 0xE007F) return false;
        ++i;
      }
    } else {
      return false;
    }
    if (i == cps.size()) return true;
    if (cps[i] != 0x200D) return false;  // a second emoji, or something else
    ++i;
  }
}

void CheckReactionEmoji(const std::string& emoji) {
  if (emoji.empty()) return;
  if (!IsOneEmoji(emoji)) throw Bad("emoji", "not_one_emoji", "a reaction is exactly one emoji");
}

std::string PlainRendering(const v1::MessageContent& content) {
  switch (content.kind_case()) {
    case v1::MessageContent::kLocation: {
      const auto& l = content.location();
      std::string out = "Location:";
      if (!l.name().empty()) out += " " + l.name() + ",";
      if (!l.address().empty()) out += " " + l.address() + ",";
      char coords[64];
      std::snprintf(coords, sizeof coords, " %.6f, %.6f", l.latitude(), l.longitude());
      return out + coords;
    }
    case v1::MessageContent::kContacts: {
      std::string out = "Contact:";
      for (int i = 0; i < content.contacts().cards_size(); ++i) {
        out += (i == 0 ? " " : "; ") + content.contacts().cards(i).name();
      }
      return out;
    }
    case v1::MessageContent::kInteractive:
      return content.interactive().body();
    case v1::MessageContent::kInteractiveReply:
      return content.interactive_reply().title();
    default:
      return "";
  }
}

std::optional<std::string> OfferedTitle(const v1::MessageContent& content,
                                        const std::string& reply_id) {
  if (!content.has_interactive()) return std::nullopt;
  const auto& in = content.interactive();
  if (in.has_buttons()) {
    for (const auto& b : in.buttons().buttons()) {
      if (b.id() == reply_id) return b.title();
    }
  } else if (in.has_list()) {
    for (const auto& s : in.list().sections()) {
      for (const auto& r : s.rows()) {
        if (r.id() == reply_id) return r.title();
      }
    }
  }
  return std::nullopt;
}

namespace {

void PutPart(std::string* out, const std::string& part) {
  uint32_t n = static_cast<uint32_t>(part.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((n >> shift) & 0xff));
  *out += part;
}

bool TakePart(std::string_view* in, std::string* part) {
  if (in->size() < 4) return false;
  uint32_t n = 0;
  for (int k = 0; k < 4; ++k) n = (n << 8) | static_cast<unsigned char>((*in)[k]);
  in->remove_prefix(4);
  if (in->size() < n) return false;
  part->assign(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

}  // namespace

std::string EncodeBody(const BodyParts& parts) {
  if (parts.content.empty() && parts.reply_to_message_id.empty()) return parts.text;
  std::string out(kRichBodyMarker);
  PutPart(&out, parts.text);
  PutPart(&out, parts.content);
  PutPart(&out, parts.reply_to_message_id);
  return out;
}

std::optional<BodyParts> DecodeBody(std::string plaintext) {
  if (!plaintext.starts_with(kRichBodyMarker)) return BodyParts{std::move(plaintext), "", ""};
  std::string_view in(plaintext);
  in.remove_prefix(kRichBodyMarker.size());
  BodyParts parts;
  if (!TakePart(&in, &parts.text) || !TakePart(&in, &parts.content) ||
      !TakePart(&in, &parts.reply_to_message_id) || !in.empty()) {
    return std::nullopt;
  }
  return parts;
}

std::string PadEmoji(const std::string& emoji) {
  std::string out = emoji;
  out.resize(RichLimits::kMaxEmojiBytes, '\0');
  return out;
}

std::string UnpadEmoji(std::string padded) {
  auto end = padded.find('\0');
  if (end != std::string::npos) padded.resize(end);
  return padded;
}

}  // namespace bizrelay::hosting
