#include "services/cli/invocation.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <sstream>

#include "services/platform/token.h"

extern char** environ;

namespace bizrelay::cli {
namespace {

constexpr char kDescription[] =
    "bizrelay: command-line client of the bizrelay business-message relay.\n"
    "The bearer token (--token, --token-file or BIZRELAY_TOKEN) is a user token for user\n"
    "commands, a business API key for business commands, and the operator token for\n"
    "`business ...`. `personal ...` commands talk to the personal relay (--personal-addr) with\n"
    "the keys in --keys-dir and never send the token there; only `personal init` and\n"
    "`personal tokens` use the user token, to obtain anonymous send tokens.\n"
    "Exit status: 0 done, 1 the relay answered with an error or could not be reached,\n"
    "2 usage error.";

constexpr char kUserGroup[] = "User commands (token: user token)";
constexpr char kBusinessGroup[] = "Business commands (token: business API key)";
constexpr char kOperatorGroup[] = "Operator commands (token: operator token, --operator-addr)";
constexpr char kAccountGroup[] = "Accounts";
constexpr char kPersonalGroup[] = "Person-to-person messages (--personal-addr, --keys-dir)";

// Storage for the options of every subcommand; only the chosen subcommand's are read.
struct Values {
  std::string name;
  std::string business_id;
  std::string conversation_id;
  std::string message_id;
  std::string text;
  std::string key;
  std::string body;
  std::string description;
  std::string website;
  std::string data_use;
  std::vector<std::string> params;
  int32_t page_size = 0;
  std::string page_token;
  int64_t after = 0;
  int count = 20;
  std::string contact;
  std::string url;
  std::string kinds;
  bool disabled = false;
  bool enable = false;
  bool disable = false;
  bool rotate_secret = false;
  std::string reply_to;
  std::string reply_id;
  std::string emoji;
  double latitude = 0;
  double longitude = 0;
  std::string place_name;
  std::string address;
  std::vector<std::string> phones;
  std::vector<std::string> emails;
  std::vector<std::string> buttons;
  std::vector<std::string> rows;
  std::string header;
  std::string footer;
  std::string button_text;
};

void SetFromEnv(const Environment& env, const char* name, std::string* value) {
  if (auto it = env.find(name); it != env.end() && !it->second.empty()) *value = it->second;
}

}  // namespace

std::vector<v1::ReplyButton> ParseButtons(const std::vector<std::string>& buttons) {
  std::vector<v1::ReplyButton> out;
  for (const auto& b : buttons) {
    auto eq = b.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--button '" + b + "': expected ID=TITLE");
    }
    v1::ReplyButton button;
    button.set_id(b.substr(0, eq));
    button.set_title(b.substr(eq + 1));
    out.push_back(std::move(button));
  }
  return out;
}

v1::ListMenu ParseListRows(const std::string& button_text, const std::vector<std::string>& rows) {
  v1::ListMenu list;
  list.set_button_text(button_text);
  std::map<std::string, int> section_of;
  for (const auto& spec : rows) {
    std::vector<std::string> parts;
    std::stringstream ss(spec);
    std::string part;
    while (std::getline(ss, part, '|')) parts.push_back(part);
    if (parts.size() < 3 || parts.size() > 4) {
      throw UsageError("--row '" + spec + "': expected SECTION|ID|TITLE[|DESCRIPTION]");
    }
    auto [it, added] = section_of.try_emplace(parts[0], list.sections_size());
    if (added) list.add_sections()->set_title(parts[0]);
    auto* row = list.mutable_sections(it->second)->add_rows();
    row->set_id(parts[1]);
    row->set_title(parts[2]);
    if (parts.size() == 4) row->set_description(parts[3]);
  }
  return list;
}

std::vector<v1::WebhookEventKind> ParseWebhookKinds(const std::string& kinds) {
  std::vector<v1::WebhookEventKind> out;
  std::stringstream ss(kinds);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "message") {
      out.push_back(v1::WEBHOOK_EVENT_KIND_MESSAGE);
    } else if (item == "status") {
      out.push_back(v1::WEBHOOK_EVENT_KIND_STATUS_CHANGE);
    } else if (item == "notice") {
      out.push_back(v1::WEBHOOK_EVENT_KIND_NOTICE);
    } else {
      throw UsageError("--kinds: '" + item + "' is not one of message, status, notice");
    }
  }
  return out;
}

