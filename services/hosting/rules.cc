#include "services/hosting/rules.h"

#include <algorithm>

#include "services/platform/error.h"
#include "services/platform/token.h"
#include "services/platform/validate.h"

namespace bizrelay::hosting {
namespace {

constexpr char kTokenTag[] = "p1";
constexpr size_t kMaxTemplateName = 64;

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

bool IsName(const std::string& s) {
  if (s.empty() || s.size() > kMaxTemplateName) return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

Error BadPageToken() { return InvalidField("page_token", "page_token is not valid"); }

// Calls on_text(text) and on_param(name) for the pieces of a template body, left to right.
template <typename OnText, typename OnParam>
void WalkTemplate(const std::string& body, OnText on_text, OnParam on_param) {
  size_t i = 0;
  while (i < body.size()) {
    size_t open = body.find("{{", i);
    if (open == std::string::npos) {
      on_text(body.substr(i));
      return;
    }
    on_text(body.substr(i, open - i));
    size_t close = body.find("}}", open + 2);
    if (close == std::string::npos) throw InvalidField("body", "unclosed {{ in template body");
    std::string name = body.substr(open + 2, close - open - 2);
    if (!IsName(name)) {
      throw InvalidField("body", "template parameter names use a-z, 0-9 and _ (1-64)");
    }
    on_param(name);
    i = close + 2;
  }
}

}  // namespace

int PageSize(int requested, int fallback, int max) {
  if (requested < 0) throw InvalidField("page_size", "page_size must not be negative");
  if (requested == 0) return fallback;
  return std::min(requested, max);
}

std::string EncodePageToken(const std::vector<std::string>& values) {
  std::string raw = kTokenTag;
  for (const auto& v : values) {
    raw += '\n';
    raw += v;
  }
  return Base64UrlEncode(raw);
}

std::vector<std::string> DecodePageToken(const std::string& token, size_t expected_values) {
  std::string raw;
  if (token.size() > 512 || !Base64UrlDecode(token, &raw)) throw BadPageToken();
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t nl = raw.find('\n', start);
    parts.push_back(raw.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  if (parts.size() != expected_values + 1 || parts[0] != kTokenTag) throw BadPageToken();
  parts.erase(parts.begin());
  return parts;
}

void CheckMessageText(const std::string& field, const std::string& text,
                      const HostingOptions& options) {
  CheckText(field, text, 1, options.max_text_chars, /*multiline=*/true);
}

void CheckCaption(const std::string& field, const std::string& text,
                  const HostingOptions& options) {
  CheckText(field, text, 0, options.max_text_chars, /*multiline=*/true);
}

void CheckIdempotencyKey(const std::string& key, const HostingOptions& options) {
  CheckText("idempotency_key", key, 1, options.max_idempotency_key_chars);
}

std::string RequestHash(const std::vector<std::string>& parts) {
  std::string buf;
  for (const auto& p : parts) {
    buf += std::to_string(p.size());
    buf += ':';
    buf += p;
  }
  return Sha256(buf);
}

bool ServiceWindowOpen(std::optional<double> seconds_since_user_message,
                       const HostingOptions& options) {
  if (!seconds_since_user_message) return false;
  return *seconds_since_user_message >= 0 &&
         *seconds_since_user_message <= static_cast<double>(options.service_window.count());
}

TemplateDef ParseTemplate(const std::string& name, const std::string& body,
                          const HostingOptions& options) {
  if (!IsName(name)) throw InvalidField("name", "template names use a-z, 0-9 and _ (1-64)");
  CheckText("body", body, 1, options.max_template_chars, /*multiline=*/true);
  TemplateDef def{name, body, {}};
  WalkTemplate(
      body, [](const std::string&) {},
      [&](const std::string& param) {
        if (std::find(def.parameters.begin(), def.parameters.end(), param) ==
            def.parameters.end()) {
          def.parameters.push_back(param);
        }
      });
  if (def.parameters.size() > options.max_template_params) {
    throw InvalidField("body", "too many template parameters");
  }
  return def;
}

std::string FillTemplate(const TemplateDef& def, const std::map<std::string, std::string>& values,
                         const HostingOptions& options) {
  for (const auto& [k, v] : values) {
    if (std::find(def.parameters.begin(), def.parameters.end(), k) == def.parameters.end()) {
      throw InvalidField("template_parameters", "unknown template parameter '" + k + "'");
    }
    CheckText("template_parameters", v, 0, options.max_text_chars, /*multiline=*/true);
  }
  std::string out;
  WalkTemplate(
      def.body, [&](const std::string& text) { out += text; },
      [&](const std::string& param) {
        auto it = values.find(param);
        if (it == values.end()) {
          throw InvalidField("template_parameters", "missing template parameter '" + param + "'");
        }
        out += it->second;
      });
  CheckMessageText("template_parameters", out, options);
  return out;
}

std::string HumanDuration(int64_t seconds) {
  struct Unit {
    int64_t seconds;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
  for (const auto& u : kUnits) {
    if (seconds >= u.seconds && seconds % u.seconds == 0) {
      int64_t n = seconds / u.seconds;
      return std::to_string(n) + " " + u.name + (n == 1 ? "" : "s");
    }
  }
  return std::to_string(seconds) + " seconds";
}

void CheckLabel(const std::string& field, const std::string& label, bool allow_empty) {
  if (label.empty() && allow_empty) return;
  bool ok = !label.empty() && label.size() <= 32;
  for (char c : label) ok = ok && (IsNameChar(c) || c == '-');
  if (!ok) throw InvalidField(field, "labels use a-z, 0-9, _ and - (1-32 characters)");
}

RetentionRule CheckRetentionRule(RetentionRule rule, const HostingOptions& o) {
  auto check = [&](const std::string& field, int64_t seconds) {
    if (seconds < o.min_lifetime_seconds || seconds > o.max_lifetime_seconds) {
      throw Error(ErrorCode::kInvalidArgument, "RETENTION_OUT_OF_BOUNDS",
                  field + " must be between " + std::to_string(o.min_lifetime_seconds) + " and " +
                      std::to_string(o.max_lifetime_seconds) + " seconds",
                  {{"field", field},
                   {"min_seconds", std::to_string(o.min_lifetime_seconds)},
                   {"max_seconds", std::to_string(o.max_lifetime_seconds)}});
    }
  };
  if (rule.default_lifetime_seconds != 0) {
    check("policy.default_lifetime_seconds", rule.default_lifetime_seconds);
  }
  if (rule.label_lifetimes.size() > o.max_label_rules) {
    throw InvalidField("policy.label_lifetimes", "too many label rules");
  }
  std::sort(rule.label_lifetimes.begin(), rule.label_lifetimes.end());
  for (size_t i = 0; i < rule.label_lifetimes.size(); ++i) {
    CheckLabel("policy.label_lifetimes.label", rule.label_lifetimes[i].first, false);
    check("policy.label_lifetimes.lifetime_seconds", rule.label_lifetimes[i].second);
    if (i > 0 && rule.label_lifetimes[i].first == rule.label_lifetimes[i - 1].first) {
      throw InvalidField("policy.label_lifetimes.label", "a label appears twice");
    }
  }
  return rule;
}

std::string DisclosureSummary(const std::string& business_name, int64_t lifetime_seconds,
                              bool no_storage,
                              const std::vector<std::pair<std::string, int64_t>>& labels,
                              const std::string& data_use_statement) {
  std::string s = "Your chat with " + business_name +
                  " is hosted: messages are stored by this relay on the business's behalf";
  if (no_storage) {
    s += " only until they are delivered";
  } else {
    s += " and kept for " + HumanDuration(lifetime_seconds);
    if (!labels.empty()) {
      s += " (";
      for (size_t i = 0; i < labels.size(); ++i) {
        s += (i ? ", " : "") + labels[i].first +
             " conversations: " + HumanDuration(labels[i].second);
      }
      s += ")";
    }
  }
  s += ". Your personal chats are not affected.";
  if (data_use_statement.empty()) {
    s += " The business has not said how it uses or shares chat data.";
  } else {
    s += " How the business uses and shares chat data, in its own words: " + data_use_statement;
  }
  return s;
}

}  // namespace bizrelay::hosting
