#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "services/cli/invocation.h"

namespace bizrelay::cli {

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
  std::string export_out;
  std::string send_file;
  std::string send_type;
  std::string reply_file;
  std::string reply_type;
  DownloadFile download;
};

// What the subcommands of one command line share. Their callbacks run during `app.parse` and
// refer to this context, so it and what it refers to must outlive the parse.
struct CommandContext {
  CLI::App& app;
  Values& v;
  Invocation& inv;

  // Makes `request` the command to run.
  void Set(Request request) const;
  // Adds the required BUSINESS_ID positional.
  void AddBusinessId(CLI::App* sub) const;
  // Adds the required CONVERSATION_ID positional.
  void AddConversationId(CLI::App* sub) const;
  // Adds --key. The returned function, for the subcommand's callback, gives the key given or
  // a generated one (then setting Invocation::generated_key).
  std::function<std::string()> AddIdempotencyKey(CLI::App* sub) const;
  // Adds --page-size, --page-token and --all.
  void AddPaging(CLI::App* sub) const;
  // Adds --after, --ack and --count of the event streams.
  void AddEventOptions(CLI::App* sub) const;
};

// Each adds one group of subcommands to `c.app`. Help lists subcommands in the order they are
// added, so ParseCommandLine calls these in the order below.

// register, whoami.
void AddAccountCommands(const CommandContext& c);
// business create|rotate-key|disable|get.
void AddOperatorCommands(const CommandContext& c);
// disclosure, policy, opt-out, export, delete-account.
void AddTermsAndDataCommands(const CommandContext& c);
// start, block, unblock, leave.
void AddChatCommands(const CommandContext& c);
// send, download, location, contact, choose, react.
void AddUserMessageCommands(const CommandContext& c);
// chats, history, listen, read.
void AddChatReadingCommands(const CommandContext& c);
// inbox, reply, buttons, list, business-location, business-contact, business-react.
void AddBusinessMessageCommands(const CommandContext& c);
// template create|list|send.
void AddTemplateCommands(const CommandContext& c);
// webhook add|list|update|remove|test.
void AddWebhookCommands(const CommandContext& c);
// conversations, messages, business-read.
void AddConversationCommands(const CommandContext& c);
// profile update.
void AddProfileCommands(const CommandContext& c);
// personal init|tokens|refill|send|listen.
void AddPersonalCommands(const CommandContext& c);

}  // namespace bizrelay::cli