std::map<std::string, std::string> ParseTemplateParameters(const std::vector<std::string>& params) {
  std::map<std::string, std::string> out;
  for (const std::string& p : params) {
    size_t eq = p.find('=');
    if (eq == std::string::npos) {
      throw UsageError("--param " + p + ": expected name=value");
    }
    if (eq == 0) throw UsageError("--param " + p + ": the parameter name is empty");
    std::string name = p.substr(0, eq);
    if (!out.emplace(name, p.substr(eq + 1)).second) {
      throw UsageError("--param " + name + ": given more than once");
    }
  }
  return out;
}

std::string NewIdempotencyKey() { return ToHex(RandomBytes(16)); }

bool IsYes(std::string_view answer) {
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!answer.empty() && blank(answer.front())) answer.remove_prefix(1);
  while (!answer.empty() && blank(answer.back())) answer.remove_suffix(1);
  std::string lower(answer);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lower == "y" || lower == "yes";
}

bool UsesOperatorListener(const Request& request) {
  return std::holds_alternative<v1::CreateBusinessRequest>(request) ||
         std::holds_alternative<v1::GetBusinessRequest>(request) ||
         std::holds_alternative<v1::RotateBusinessKeyRequest>(request) ||
         std::holds_alternative<v1::DisableBusinessRequest>(request);
}

bool IsPersonal(const Request& request) {
  return std::holds_alternative<PersonalInit>(request) ||
         std::holds_alternative<PersonalTokens>(request) ||
         std::holds_alternative<PersonalRefill>(request) ||
         std::holds_alternative<PersonalSend>(request) ||
         std::holds_alternative<PersonalListen>(request);
}

bool NeedsToken(const Request& request) {
  if (IsPersonal(request)) {
    return std::holds_alternative<PersonalInit>(request) ||
           std::holds_alternative<PersonalTokens>(request);
  }
  return !std::holds_alternative<v1::RegisterUserRequest>(request);
}

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with("BIZRELAY_") && !kv.starts_with("HOME=")) continue;
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  return env;
}

