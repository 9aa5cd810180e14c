#include "services/cli/subcommands.h"

#include <utility>

namespace bizrelay::cli {
namespace {

constexpr char kUserGroup[] = "User commands (token: user token)";
constexpr char kBusinessGroup[] = "Business commands (token: business API key)";
constexpr char kOperatorGroup[] = "Operator commands (token: operator token, --operator-addr)";
constexpr char kAccountGroup[] = "Accounts";
constexpr char kPersonalGroup[] = "Person-to-person messages (--personal-addr, --keys-dir)";

// Rich content, both sides: a location and contact cards.
void AddLocationOptions(Values& v, CLI::App* sub) {
  sub->add_option("--lat", v.latitude, "Latitude in degrees (-90 to 90)")->required();
  sub->add_option("--lng", v.longitude, "Longitude in degrees (-180 to 180)")->required();
  sub->add_option("--name", v.place_name, "Name of the place");
  sub->add_option("--address", v.address, "Address");
}

v1::MessageContent LocationContent(const Values& v) {
  v1::MessageContent c;
  auto* l = c.mutable_location();
  l->set_latitude(v.latitude);
  l->set_longitude(v.longitude);
  l->set_name(v.place_name);
  l->set_address(v.address);
  return c;
}

void AddContactOptions(Values& v, CLI::App* sub) {
  sub->add_option("NAME", v.name, "The contact's name")->required();
  sub->add_option("--phone", v.phones, "A phone number (repeatable)");
  sub->add_option("--email", v.emails, "An email address (repeatable)");
}

v1::MessageContent ContactContent(const Values& v) {
  v1::MessageContent c;
  auto* card = c.mutable_contacts()->add_cards();
  card->set_name(v.name);
  for (const auto& p : v.phones) card->add_phones()->set_number(p);
  for (const auto& e : v.emails) card->add_emails()->set_address(e);
  return c;
}

// Buttons and lists: a body with an optional header and footer.
void AddInteractiveOptions(Values& v, CLI::App* sub) {
  sub->add_option("BODY", v.body, "Message body")->required();
  sub->add_option("--header", v.header, "Header line");
  sub->add_option("--footer", v.footer, "Footer line");
}

v1::Interactive* FillInteractive(const Values& v, v1::MessageContent* c) {
  auto* in = c->mutable_interactive();
  in->set_body(v.body);
  in->set_header(v.header);
  in->set_footer(v.footer);
  return in;
}

void AddButtonsOptions(Values& v, CLI::App* sub) {
  AddInteractiveOptions(v, sub);
  sub->add_option("--button", v.buttons, "A button as ID=TITLE (1 to 3)")->required();
}

v1::MessageContent ButtonsContent(const Values& v) {
  v1::MessageContent c;
  auto* in = FillInteractive(v, &c);
  for (auto& b : ParseButtons(v.buttons)) *in->mutable_buttons()->add_buttons() = b;
  return c;
}

void AddListOptions(Values& v, CLI::App* sub) {
  AddInteractiveOptions(v, sub);
  sub->add_option("--button-text", v.button_text, "Label of the button that opens the list")
      ->required();
  sub->add_option("--row", v.rows, "A row as SECTION|ID|TITLE[|DESCRIPTION] (at most 10)")
      ->required();
}

v1::MessageContent ListContent(const Values& v) {
  v1::MessageContent c;
  *FillInteractive(v, &c)->mutable_list() = ParseListRows(v.button_text, v.rows);
  return c;
}

enum class Sender { kUser, kBusiness };

// Adds a command that sends content, maybe quoting an earlier message: a user's to a business
// (SendMessage), or a business's to a user (SendReply).
void AddContentCommand(const CommandContext& c, Sender sender, const char* name, const char* help,
                       void (*add_options)(Values&, CLI::App*),
                       v1::MessageContent (*content)(const Values&)) {
  Values& v = c.v;
  const bool user = sender == Sender::kUser;
  CLI::App* sub = c.app.add_subcommand(name, help);
  sub->group(user ? kUserGroup : kBusinessGroup);
  if (user) {
    c.AddBusinessId(sub);
  } else {
    c.AddConversationId(sub);
  }
  add_options(v, sub);
  sub->add_option(user ? "--reply-to" : "--to", v.reply_to,
                  user ? "Quote this earlier message of the chat"
                       : "Quote this earlier message of the conversation");
  auto key = c.AddIdempotencyKey(sub);
  sub->callback([&, user, key, content] {
    auto fill = [&](auto& r) {
      *r.mutable_content() = content(v);
      r.set_reply_to_message_id(v.reply_to);
      r.set_idempotency_key(key());
    };
    if (user) {
      v1::SendMessageRequest r;
      r.set_business_id(v.business_id);
      fill(r);
      c.Set(r);
    } else {
      v1::SendReplyRequest r;
      r.set_conversation_id(v.conversation_id);
      fill(r);
      c.Set(r);
    }
  });
}

}  // namespace

void CommandContext::Set(Request request) const { inv.request = std::move(request); }

void CommandContext::AddBusinessId(CLI::App* sub) const {
  sub->add_option("BUSINESS_ID", v.business_id, "Business id")->required();
}

void CommandContext::AddConversationId(CLI::App* sub) const {
  sub->add_option("CONVERSATION_ID", v.conversation_id, "Conversation id")->required();
}

std::function<std::string()> CommandContext::AddIdempotencyKey(CLI::App* sub) const {
  CLI::Option* opt = sub->add_option(
      "--key", v.key, "Idempotency key (default: random; reuse it to retry the same message)");
  return [&v = v, &inv = inv, opt]() {
    if (opt->count() > 0) return v.key;
    inv.generated_key = true;
    return NewIdempotencyKey();
  };
}

void CommandContext::AddPaging(CLI::App* sub) const {
  sub->add_option("--page-size", v.page_size, "Items per page (0: the relay's default)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--page-token", v.page_token, "Continue from this page token");
  sub->add_flag("--all", inv.all_pages, "Fetch every page");
}

void CommandContext::AddEventOptions(CLI::App* sub) const {
  sub->add_option("--after", v.after, "Start after this position (0: from the oldest held)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--ack", inv.ack, "Acknowledge each event after printing it");
  sub->add_option("--count", inv.max_events, "Exit after this many events")
      ->check(CLI::PositiveNumber);
}

void AddAccountCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* reg = c.app.add_subcommand("register", "Create a user account; prints its token");
  reg->group(kAccountGroup);
  reg->add_option("NAME", v.name, "Display name")->required();
  reg->callback([&] {
    v1::RegisterUserRequest r;
    r.set_display_name(v.name);
    c.Set(r);
  });
  CLI::App* whoami = c.app.add_subcommand("whoami", "Show the user's profile");
  whoami->group(kAccountGroup);
  whoami->callback([&] { c.Set(v1::GetProfileRequest()); });
}

void AddOperatorCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* business = c.app.add_subcommand("business", "Manage businesses");
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
    c.Set(r);
  });
  CLI::App* rotate =
      business->add_subcommand("rotate-key", "Issue a new API key, revoking the old ones");
  c.AddBusinessId(rotate);
  rotate->callback([&] {
    v1::RotateBusinessKeyRequest r;
    r.set_business_id(v.business_id);
    c.Set(r);
  });
  CLI::App* disable = business->add_subcommand("disable", "Disable a business and its keys");
  c.AddBusinessId(disable);
  disable->callback([&] {
    v1::DisableBusinessRequest r;
    r.set_business_id(v.business_id);
    c.Set(r);
  });
  CLI::App* get = business->add_subcommand("get", "Show a business");
  c.AddBusinessId(get);
  get->callback([&] {
    v1::GetBusinessRequest r;
    r.set_business_id(v.business_id);
    c.Set(r);
  });
}

void AddTermsAndDataCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* disclosure = c.app.add_subcommand("disclosure", "Show a business's terms");
  disclosure->group(kUserGroup);
  c.AddBusinessId(disclosure);
  disclosure->callback([&] {
    v1::GetBusinessDisclosureRequest r;
    r.set_business_id(v.business_id);
    c.Set(r);
  });
  CLI::App* policy = c.app.add_subcommand("policy", "Policy versions: status and acceptance");
  policy->group(kUserGroup);
  policy->require_subcommand(1);
  policy->add_subcommand("status", "Versions, acceptances, limited mode and opt-out")
      ->callback([&] { c.Set(v1::GetPolicyStatusRequest()); });
  CLI::App* accept = policy->add_subcommand("accept", "Accept a policy version");
  accept->add_option("VERSION", v.text, "Policy version")->required();
  accept->callback([&] {
    v1::AcceptPolicyRequest r;
    r.set_version(v.text);
    c.Set(r);
  });
  c.app.add_subcommand("opt-out", "Opt out of infrastructure data sharing, for good")
      ->group(kUserGroup)
      ->callback([&] { c.Set(v1::OptOutOfDataSharingRequest()); });
  CLI::App* export_data =
      c.app.add_subcommand("export", "Download everything held about you into a JSON file");
  export_data->group(kUserGroup);
  export_data->add_option("--out", v.export_out, "File to write (created 0600)")->required();
  export_data->add_option("--keys-dir", c.inv.keys_dir,
                          "Personal key store (to include the mailbox)");
  export_data->callback([&] { c.Set(ExportData{.out = v.export_out}); });
  CLI::App* delete_account = c.app.add_subcommand(
      "delete-account", "Erase your account (and your mailbox, if this machine holds its keys)");
  delete_account->group(kUserGroup);
  delete_account->add_flag("--yes,-y", c.inv.assume_yes, "Required: confirms the erasure");
  delete_account->add_option("--keys-dir", c.inv.keys_dir, "Personal key store to erase too");
  delete_account->callback([&] { c.Set(DeleteAccount()); });
}

void AddChatCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* start =
      c.app.add_subcommand("start", "Show a business's terms and start a chat on them");
  start->group(kUserGroup);
  c.AddBusinessId(start);
  start->add_flag("--yes,-y", c.inv.assume_yes,
                  "Consent without asking (required when stdin is not a terminal)");
  start->callback([&] {
    v1::StartChatRequest r;
    r.set_business_id(v.business_id);
    c.Set(r);
  });
  CLI::App* block = c.app.add_subcommand("block", "Block a business");
  block->group(kUserGroup);
  c.AddBusinessId(block);
  block->callback([&] {
    v1::BlockBusinessRequest r;
    r.set_business_id(v.business_id);
    c.Set(r);
  });
  CLI::App* unblock = c.app.add_subcommand("unblock", "Lift a block");
  unblock->group(kUserGroup);
  c.AddBusinessId(unblock);
  unblock->callback([&] {
    v1::UnblockBusinessRequest r;
    r.set_business_id(v.business_id);
    c.Set(r);
  });
  CLI::App* leave = c.app.add_subcommand("leave", "Leave a chat");
  leave->group(kUserGroup);
  c.AddBusinessId(leave);
  leave->callback([&] {
    v1::LeaveChatRequest r;
    r.set_business_id(v.business_id);
    c.Set(r);
  });
}

void AddUserMessageCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* send = c.app.add_subcommand("send", "Send a message to a business");
  send->group(kUserGroup);
  c.AddBusinessId(send);
  CLI::Option* send_text =
      send->add_option("TEXT", v.text, "Message text (with --file: the caption, may be left out)");
  send->add_option("--file", v.send_file, "Upload this file and send it with TEXT as its caption")
      ->check(CLI::ExistingFile);
  send->add_option("--type", v.send_type, "MIME type of --file (default: read from its bytes)");
  send->add_option("--reply-to", v.reply_to, "Quote this earlier message of the chat");
  auto send_key = c.AddIdempotencyKey(send);
  send->callback([&, send_text, send_key] {
    v1::SendMessageRequest r;
    r.set_business_id(v.business_id);
    r.set_text(v.text);
    r.set_reply_to_message_id(v.reply_to);
    r.set_idempotency_key(send_key());
    if (v.send_file.empty()) {
      if (send_text->count() == 0) throw CLI::RequiredError("TEXT (or --file)");
      c.Set(r);
    } else {
      c.Set(SendFile{.message = r, .path = v.send_file, .mime_type = v.send_type});
    }
  });
  CLI::App* download =
      c.app.add_subcommand("download", "Download the media of a message into a file");
  download->group(kUserGroup);
  download->add_option("MEDIA_ID", v.download.media_id, "Media id (HostedMessage.media)")
      ->required();
  download->add_option("--out", v.download.out, "File to write")->required();
  CLI::Option* offset_opt =
      download
          ->add_option("--offset", v.download.offset, "Start at this byte (the file is cut there)")
          ->check(CLI::NonNegativeNumber);
  download
      ->add_flag("--resume", v.download.resume, "Go on from the end of a partly downloaded --out")
      ->excludes(offset_opt);
  download->add_flag("--business", v.download.as_business,
                     "Download as the business (API key) rather than as the user");
  download->callback([&] { c.Set(v.download); });
  AddContentCommand(c, Sender::kUser, "location", "Send a location to a business",
                    AddLocationOptions, LocationContent);
  AddContentCommand(c, Sender::kUser, "contact", "Send a contact card to a business",
                    AddContactOptions, ContactContent);
  CLI::App* choose = c.app.add_subcommand(
      "choose", "Answer a business's buttons or list: send the chosen button or row id");
  choose->group(kUserGroup);
  c.AddBusinessId(choose);
  choose->add_option("MESSAGE_ID", v.message_id, "The business message answered")->required();
  choose->add_option("REPLY_ID", v.reply_id, "The chosen button or row id")->required();
  auto choose_key = c.AddIdempotencyKey(choose);
  choose->callback([&, choose_key] {
    v1::SendMessageRequest r;
    r.set_business_id(v.business_id);
    auto* choice = r.mutable_content()->mutable_interactive_reply();
    choice->set_message_id(v.message_id);
    choice->set_reply_id(v.reply_id);
    r.set_idempotency_key(choose_key());
    c.Set(r);
  });
  CLI::App* react = c.app.add_subcommand(
      "react", "React to a message with one emoji (without EMOJI: remove your reaction)");
  react->group(kUserGroup);
  c.AddConversationId(react);
  react->add_option("MESSAGE_ID", v.message_id, "Message id")->required();
  react->add_option("EMOJI", v.emoji, "One emoji");
  react->callback([&] {
    v1::ReactToChatMessageRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_message_id(v.message_id);
    r.set_emoji(v.emoji);
    c.Set(r);
  });
}

void AddChatReadingCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* chats = c.app.add_subcommand("chats", "List the user's chats");
  chats->group(kUserGroup);
  c.AddPaging(chats);
  chats->callback([&] {
    v1::ListChatsRequest r;
    r.set_page_size(v.page_size);
    r.set_page_token(v.page_token);
    c.Set(r);
  });
  CLI::App* history = c.app.add_subcommand("history", "Show a conversation, oldest first");
  history->group(kUserGroup);
  c.AddConversationId(history);
  c.AddPaging(history);
  history->callback([&] {
    v1::ListChatMessagesRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_page_size(v.page_size);
    r.set_page_token(v.page_token);
    c.Set(r);
  });
  CLI::App* listen = c.app.add_subcommand("listen", "Print the user's events as they arrive");
  listen->group(kUserGroup);
  c.AddEventOptions(listen);
  listen->callback([&] {
    v1::StreamEventsRequest r;
    r.set_after_position(v.after);
    c.Set(r);
  });
  CLI::App* read = c.app.add_subcommand("read", "Mark business messages read up to MESSAGE_ID");
  read->group(kUserGroup);
  c.AddConversationId(read);
  read->add_option("MESSAGE_ID", v.message_id, "Message id")->required();
  read->callback([&] {
    v1::MarkReadRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_message_id(v.message_id);
    c.Set(r);
  });
}

void AddBusinessMessageCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* inbox = c.app.add_subcommand("inbox", "Print the business's inbox as it arrives");
  inbox->group(kBusinessGroup);
  c.AddEventOptions(inbox);
  inbox->callback([&] {
    v1::StreamInboxRequest r;
    r.set_after_position(v.after);
    c.Set(r);
  });
  CLI::App* reply = c.app.add_subcommand("reply", "Reply to a user with free text");
  reply->group(kBusinessGroup);
  c.AddConversationId(reply);
  CLI::Option* reply_text =
      reply->add_option("TEXT", v.text, "Message text (with --file: the caption, may be left out)");
  reply->add_option("--file", v.reply_file, "Upload this file and send it with TEXT as its caption")
      ->check(CLI::ExistingFile);
  reply->add_option("--type", v.reply_type, "MIME type of --file (default: read from its bytes)");
  reply->add_option("--to", v.reply_to, "Quote this earlier message of the conversation");
  auto reply_key = c.AddIdempotencyKey(reply);
  reply->callback([&, reply_text, reply_key] {
    v1::SendReplyRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_text(v.text);
    r.set_reply_to_message_id(v.reply_to);
    r.set_idempotency_key(reply_key());
    if (v.reply_file.empty()) {
      if (reply_text->count() == 0) throw CLI::RequiredError("TEXT (or --file)");
      c.Set(r);
    } else {
      c.Set(ReplyFile{.reply = r, .path = v.reply_file, .mime_type = v.reply_type});
    }
  });
  AddContentCommand(c, Sender::kBusiness, "buttons",
                    "Send a message with up to 3 reply buttons (inside the service window)",
                    AddButtonsOptions, ButtonsContent);
  AddContentCommand(c, Sender::kBusiness, "list",
                    "Send a message with a list to choose from (inside the service window)",
                    AddListOptions, ListContent);
  AddContentCommand(c, Sender::kBusiness, "business-location", "Send a location to a user",
                    AddLocationOptions, LocationContent);
  AddContentCommand(c, Sender::kBusiness, "business-contact", "Send a contact card to a user",
                    AddContactOptions, ContactContent);
  CLI::App* biz_react = c.app.add_subcommand(
      "business-react", "React to a message with one emoji (without EMOJI: remove the reaction)");
  biz_react->group(kBusinessGroup);
  c.AddConversationId(biz_react);
  biz_react->add_option("MESSAGE_ID", v.message_id, "Message id")->required();
  biz_react->add_option("EMOJI", v.emoji, "One emoji");
  biz_react->callback([&] {
    v1::ReactToMessageRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_message_id(v.message_id);
    r.set_emoji(v.emoji);
    c.Set(r);
  });
}

void AddTemplateCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* tmpl = c.app.add_subcommand("template", "Manage and send template messages");
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
    c.Set(r);
  });
  CLI::App* tmpl_list = tmpl->add_subcommand("list", "List the business's templates");
  tmpl_list->callback([&] { c.Set(v1::ListTemplatesRequest()); });
  CLI::App* tmpl_send = tmpl->add_subcommand("send", "Reply to a user with a template");
  c.AddConversationId(tmpl_send);
  tmpl_send->add_option("NAME", v.name, "Template name")->required();
  tmpl_send->add_option("--param", v.params, "A parameter value as name=value (repeatable)")
      ->allow_extra_args(false);
  auto tmpl_key = c.AddIdempotencyKey(tmpl_send);
  tmpl_send->callback([&, tmpl_key] {
    v1::SendReplyRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_template_name(v.name);
    for (auto& [name, value] : ParseTemplateParameters(v.params)) {
      (*r.mutable_template_parameters())[name] = value;
    }
    r.set_idempotency_key(tmpl_key());
    c.Set(r);
  });
}

void AddWebhookCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* webhook =
      c.app.add_subcommand("webhook", "Manage the HTTPS endpoints that receive the inbox");
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
    c.Set(r);
  });
  CLI::App* hook_list = webhook->add_subcommand("list", "List endpoints and their delivery state");
  hook_list->callback([&] { c.Set(v1::ListWebhookEndpointsRequest()); });
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
    c.Set(r);
  });
  CLI::App* hook_remove = webhook->add_subcommand("remove", "Delete an endpoint");
  hook_remove->add_option("ENDPOINT_ID", v.name, "Endpoint id")->required();
  hook_remove->callback([&] {
    v1::DeleteWebhookEndpointRequest r;
    r.set_endpoint_id(v.name);
    c.Set(r);
  });
  CLI::App* hook_test = webhook->add_subcommand(
      "test", "Run the verification handshake now and wait (up to 15 s) for its outcome");
  hook_test->add_option("ENDPOINT_ID", v.name, "Endpoint id")->required();
  hook_test->callback([&] {
    v1::TestWebhookEndpointRequest r;
    r.set_endpoint_id(v.name);
    c.Set(r);
  });
}

void AddConversationCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* conversations =
      c.app.add_subcommand("conversations", "List conversations, most recently active first");
  conversations->group(kBusinessGroup);
  c.AddPaging(conversations);
  conversations->callback([&] {
    v1::ListConversationsRequest r;
    r.set_page_size(v.page_size);
    r.set_page_token(v.page_token);
    c.Set(r);
  });
  CLI::App* messages = c.app.add_subcommand("messages", "Show a conversation, oldest first");
  messages->group(kBusinessGroup);
  c.AddConversationId(messages);
  c.AddPaging(messages);
  messages->callback([&] {
    v1::ListMessagesRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_page_size(v.page_size);
    r.set_page_token(v.page_token);
    c.Set(r);
  });
  CLI::App* business_read =
      c.app.add_subcommand("business-read", "Mark user messages read up to MESSAGE_ID");
  business_read->group(kBusinessGroup);
  c.AddConversationId(business_read);
  business_read->add_option("MESSAGE_ID", v.message_id, "Message id")->required();
  business_read->callback([&] {
    v1::MarkMessagesReadRequest r;
    r.set_conversation_id(v.conversation_id);
    r.set_message_id(v.message_id);
    c.Set(r);
  });
}

void AddProfileCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* profile = c.app.add_subcommand("profile", "The business's profile and terms");
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
    c.Set(r);
  });
}

void AddPersonalCommands(const CommandContext& c) {
  Values& v = c.v;
  CLI::App* personal =
      c.app.add_subcommand("personal", "End-to-end encrypted messages between people");
  personal->group(kPersonalGroup);
  personal->add_option("--keys-dir", c.inv.keys_dir,
                       "Key store directory (default: $HOME/.bizrelay/personal)");
  CLI::App* personal_init = personal->add_subcommand(
      "init", "Create a mailbox and keys; prints the contact card to give friends (user token)");
  personal_init->add_option("--tokens", v.count, "Send tokens to obtain")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  personal_init->callback([&] { c.Set(PersonalInit{.tokens = v.count}); });
  CLI::App* personal_tokens =
      personal->add_subcommand("tokens", "Obtain more anonymous send tokens (user token)");
  personal_tokens->add_option("--count", v.count, "Send tokens to obtain")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  personal_tokens->callback([&] { c.Set(PersonalTokens{.count = v.count}); });
  CLI::App* personal_refill = personal->add_subcommand(
      "refill", "Publish more one-time prekeys when fewer than 10 are left");
  personal_refill->callback([&] { c.Set(PersonalRefill()); });
  CLI::App* personal_send =
      personal->add_subcommand("send", "Seal a message to a contact and send it");
  personal_send->add_option("CONTACT_CARD", v.contact, "bizrelay-contact:...")->required();
  personal_send->add_option("TEXT", v.text, "Message text")->required();
  personal_send->callback(
      [&] { c.Set(PersonalSend{.contact = ParseContactCard(v.contact), .text = v.text}); });
  CLI::App* personal_listen = personal->add_subcommand(
      "listen", "Print the mailbox's messages as they arrive, acknowledging each");
  personal_listen
      ->add_option("--after", v.after, "Start after this sequence number (0: the oldest held)")
      ->check(CLI::NonNegativeNumber);
  personal_listen->add_option("--count", c.inv.max_events, "Exit after this many messages")
      ->check(CLI::PositiveNumber);
  personal_listen->callback([&] { c.Set(PersonalListen{.after_sequence = v.after}); });
}

}  // namespace bizrelay::cli
