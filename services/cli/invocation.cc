#include "services/cli/invocation.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <sstream>

#include "services/cli/subcommands.h"
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
  const CommandContext c{.app = app, .v = v, .inv = inv};
  AddAccountCommands(c);
  AddOperatorCommands(c);
  AddTermsAndDataCommands(c);
  AddChatCommands(c);
  AddUserMessageCommands(c);
  AddChatReadingCommands(c);
  AddBusinessMessageCommands(c);
  AddTemplateCommands(c);
  AddWebhookCommands(c);
  AddConversationCommands(c);
  AddProfileCommands(c);
  AddPersonalCommands(c);

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