ParseResult ParseCommandLine(const std::vector<std::string>& args, const Environment& env) {
  ParseResult result;
  Invocation& inv = result.invocation;
  ConnectionOptions& conn = inv.connection;
  SetFromEnv(env, "BIZRELAY_ADDR", &conn.addr);
  SetFromEnv(env, "BIZRELAY_OPERATOR_ADDR", &conn.operator_addr);
  SetFromEnv(env, "BIZRELAY_PERSONAL_ADDR", &conn.personal_addr);
  std::string env_token;
  SetFromEnv(env, "BIZRELAY_TOKEN", &env_token);

  CLI::App app{kDescription, "bizrelay"};
  app.get_formatter()->column_width(44);
  // Global options are accepted after the subcommand too.
  app.fallthrough();

  app.add_option("--addr", conn.addr, "Public listener host:port [env BIZRELAY_ADDR]")
      ->capture_default_str();
  app.add_option("--operator-addr", conn.operator_addr,
                 "Operator listener host:port [env BIZRELAY_OPERATOR_ADDR]")
      ->capture_default_str();
  app.add_option("--personal-addr", conn.personal_addr,
                 "Personal relay listener host:port [env BIZRELAY_PERSONAL_ADDR]")
      ->capture_default_str();
  CLI::Option* token_opt =
      app.add_option("--token", conn.token, "Bearer token [env BIZRELAY_TOKEN]");
  app.add_option("--token-file", conn.token_file, "Read the bearer token from this file")
      ->check(CLI::ExistingFile)
      ->excludes(token_opt);
  CLI::Option* ca_opt = app.add_option("--ca-file", conn.ca_file,
                                       "PEM CA certificates to verify the relay; enables TLS")
                            ->check(CLI::ExistingFile);
  CLI::Option* cert_opt =
      app.add_option("--cert-file", conn.cert_file, "PEM client certificate (mutual TLS)")
          ->check(CLI::ExistingFile)
          ->needs(ca_opt);
  CLI::Option* key_file_opt =
      app.add_option("--key-file", conn.key_file, "PEM client private key (mutual TLS)")
          ->check(CLI::ExistingFile)
          ->needs(cert_opt);
  cert_opt->needs(key_file_opt);
  bool plaintext = false;  // Only checked against --ca-file: plaintext is the default.
  app.add_flag("--plaintext", plaintext, "Connect without TLS (the default without --ca-file)")
      ->excludes(ca_opt);
  app.add_flag("--json", inv.json, "Print responses as JSON, one object per line");

  Values v;
  auto set = [&inv](auto request) { inv.request = std::move(request); };
  auto business_id = [&v](CLI::App* sub) {
    sub->add_option("BUSINESS_ID", v.business_id, "Business id")->required();
  };
  auto conversation_id = [&v](CLI::App* sub) {
    sub->add_option("CONVERSATION_ID", v.conversation_id, "Conversation id")->required();
  };
  // Adds --key and fills the idempotency key (given or generated) in the callback.
  auto idempotency_key = [&v, &inv](CLI::App* sub) {
    CLI::Option* opt = sub->add_option(
        "--key", v.key, "Idempotency key (default: random; reuse it to retry the same message)");
    return [&v, &inv, opt]() {
      if (opt->count() > 0) return v.key;
      inv.generated_key = true;
      return NewIdempotencyKey();
    };
  };
  auto paging = [&v, &inv](CLI::App* sub) {
    sub->add_option("--page-size", v.page_size, "Items per page (0: the relay's default)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--page-token", v.page_token, "Continue from this page token");
    sub->add_flag("--all", inv.all_pages, "Fetch every page");
  };
  auto events = [&v, &inv](CLI::App* sub) {
    sub->add_option("--after", v.after, "Start after this position (0: from the oldest held)")
        ->check(CLI::NonNegativeNumber);
    sub->add_flag("--ack", inv.ack, "Acknowledge each event after printing it");
    sub->add_option("--count", inv.max_events, "Exit after this many events")
        ->check(CLI::PositiveNumber);
  };

  // Accounts.
  CLI::App* reg = app.add_subcommand("register", "Create a user account; prints its token");
  reg->group(kAccountGroup);
  reg->add_option("NAME", v.name, "Display name")->required();
  reg->callback([&] {
    v1::RegisterUserRequest r;
    r.set_display_name(v.name);
    set(r);
  });
  CLI::App* whoami = app.add_subcommand("whoami", "Show the user's profile");
  whoami->group(kAccountGroup);
  whoami->callback([&] { set(v1::GetProfileRequest()); });

  // Operator.
  CLI::App* business = app.add_subcommand("business", "Manage businesses");
  business->group(kOperatorGroup);
  CLI::App* create = business->add_subcommand("create", "Create a business; prints its API key");
  create->add_option("--name", v.name, "Display name")->required();
  create->add_option("--description", v.description, "Description");
  create->add_option("--website", v.website, "https URL");
  create->callback([&] {
    v1::CreateBusinessRequest r;
    r.mutable_profile()->set_display_name(v.name);
    r.mutable_profile()->set_description(v.description);
    r.mutable_profile()->set_website(v.website);
    set(r);
  });
  CLI::App* rotate =
      business->add_subcommand("rotate-key", "Issue a new API key, revoking the old ones");
  business_id(rotate);
  rotate->callback([&] {
    v1::RotateBusinessKeyRequest r;
    r.set_business_id(v.business_id);
    set(r);
  });
  CLI::App* disable = business->add_subcommand("disable", "Disable a business and its keys");
  business_id(disable);
  disable->callback([&] {
    v1::DisableBusinessRequest r;
    r.set_business_id(v.business_id);
    set(r);
  });
  CLI::App* get = business->add_subcommand("get", "Show a business");
  business_id(get);
  get->callback([&] {
    v1::GetBusinessRequest r;
    r.set_business_id(v.business_id);
    set(r);
  });

  // User.
  CLI::App* disclosure = app.add_subcommand("disclosure", "Show a business's terms");
  disclosure->group(kUserGroup);
  business_id(disclosure);
  disclosure->callback([&] {
    v1::GetBusinessDisclosureRequest r;
    r.set_business_id(v.business_id);
    set(r);
  });
  // Policy and data rights.
  CLI::App* policy = app.add_subcommand("policy", "Policy versions: status and acceptance");
  policy->group(kUserGroup);
  policy->require_subcommand(1);
  policy->add_subcommand("status", "Versions, acceptances, limited mode and opt-out")
      ->callback([&] { set(v1::GetPolicyStatusRequest()); });
  CLI::App* accept = policy->add_subcommand("accept", "Accept a policy version");
  accept->add_option("VERSION", v.text, "Policy version")->required();
  accept->callback([&] {
    v1::AcceptPolicyRequest r;
    r.set_version(v.text);
    set(r);
  });
  app.add_subcommand("opt-out", "Opt out of infrastructure data sharing, for good")
      ->group(kUserGroup)
      ->callback([&] { set(v1::OptOutOfDataSharingRequest()); });
  CLI::App* export_data =
      app.add_subcommand("export", "Download everything held about you into a JSON file");
  export_data->group(kUserGroup);
  std::string export_out;
  export_data->add_option("--out", export_out, "File to write (created 0600)")->required();
  export_data->add_option("--keys-dir", inv.keys_dir,
                          "Personal key store (to include the mailbox)");
  export_data->callback([&] { set(ExportData{.out = export_out}); });
  CLI::App* delete_account = app.add_subcommand(
      "delete-account", "Erase your account (and your mailbox, if this machine holds its keys)");
  delete_account->group(kUserGroup);
  delete_account->add_flag("--yes,-y", inv.assume_yes, "Required: confirms the erasure");
  delete_account->add_option("--keys-dir", inv.keys_dir, "Personal key store to erase too");
  delete_account->callback([&] { set(DeleteAccount()); });

  CLI::App* start = app.add_subcommand("start", "Show a business's terms and start a chat on them");
  start->group(kUserGroup);
  business_id(start);
  start->add_flag("--yes,-y", inv.assume_yes,
                  "Consent without asking (required when stdin is not a terminal)");
  start->callback([&] {
    v1::StartChatRequest r;
    r.set_business_id(v.business_id);
    set(r);
  });
  CLI::App* block = app.add_subcommand("block", "Block a business");
  block->group(kUserGroup);
  business_id(block);
  block->callback([&] {
    v1::BlockBusinessRequest r;
    r.set_business_id(v.business_id);
    set(r);
  });
  CLI::App* unblock = app.add_subcommand("unblock", "Lift a block");
  unblock->group(kUserGroup);
  business_id(unblock);
  unblock->callback([&] {
    v1::UnblockBusinessRequest r;
    r.set_business_id(v.business_id);
    set(r);
  });
  CLI::App* leave = app.add_subcommand("leave", "Leave a chat");
  leave->group(kUserGroup);
  business_id(leave);
  leave->callback([&] {
    v1::LeaveChatRequest r;
    r.set_business_id(v.business_id);
    set(r);
  });
  CLI::App* send = app.add_subcommand("send", "Send a message to a business");
  send->group(kUserGroup);
  business_id(send);
  CLI::Option* send_text =
      send->add_option("TEXT", v.text, "Message text (with --file: the caption, may be left out)");
  std::string send_file, send_type;
  send->add_option("--file", send_file, "Upload this file and send it with TEXT as its caption")
      ->check(CLI::ExistingFile);
  send->add_option("--type", send_type, "MIME type of --file (default: read from its bytes)");
  send->add_option("--reply-to", v.reply_to, "Quote this earlier message of the chat");
  auto send_key = idempotency_key(send);
  send->callback([&, send_key] {
    v1::SendMessageRequest r;
    r.set_business_id(v.business_id);
    r.set_text(v.text);
    r.set_reply_to_message_id(v.reply_to);
    r.set_idempotency_key(send_key());
    if (send_file.empty()) {
      if (send_text->count() == 0) throw CLI::RequiredError("TEXT (or --file)");
      set(r);
    } else {
      set(SendFile{.message = r, .path = send_file, .mime_type = send_type});
    }
  });
  CLI::App* download =
      app.add_subcommand("download", "Download the media of a message into a file");
  download->group(kUserGroup);
  DownloadFile dl;
  download->add_option("MEDIA_ID", dl.media_id, "Media id (HostedMessage.media)")->required();
  download->add_option("--out", dl.out, "File to write")->required();
  CLI::Option* offset_opt =
      download->add_option("--offset", dl.offset, "Start at this byte (the file is cut there)")
          ->check(CLI::NonNegativeNumber);
  download->add_flag("--resume", dl.resume, "Go on from the end of a partly downloaded --out")
      ->excludes(offset_opt);
  download->add_flag("--business", dl.as_business,
                     "Download as the business (API key) rather than as the user");
  download->callback([&] { set(dl); });

  // Rich content, both sides: a location and contact cards.
  auto location_options = [&v](CLI::App* sub) {
    sub->add_option("--lat", v.latitude, "Latitude in degrees (-90 to 90)")->required();
    sub->add_option("--lng", v.longitude, "Longitude in degrees (-180 to 180)")->required();
    sub->add_option("--name", v.place_name, "Name of the place");
    sub->add_option("--address", v.address, "Address");
  };
  auto location_content = [&v] {
    v1::MessageContent c;
    auto* l = c.mutable_location();
    l->set_latitude(v.latitude);
    l->set_longitude(v.longitude);
    l->set_name(v.place_name);
    l->set_address(v.address);
    return c;
  };
  auto contact_options = [&v](CLI::App* sub) {
    sub->add_option("NAME", v.name, "The contact's name")->required();
    sub->add_option("--phone", v.phones, "A phone number (repeatable)");
    sub->add_option("--email", v.emails, "An email address (repeatable)");
  };
  auto contact_content = [&v] {
    v1::MessageContent c;
    auto* card = c.mutable_contacts()->add_cards();
    card->set_name(v.name);
    for (const auto& p : v.phones) card->add_phones()->set_number(p);
    for (const auto& e : v.emails) card->add_emails()->set_address(e);
    return c;
  };
  // A command that sends content, maybe quoting an earlier message: a user's to a business
  // (SendMessage), or a business's to a user (SendReply).
  enum class Sender { kUser, kBusiness };
  auto content_command = [&](Sender sender, const char* name, const char* help,
                             const std::function<void(CLI::App*)>& options,
                             const std::function<v1::MessageContent()>& content) {
    const bool user = sender == Sender::kUser;
    CLI::App* sub = app.add_subcommand(name, help);
    sub->group(user ? kUserGroup : kBusinessGroup);
    if (user) {
      business_id(sub);
    } else {
      conversation_id(sub);
    }
    options(sub);
    sub->add_option(user ? "--reply-to" : "--to", v.reply_to,
                    user ? "Quote this earlier message of the chat"
                         : "Quote this earlier message of the conversation");
    auto key = idempotency_key(sub);
    sub->callback([&, user, key, content] {
      auto fill = [&](auto& r) {
        *r.mutable_content() = content();
        r.set_reply_to_message_id(v.reply_to);
        r.set_idempotency_key(key());
      };
      if (user) {
        v1::SendMessageRequest r;
        r.set_business_id(v.business_id);
        fill(r);
        set(r);
      } else {
        v1::SendReplyRequest r;
        r.set_conversation_id(v.conversation_id);
        fill(r);
        set(r);
      }
    });
  };
  content_command(Sender::kUser, "location", "Send a location to a business", location_options,
                  location_content);
  content_command(Sender::kUser, "contact", "Send a contact card to a business", contact_options,
                  contact_content);
  CLI::App* choose = app.add_subcommand(
      "choose", "Answer a business's buttons or list: send the chosen button or row id");
  choose->group(kUserGroup);
  business_id(choose);
  choose->add_option("MESSAGE_ID", v.message_id, "The business message answered")->required();
  choose->add_option("REPLY_ID", v.reply_id, "The chosen button or row id")->required();
  auto choose_key = idempotency_key(choose);
  choose->callback([&, choose_key] {
    v1::SendMessageRequest r;
    r.set_business_id(v.business_id);
    auto* choice = r.mutable_content()->mutable_interactive_reply();
    choice->set_message_id(v.message_id);
    choice->set_reply_id(v.reply_id);
    r.set_idempotency_key(choose_key());
    set(r);
  });
  CLI::App* react = app.add_subcommand(
      "react", "React to a message with one emoji (without EMOJI: remove your reaction)");
  react->group(kUserGroup);
  conversation_id(react);
  react->add_option("MESSAGE_ID", v.message_id, "Message id")->required();
  react->add_option("EMOJI", v.emoji, "One emoji");
  react->callback([&] {
    v1::ReactToChatMessageRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_message_id(v.message_id);
    r.set_emoji(v.emoji);
    set(r);
  });
  CLI::App* chats = app.add_subcommand("chats", "List the user's chats");
  chats->group(kUserGroup);
  paging(chats);
  chats->callback([&] {
    v1::ListChatsRequest r;
    r.set_page_size(v.page_size);
    r.set_page_token(v.page_token);
    set(r);
  });
  CLI::App* history = app.add_subcommand("history", "Show a conversation, oldest first");
  history->group(kUserGroup);
  conversation_id(history);
  paging(history);
  history->callback([&] {
    v1::ListChatMessagesRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_page_size(v.page_size);
    r.set_page_token(v.page_token);
    set(r);
  });
  CLI::App* listen = app.add_subcommand("listen", "Print the user's events as they arrive");
  listen->group(kUserGroup);
  events(listen);
  listen->callback([&] {
    v1::StreamEventsRequest r;
    r.set_after_position(v.after);
    set(r);
  });
  CLI::App* read = app.add_subcommand("read", "Mark business messages read up to MESSAGE_ID");
  read->group(kUserGroup);
  conversation_id(read);
  read->add_option("MESSAGE_ID", v.message_id, "Message id")->required();
  read->callback([&] {
    v1::MarkReadRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_message_id(v.message_id);
    set(r);
  });

  // Business.
  CLI::App* inbox = app.add_subcommand("inbox", "Print the business's inbox as it arrives");
  inbox->group(kBusinessGroup);
  events(inbox);
  inbox->callback([&] {
    v1::StreamInboxRequest r;
    r.set_after_position(v.after);
    set(r);
  });
  CLI::App* reply = app.add_subcommand("reply", "Reply to a user with free text");
  reply->group(kBusinessGroup);
  conversation_id(reply);
  CLI::Option* reply_text =
      reply->add_option("TEXT", v.text, "Message text (with --file: the caption, may be left out)");
  std::string reply_file, reply_type;
  reply->add_option("--file", reply_file, "Upload this file and send it with TEXT as its caption")
      ->check(CLI::ExistingFile);
  reply->add_option("--type", reply_type, "MIME type of --file (default: read from its bytes)");
  reply->add_option("--to", v.reply_to, "Quote this earlier message of the conversation");
  auto reply_key = idempotency_key(reply);
  reply->callback([&, reply_key] {
    v1::SendReplyRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_text(v.text);
    r.set_reply_to_message_id(v.reply_to);
    r.set_idempotency_key(reply_key());
    if (reply_file.empty()) {
      if (reply_text->count() == 0) throw CLI::RequiredError("TEXT (or --file)");
      set(r);
    } else {
      set(ReplyFile{.reply = r, .path = reply_file, .mime_type = reply_type});
    }
  });
  // Buttons and lists: a body with an optional header and footer.
  auto interactive_options = [&v](CLI::App* sub) {
    sub->add_option("BODY", v.body, "Message body")->required();
    sub->add_option("--header", v.header, "Header line");
    sub->add_option("--footer", v.footer, "Footer line");
  };
  auto interactive = [&v](v1::MessageContent* c) {
    auto* in = c->mutable_interactive();
    in->set_body(v.body);
    in->set_header(v.header);
    in->set_footer(v.footer);
    return in;
  };
  content_command(
      Sender::kBusiness, "buttons",
      "Send a message with up to 3 reply buttons (inside the service window)",
      [&](CLI::App* sub) {
        interactive_options(sub);
        sub->add_option("--button", v.buttons, "A button as ID=TITLE (1 to 3)")->required();
      },
      [&] {
        v1::MessageContent c;
        auto* in = interactive(&c);
        for (auto& b : ParseButtons(v.buttons)) *in->mutable_buttons()->add_buttons() = b;
        return c;
      });
  content_command(
      Sender::kBusiness, "list",
      "Send a message with a list to choose from (inside the service window)",
      [&](CLI::App* sub) {
        interactive_options(sub);
        sub->add_option("--button-text", v.button_text, "Label of the button that opens the list")
            ->required();
        sub->add_option("--row", v.rows, "A row as SECTION|ID|TITLE[|DESCRIPTION] (at most 10)")
            ->required();
      },
      [&] {
        v1::MessageContent c;
        *interactive(&c)->mutable_list() = ParseListRows(v.button_text, v.rows);
        return c;
      });
  content_command(Sender::kBusiness, "business-location", "Send a location to a user",
                  location_options, location_content);
  content_command(Sender::kBusiness, "business-contact", "Send a contact card to a user",
                  contact_options, contact_content);
  CLI::App* biz_react = app.add_subcommand(
      "business-react", "React to a message with one emoji (without EMOJI: remove the reaction)");
  biz_react->group(kBusinessGroup);
  conversation_id(biz_react);
  biz_react->add_option("MESSAGE_ID", v.message_id, "Message id")->required();
  biz_react->add_option("EMOJI", v.emoji, "One emoji");
  biz_react->callback([&] {
    v1::ReactToMessageRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_message_id(v.message_id);
    r.set_emoji(v.emoji);
    set(r);
  });
  CLI::App* tmpl = app.add_subcommand("template", "Manage and send template messages");
  tmpl->group(kBusinessGroup);
  CLI::App* tmpl_create = tmpl->add_subcommand("create", "Register or replace a template");
  tmpl_create->add_option("NAME", v.name, "Template name")->required();
  tmpl_create->add_option("BODY", v.body, "Body with {{parameter}} placeholders")->required();
  tmpl_create->add_option("--button", v.buttons, "A quick-reply button as ID=TITLE (up to 3)");
  tmpl_create->callback([&] {
    v1::CreateTemplateRequest r;
    r.set_name(v.name);
    r.set_body(v.body);
    for (auto& b : ParseButtons(v.buttons)) *r.add_quick_replies() = b;
    set(r);
  });
  CLI::App* tmpl_list = tmpl->add_subcommand("list", "List the business's templates");
  tmpl_list->callback([&] { set(v1::ListTemplatesRequest()); });
  CLI::App* tmpl_send = tmpl->add_subcommand("send", "Reply to a user with a template");
  conversation_id(tmpl_send);
  tmpl_send->add_option("NAME", v.name, "Template name")->required();
  tmpl_send->add_option("--param", v.params, "A parameter value as name=value (repeatable)")
      ->allow_extra_args(false);
  auto tmpl_key = idempotency_key(tmpl_send);
  tmpl_send->callback([&, tmpl_key] {
    v1::SendReplyRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_template_name(v.name);
    for (auto& [name, value] : ParseTemplateParameters(v.params)) {
      (*r.mutable_template_parameters())[name] = value;
    }
    r.set_idempotency_key(tmpl_key());
    set(r);
  });
  CLI::App* webhook =
      app.add_subcommand("webhook", "Manage the HTTPS endpoints that receive the inbox");
  webhook->group(kBusinessGroup);
  CLI::App* hook_add = webhook->add_subcommand(
      "add", "Register an endpoint (prints its signing secret, once); it must echo a challenge");
  hook_add->add_option("URL", v.url, "https URL")->required();
  hook_add->add_option("--kinds", v.kinds, "Event kinds: message,status,notice (default all)");
  hook_add->add_flag("--disabled", v.disabled, "Register it disabled");
  hook_add->callback([&] {
    v1::CreateWebhookEndpointRequest r;
    r.set_url(v.url);
    for (auto k : ParseWebhookKinds(v.kinds)) r.add_event_kinds(k);
    r.set_disabled(v.disabled);
    set(r);
  });
  CLI::App* hook_list = webhook->add_subcommand("list", "List endpoints and their delivery state");
  hook_list->callback([&] { set(v1::ListWebhookEndpointsRequest()); });
  CLI::App* hook_update = webhook->add_subcommand(
      "update", "Change an endpoint's URL, kinds or state, or rotate its signing secret");
  hook_update->add_option("ENDPOINT_ID", v.name, "Endpoint id")->required();
  hook_update->add_option("--url", v.url, "New https URL (verified again)");
  hook_update->add_option("--kinds", v.kinds, "Event kinds: message,status,notice");
  hook_update->add_flag("--enable", v.enable, "Enable (resumes from the oldest event kept)");
  hook_update->add_flag("--disable", v.disable, "Disable");
  hook_update->add_flag("--rotate-secret", v.rotate_secret,
                        "New signing secret (printed once); the old one signs for a while too");
  hook_update->callback([&] {
    if (v.enable && v.disable) throw UsageError("webhook update: --enable or --disable, not both");
    v1::UpdateWebhookEndpointRequest r;
    r.set_endpoint_id(v.name);
    if (!v.url.empty()) r.set_url(v.url);
    if (!v.kinds.empty()) {
      for (auto k : ParseWebhookKinds(v.kinds)) r.mutable_event_kinds()->add_kinds(k);
    }
    if (v.enable || v.disable) r.set_enabled(v.enable);
    r.set_rotate_secret(v.rotate_secret);
    if (v.url.empty() && v.kinds.empty() && !v.enable && !v.disable && !v.rotate_secret) {
      throw UsageError(
          "webhook update: give at least one of --url, --kinds, --enable, --disable, "
          "--rotate-secret");
    }
    set(r);
  });
  CLI::App* hook_remove = webhook->add_subcommand("remove", "Delete an endpoint");
  hook_remove->add_option("ENDPOINT_ID", v.name, "Endpoint id")->required();
  hook_remove->callback([&] {
    v1::DeleteWebhookEndpointRequest r;
    r.set_endpoint_id(v.name);
    set(r);
  });
  CLI::App* hook_test = webhook->add_subcommand(
      "test", "Run the verification handshake now and wait (up to 15 s) for its outcome");
  hook_test->add_option("ENDPOINT_ID", v.name, "Endpoint id")->required();
  hook_test->callback([&] {
    v1::TestWebhookEndpointRequest r;
    r.set_endpoint_id(v.name);
    set(r);
  });
  CLI::App* conversations =
      app.add_subcommand("conversations", "List conversations, most recently active first");
  conversations->group(kBusinessGroup);
  paging(conversations);
  conversations->callback([&] {
    v1::ListConversationsRequest r;
    r.set_page_size(v.page_size);
    r.set_page_token(v.page_token);
    set(r);
  });
  CLI::App* messages = app.add_subcommand("messages", "Show a conversation, oldest first");
  messages->group(kBusinessGroup);
  conversation_id(messages);
  paging(messages);
  messages->callback([&] {
    v1::ListMessagesRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_page_size(v.page_size);
    r.set_page_token(v.page_token);
    set(r);
  });
  CLI::App* business_read =
      app.add_subcommand("business-read", "Mark user messages read up to MESSAGE_ID");
  business_read->group(kBusinessGroup);
  conversation_id(business_read);
  business_read->add_option("MESSAGE_ID", v.message_id, "Message id")->required();
  business_read->callback([&] {
    v1::MarkMessagesReadRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_message_id(v.message_id);
    set(r);
  });
  CLI::App* profile = app.add_subcommand("profile", "The business's profile and terms");
  profile->group(kBusinessGroup);
  CLI::App* update =
      profile->add_subcommand("update", "Change the profile and/or the data-use statement");
  update->add_option("--name", v.name, "Display name");
  update->add_option("--description", v.description, "Description");
  update->add_option("--website", v.website, "https URL");
  update->add_option("--data-use", v.data_use,
                     "Data-use statement (a change notifies every open chat)");
  update->callback([&] {
    v1::UpdateProfileRequest r;
    r.set_display_name(v.name);
    r.set_description(v.description);
    r.set_website(v.website);
    r.set_data_use_statement(v.data_use);
    if (r.ByteSizeLong() == 0) {
      throw UsageError(
          "profile update: give at least one of --name, --description, "
          "--website, --data-use");
    }
    set(r);
  });

  // Personal.
  CLI::App* personal =
      app.add_subcommand("personal", "End-to-end encrypted messages between people");
  personal->group(kPersonalGroup);
  personal->add_option("--keys-dir", inv.keys_dir,
                       "Key store directory (default: $HOME/.bizrelay/personal)");
  CLI::App* personal_init = personal->add_subcommand(
      "init", "Create a mailbox and keys; prints the contact card to give friends (user token)");
  personal_init->add_option("--tokens", v.count, "Send tokens to obtain")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  personal_init->callback([&] { set(PersonalInit{.tokens = v.count}); });
  CLI::App* personal_tokens =
      personal->add_subcommand("tokens", "Obtain more anonymous send tokens (user token)");
  personal_tokens->add_option("--count", v.count, "Send tokens to obtain")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  personal_tokens->callback([&] { set(PersonalTokens{.count = v.count}); });
  CLI::App* personal_refill = personal->add_subcommand(
      "refill", "Publish more one-time prekeys when fewer than 10 are left");
  personal_refill->callback([&] { set(PersonalRefill()); });
  CLI::App* personal_send =
      personal->add_subcommand("send", "Seal a message to a contact and send it");
  personal_send->add_option("CONTACT_CARD", v.contact, "bizrelay-contact:...")->required();
  personal_send->add_option("TEXT", v.text, "Message text")->required();
  personal_send->callback(
      [&] { set(PersonalSend{.contact = ParseContactCard(v.contact), .text = v.text}); });
  CLI::App* personal_listen = personal->add_subcommand(
      "listen", "Print the mailbox's messages as they arrive, acknowledging each");
  personal_listen
      ->add_option("--after", v.after, "Start after this sequence number (0: the oldest held)")
      ->check(CLI::NonNegativeNumber);
  personal_listen->add_option("--count", inv.max_events, "Exit after this many messages")
      ->check(CLI::PositiveNumber);
  personal_listen->callback([&] { set(PersonalListen{.after_sequence = v.after}); });

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    result.outcome = ParseResult::Outcome::kHelp;
    result.message = app.help();
    return result;
  } catch (const CLI::CallForAllHelp&) {
    result.outcome = ParseResult::Outcome::kHelp;
    result.message = app.help("", CLI::AppFormatMode::All);
    return result;
  } catch (const CLI::ParseError& e) {
    result.outcome = ParseResult::Outcome::kUsageError;
    result.message = e.what();
    return result;
  } catch (const UsageError& e) {
    result.outcome = ParseResult::Outcome::kUsageError;
    result.message = e.what();
    return result;
  }
  // The chosen command is the innermost subcommand; a group (business, template, profile)
  // alone is not one.
  const CLI::App* chosen = &app;
  while (!chosen->get_subcommands().empty()) chosen = chosen->get_subcommands().front();
  if (!chosen->get_subcommands({}).empty()) {
    std::string names;
    for (const CLI::App* sub : chosen->get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    result.outcome = ParseResult::Outcome::kUsageError;
    result.message = (chosen == &app ? std::string("a command is required")
                                     : chosen->get_name() + " needs a subcommand") +
                     ": one of " + names;
    return result;
  }
  if (conn.token.empty() && conn.token_file.empty()) conn.token = env_token;
  if (IsPersonal(inv.request) && inv.keys_dir.empty()) {
    auto home = env.find("HOME");
    if (home == env.end() || home->second.empty()) {
      result.outcome = ParseResult::Outcome::kUsageError;
      result.message = "HOME is not set: pass --keys-dir";
      return result;
    }
    inv.keys_dir = home->second + "/.bizrelay/personal";
  }
  return result;
}

}  // namespace bizrelay::cli
